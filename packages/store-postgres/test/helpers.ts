/**
 * Test databases: every test file gets its own database on the server named by
 * JQ_PG_URL and drops it afterwards. An unreachable server fails the tests.
 */
import type { Clock } from '@jqjobs/core';
import { createTestDatabase, eventually, pgAdmin, PG_URL, sleep, withDatabase, type TestDatabase } from '@jqjobs/test-services';

export { createTestDatabase, eventually, PG_URL, sleep, withDatabase, type TestDatabase };

/** Runs `fn` on a short-lived admin connection to JQ_PG_URL. */
export const admin = pgAdmin;

/** A clock tests move by hand. */
export class FakeClock implements Clock {
  constructor(public t = Date.UTC(2030, 0, 1)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
