import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Autoscaler, InvalidAutoscalerConfigError, loadAutoscalerConfig, runAutoscaler, type AutoscalerConfig } from '../src/index.ts';
import { fakeClock, storeWith } from './helpers.ts';
import { NoopScaler } from '../src/index.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jq-autoscaler-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// A config file cannot import workspace packages from a temp dir, so it builds a minimal store and scaler inline.
const inline = `
const store = { stats: async () => [], detectHungJobs: async () => 0, closed: false, async close() { this.closed = true; } };
const scaler = { countCurrentWorkersForQueue: async () => 0, setCurrentWorkersForQueue: async () => {}, minSecondsToProcessDownScale: () => 5 };
`;

describe('loadAutoscalerConfig', () => {
  it('loads a default export, or a function returning one', async () => {
    const a = join(dir, 'a.mjs');
    await writeFile(a, `${inline}\nexport default { store, scaler, lease: null, queues: { email: { maxConcurrency: 3 } } };`);
    const config = await loadAutoscalerConfig(a);
    expect(config.queues).toEqual({ email: { maxConcurrency: 3 } });
    const b = join(dir, 'b.mjs');
    await writeFile(b, `${inline}\nexport default async () => ({ store, scaler, queues: { sms: { maxConcurrency: 1 } } });`);
    expect((await loadAutoscalerConfig(b)).queues).toEqual({ sms: { maxConcurrency: 1 } });
  });

  it('says clearly what is wrong', async () => {
    await expect(loadAutoscalerConfig(join(dir, 'missing.mjs'))).rejects.toThrow(/file not found/);
    const noDefault = join(dir, 'nodefault.mjs');
    await writeFile(noDefault, 'export const x = 1;');
    await expect(loadAutoscalerConfig(noDefault)).rejects.toThrow(/no default export/);
    const broken = join(dir, 'broken.mjs');
    await writeFile(broken, 'export default {');
    await expect(loadAutoscalerConfig(broken)).rejects.toThrow(InvalidAutoscalerConfigError);
    const noStore = join(dir, 'nostore.mjs');
    await writeFile(noStore, `${inline}\nexport default { scaler, queues: { q: { maxConcurrency: 1 } } };`);
    await expect(loadAutoscalerConfig(noStore)).rejects.toThrow(/"store"/);
    const badQueue = join(dir, 'badqueue.mjs');
    await writeFile(badQueue, `${inline}\nexport default { store, scaler, queues: { q: { maxConcurrency: -1 } } };`);
    await expect(loadAutoscalerConfig(badQueue)).rejects.toThrow(/queues\.q\.maxConcurrency/);
  });
});

describe('runAutoscaler', () => {
  it('runs until aborted, then closes the store and resolves 0', async () => {
    const clock = fakeClock();
    const store = storeWith(clock);
    await store.add('q', 2);
    const scaler = new NoopScaler();
    const controller = new AbortController();
    let started: Autoscaler | null = null;
    const config: AutoscalerConfig = { store, scaler, queues: { q: { maxConcurrency: 4 } }, clock, logger: 'silent', detectHungJobsEverySeconds: 0 };
    const code = runAutoscaler(config, {
      handleSignals: false,
      signal: controller.signal,
      onStart: (a) => {
        started = a;
        a.on('tick', () => controller.abort());
      },
    });
    expect(await code).toBe(0);
    expect(started).not.toBeNull();
    expect(scaler.calls).toEqual([{ queue: 'q', count: 2 }]);
    await expect(store.stats()).rejects.toThrow(/closed/);
  });

  it('stops on SIGTERM', async () => {
    const store = storeWith(fakeClock());
    const config: AutoscalerConfig = { store, scaler: new NoopScaler(), queues: { q: { maxConcurrency: 1 } }, lease: null, logger: 'silent', detectHungJobsEverySeconds: 0 };
    const listeners = process.listenerCount('SIGTERM');
    const code = runAutoscaler(config, { onStart: (a) => a.once('tick', () => process.emit('SIGTERM', 'SIGTERM')) });
    expect(await code).toBe(0);
    expect(process.listenerCount('SIGTERM')).toBe(listeners);
  });

  it('refuses a bad config before starting anything', async () => {
    const store = storeWith(fakeClock());
    await expect(runAutoscaler({ store, scaler: new NoopScaler(), queues: {} })).rejects.toThrow(InvalidAutoscalerConfigError);
    expect(await store.stats()).toEqual([]);
  });
});
