// Needs PostgreSQL (JQ_PG_URL); the test gets its own database, dropped afterwards.
import { createDatabase } from './helpers.ts';
import { scenarioTests } from './scenario-suite.ts';

scenarioTests('postgres', createDatabase);
