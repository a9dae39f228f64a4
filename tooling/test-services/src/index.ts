export { PG_URL, PG_HOW_TO_START, withDatabase, pgAdmin, createTestDatabase, type TestDatabase } from './postgres.ts';
export * from './spawn.ts';
export { sleep, eventually } from './wait.ts';
