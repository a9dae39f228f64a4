export { PostgresStore, type PostgresConnection, type PostgresStoreOptions } from './postgres-store.ts';
export { getMigrations, type Migration } from './migrate.ts';
export { createJobsTable, createOffersTable, jobs, offers, jqjobsSchema, DEFAULT_SCHEMA, DEFAULT_TABLE, type JobsTable } from './schema.ts';
