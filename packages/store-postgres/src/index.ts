export { PostgresStore, type PostgresConnection, type PostgresStoreOptions } from './postgres-store.ts';
export { getMigrations, type Migration } from './migrate.ts';
export { createJobsTable, jobs, jqjobsSchema, DEFAULT_SCHEMA, DEFAULT_TABLE, type JobsTable } from './schema.ts';
