import { defineConfig } from 'drizzle-kit';

// Generates the shipped SQL under the default names; `migrate()` renames them
// for stores configured with another schema or table (see README).
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/schema.ts',
  out: './drizzle',
  schemaFilter: ['jqjobs'],
  strict: true,
});
