/**
 * Test services: a PostgreSQL database of its own per test file (dropped after),
 * and Debian's Chromium driven by playwright-core (never a downloaded browser).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, eventually, PG_URL, sleep, type TestDatabase } from '@jqjobs/test-services';
import { chromium, type Browser } from 'playwright-core';

export { createTestDatabase, eventually, PG_URL, sleep, type TestDatabase };
export const CHROMIUM = process.env.JQ_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-artifacts');

/** Launches Debian's Chromium; a missing binary fails with how to install it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's package with \`apt-get install -y chromium\` (.ci/run does), or point JQ_CHROMIUM at a Chromium binary`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}
