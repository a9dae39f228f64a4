import { AsyncLocalStorage } from 'node:async_hooks';
import { defineJob, InvalidArgumentError, InvalidJobOptionsError, type JobStatus, PayloadNotSerializableError, UnknownJobTypeError } from '@jqjobs/core';
import { MemoryStore } from '@jqjobs/store-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { createDelayed, type Delayed, type DelayedOptions, type DropInfo, type TaskInfo } from '../src/index.ts';
import * as mod from '../src/index.ts';
import { deferred } from './helpers.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function instance(options: DelayedOptions = {}): Delayed {
  const d = createDelayed({ logger: 'silent', ...options });
  cleanups.push(() => d.close({ timeoutMs: 1000 }));
  return d;
}

describe('bounded queue', () => {
  it('drops and reports a burst beyond maxQueue instead of holding it', async () => {
    const drops: DropInfo[] = [];
    const d = instance({ maxQueue: 100, onDrop: (info) => drops.push(info) });
    let ran = 0;
    let accepted = 0;
    let maxPending = 0;
    await d.run(() => {
      for (let i = 0; i < 10_000; i++) {
        if (d.doLater(() => ran++)) accepted++;
        maxPending = Math.max(maxPending, d.pending);
      }
    });
    expect(accepted).toBe(100);
    expect(maxPending).toBe(100);
    expect(drops).toHaveLength(9_900);
    expect(drops[0]).toEqual({ kind: 'function', name: 'anonymous', reason: 'queue-full', pending: 100, maxQueue: 100 });
    expect(d.dropped).toBe(9_900);
    await d.flush();
    expect(ran).toBe(100);
    expect(d.pending).toBe(0);
    // Room again once the queue drained.
    expect(d.doLater(() => ran++)).toBe(true);
  });

  it('counts running work against the bound, and a throwing onDrop does not reach the caller', async () => {
    const onDrop = (): void => {
      throw new Error('onDrop failed');
    };
    const d = instance({ maxQueue: 2, outsideScope: 'immediate', onDrop });
    const gate = deferred();
    const started = deferred();
    d.doLater(async () => {
      started.resolve();
      await gate.promise;
    });
    await started.promise;
    expect(d.pending).toBe(1);
    expect(d.doLater(() => {})).toBe(true);
    expect(d.doLater(() => {})).toBe(false);
    gate.resolve();
    await d.flush();
    expect(d.pending).toBe(0);
  });
});

describe('bad input', () => {
  it('rejects a non-function, non-job target with InvalidArgumentError and queues nothing', () => {
    const d = instance();
    for (const bad of [42, null, undefined, {}, [], { name: 'x' }, Symbol('s')]) {
      expect(() => d.doLater(bad as never, {})).toThrow(InvalidArgumentError);
    }
    expect(() => d.doLater('no-such-type-anywhere', {})).toThrow(UnknownJobTypeError);
    expect(() => mod.doLater(7 as never, {})).toThrow(InvalidArgumentError);
    expect(d.pending).toBe(0);
    expect(d.dropped).toBe(0);
  });

  it('rejects bad payloads and options of job types with the core errors', () => {
    const job = defineJob<{ n: unknown }>({ name: 'delayed-test:validate', run: () => {} });
    const d = instance();
    expect(() => d.doLater(job, { n: () => 1 })).toThrow(PayloadNotSerializableError);
    expect(() => d.doLater(job, { n: 1n })).toThrow(PayloadNotSerializableError);
    expect(() => d.doLater(job, { n: 1 }, { maxAttempts: -1 })).toThrow(InvalidJobOptionsError);
    expect(() => d.doLater(job, { n: 1 }, { durable: true })).toThrow(InvalidArgumentError);
    expect(() => d.doLater(job, { n: 1 }, { durable: 'yes' as never })).toThrow(InvalidArgumentError);
    expect(() => d.doLater(job, { n: 1 }, 5 as never)).toThrow(InvalidArgumentError);
    expect(d.pending).toBe(0);
  });

  it('rejects bad options of createDelayed', () => {
    const bad: unknown[] = [
      { concurrency: -1 },
      { concurrency: 0 },
      { concurrency: 1.5 },
      { maxQueue: 0 },
      { taskTimeoutMs: -5 },
      { maxAttempts: 0 },
      { backoff: -1 },
      { onError: 'log' },
      { onDrop: 1 },
      { waitUntil: {} },
      { durableStore: {} },
      { outsideScope: 'later' },
      { concurrrency: 2 },
    ];
    for (const options of bad) expect(() => createDelayed(options as DelayedOptions), JSON.stringify(options)).toThrow(InvalidArgumentError);
  });

  it('rejects a bad close timeout and run without a function', async () => {
    const d = instance();
    await expect(d.close({ timeoutMs: -1 })).rejects.toThrow(InvalidArgumentError);
    await expect(d.run(null as never)).rejects.toThrow(InvalidArgumentError);
    expect(d.doLater(() => {})).toBe(true); // the failed close changed nothing
    await d.flush();
  });
});

describe('flush and close', () => {
  it('flush() waits for everything released, including work that work deferred', async () => {
    const d = instance({ concurrency: 2 });
    const log: string[] = [];
    await d.run(() => {
      for (let i = 0; i < 3; i++) {
        d.doLater(async () => {
          await new Promise((r) => setImmediate(r));
          log.push(`task ${i}`);
          d.doLater(() => log.push(`child ${i}`));
        });
      }
    });
    await d.flush();
    expect(log.sort()).toEqual(['child 0', 'child 1', 'child 2', 'task 0', 'task 1', 'task 2']);
    expect(d.pending).toBe(0);
  });

  it('flush() does not wait for a scope still open', async () => {
    const d = instance();
    const gate = deferred();
    let ran = false;
    const unit = d.run(async () => {
      d.doLater(() => (ran = true));
      await gate.promise;
    });
    await d.flush();
    expect(ran).toBe(false);
    expect(d.pending).toBe(1);
    gate.resolve();
    await unit;
    await d.flush();
    expect(ran).toBe(true);
  });

  it('close() runs work held by open scopes and unscoped work, then refuses new work', async () => {
    const drops: DropInfo[] = [];
    const d = createDelayed({ logger: 'silent', onDrop: (i) => drops.push(i) });
    const ran: string[] = [];
    const gate = deferred();
    const unit = d.run(async () => {
      d.doLater(() => ran.push('scoped'));
      await gate.promise;
      expect(d.doLater(() => ran.push('too late'))).toBe(false);
    });
    d.doLater(() => ran.push('unscoped'));
    expect(await d.close({ timeoutMs: 5000 })).toBe(true);
    expect(ran.sort()).toEqual(['scoped', 'unscoped']);
    gate.resolve();
    await unit;
    expect(drops.map((i) => i.reason)).toEqual(['closed']);
    expect(await d.close()).toBe(true); // idempotent
    await d.flush();
  });
});

describe('scopes and context', () => {
  it('run() holds work until its function settles, then returns its value', async () => {
    const d = instance();
    const log: string[] = [];
    const value = await d.run(async () => {
      d.doLater(() => log.push('work'));
      await new Promise((r) => setImmediate(r));
      log.push('unit done');
      return 42;
    });
    expect(value).toBe(42);
    await d.flush();
    expect(log).toEqual(['unit done', 'work']);
  });

  it('run() also ends the scope when the function throws', async () => {
    const d = instance();
    let ran = false;
    await expect(
      d.run(() => {
        d.doLater(() => (ran = true));
        throw new Error('unit failed');
      }),
    ).rejects.toThrow('unit failed');
    await d.flush();
    expect(ran).toBe(true);
  });

  it('carries AsyncLocalStorage into function tasks and job types', async () => {
    const als = new AsyncLocalStorage<string>();
    const seen: string[] = [];
    const job = defineJob<{ n: number }>({ name: 'delayed-test:als', run: (p) => void seen.push(`job ${p.n} ${als.getStore()}`) });
    const d = instance({ concurrency: 4 });
    await Promise.all(
      ['r1', 'r2', 'r3'].map((id, n) =>
        als.run(id, () =>
          d.run(async () => {
            await new Promise((r) => setImmediate(r));
            d.doLater(() => seen.push(`fn ${als.getStore()}`));
            d.doLater(job, { n });
          }),
        ),
      ),
    );
    await d.flush();
    expect(seen.sort()).toEqual(['fn r1', 'fn r2', 'fn r3', 'job 0 r1', 'job 1 r2', 'job 2 r3']);
  });

  it('keeps arguments by reference', async () => {
    const d = instance();
    const box = { value: 'before' };
    let seen = '';
    await d.run(() => {
      d.doLater((b: { value: string }) => (seen = b.value), box);
      box.value = 'after';
    });
    await d.flush();
    expect(seen).toBe('after');
  });

  it("outsideScope: 'immediate' runs unscoped work without waiting for beforeExit", async () => {
    const d = instance({ outsideScope: 'immediate' });
    const ran = deferred();
    d.doLater(() => ran.resolve());
    await ran.promise;
  });

  it('hands the drain promise to waitUntil (instance and per run)', async () => {
    const calls: string[] = [];
    const promises: Promise<void>[] = [];
    const d = instance({
      waitUntil: (p) => {
        calls.push('instance');
        promises.push(p);
      },
    });
    let ran = 0;
    await d.run(
      () => {
        d.doLater(() => ran++);
        d.doLater(() => ran++);
      },
      { waitUntil: (p) => (calls.push('run'), promises.push(p)) },
    );
    expect(calls).toEqual(['instance', 'run']);
    await Promise.all(promises);
    expect(ran).toBe(2);
    // A scope that deferred nothing asks for nothing.
    await d.run(() => {});
    expect(calls).toHaveLength(2);
  });

  it('bounds concurrency', async () => {
    const d = instance({ concurrency: 2 });
    let running = 0;
    let most = 0;
    await d.run(() => {
      for (let i = 0; i < 10; i++) {
        d.doLater(async () => {
          running++;
          most = Math.max(most, running);
          await new Promise((r) => setImmediate(r));
          running--;
        });
      }
    });
    await d.flush();
    expect(most).toBe(2);
  });
});

describe('deferred jobs are normal jobs', () => {
  it('job types get retries, status hooks and coalescing', async () => {
    const changes: string[] = [];
    let attempts = 0;
    const job = defineJob<{ key: string }>({
      name: 'delayed-test:normal',
      options: { maxAttempts: 2 },
      coalesceId: (p) => `k:${p.key}`,
      run: (p) => {
        attempts++;
        if (attempts === 1) throw new Error(`first attempt of ${p.key} fails`);
      },
      statusDidChange: (j, old: JobStatus) => void changes.push(`${old}->${j.status}`),
    });
    const errors: TaskInfo[] = [];
    const d = instance({ onError: (_e, info) => errors.push(info) });
    await d.run(() => {
      expect(d.doLater(job, { key: 'a' })).toBe(true);
      expect(d.doLater('delayed-test:normal', { key: 'a' })).toBe(true); // by name; coalesces with the first
    });
    await d.flush();
    expect(attempts).toBe(2);
    // BaseStore reports the enqueue after an await, so a worker that claims at once may be reported first.
    expect(changes.filter((c) => c === 'unqueued->queued')).toHaveLength(1);
    expect(changes.filter((c) => c !== 'unqueued->queued')).toEqual(['queued->running', 'running->queued', 'queued->running', 'running->completed']);
    expect(errors).toEqual([{ kind: 'job', name: 'delayed-test:normal', jobId: expect.any(String), attempt: 1, maxAttempts: 2, willRetry: true }]);
    expect(d.pending).toBe(0);
  });

  it('function tasks retry with the instance maxAttempts and backoff', async () => {
    const errors: TaskInfo[] = [];
    const d = instance({ maxAttempts: 3, backoff: 1, onError: (_e, info) => errors.push(info) });
    let calls = 0;
    await d.run(() => {
      d.doLater(function flaky() {
        calls++;
        if (calls < 3) throw new Error(`call ${calls}`);
      });
    });
    await d.flush();
    expect(calls).toBe(3);
    expect(errors.map((e) => [e.name, e.attempt, e.willRetry])).toEqual([
      ['flaky', 1, true],
      ['flaky', 2, true],
    ]);
  });

  it('a job type that times out gets an aborted signal', async () => {
    const signalled = deferred<unknown>();
    const job = defineJob<null>({
      name: 'delayed-test:abort',
      run: (_p, ctx) =>
        new Promise(() => {
          ctx.signal.addEventListener('abort', () => signalled.resolve(ctx.signal.reason));
        }),
    });
    const d = instance({ taskTimeoutMs: 50 });
    await d.run(() => void d.doLater(job, null));
    await d.flush();
    expect(await signalled.promise).toBeInstanceOf(mod.TaskTimeoutError);
  });

  it('a new job type reaches a worker that is already busy', async () => {
    const d = instance({ concurrency: 2 });
    const gate = deferred();
    const first = deferred();
    const log: string[] = [];
    const a = defineJob<null>({
      name: 'delayed-test:type-a',
      run: async () => {
        first.resolve();
        await gate.promise;
        log.push('a');
      },
    });
    const b = defineJob<null>({ name: 'delayed-test:type-b', run: () => void log.push('b') });
    await d.run(() => void d.doLater(a, null));
    const drained = d.flush();
    await first.promise;
    await d.run(() => void d.doLater(b, null));
    gate.resolve();
    await drained;
    await d.flush();
    expect(log.sort()).toEqual(['a', 'b']);
  });

  it('durable: true enqueues into the durable store instead of running here', async () => {
    const durableStore = new MemoryStore({ logger: 'silent' });
    let ranHere = 0;
    const job = defineJob<{ to: string }>({ name: 'delayed-test:durable', run: () => void ranHere++ });
    const d = instance({ durableStore });
    await d.run(() => {
      d.doLater(job, { to: 'a@example.com' }, { durable: true, priority: 5 });
      d.doLater(job, { to: 'b@example.com' });
    });
    // Held until the scope ends, like any deferred work.
    await d.flush();
    const stored = await durableStore.jobs();
    expect(stored.map((j) => [j.type, j.payload, j.priority, j.status])).toEqual([['delayed-test:durable', { to: 'a@example.com' }, 5, 'queued']]);
    expect(ranHere).toBe(1);
    await durableStore.close();
  });

  it('reports a durable store that fails to enqueue', async () => {
    const durableStore = new MemoryStore({ logger: 'silent' });
    await durableStore.close();
    const errors: unknown[] = [];
    const job = defineJob<null>({ name: 'delayed-test:durable-fail', run: () => {} });
    const d = instance({ durableStore, onError: (e) => errors.push(e) });
    await d.run(() => void d.doLater(job, null, { durable: true }));
    await d.flush();
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).name).toBe('StoreClosedError');
  });

  it('a throwing onError is contained', async () => {
    const d = instance({
      onError: () => {
        throw new Error('onError failed');
      },
    });
    let after = false;
    await d.run(() => {
      d.doLater(() => {
        throw new Error('task failed');
      });
      d.doLater(() => (after = true));
    });
    await d.flush();
    expect(after).toBe(true);
  });
});

describe('module-level functions', () => {
  it('doLater, run and flush use a default instance', async () => {
    const log: string[] = [];
    await mod.run(() => {
      expect(mod.doLater((x: string) => log.push(x), 'default')).toBe(true);
      log.push('unit');
    });
    await mod.flush();
    expect(log).toEqual(['unit', 'default']);
    expect(mod.getDefaultDelayed().pending).toBe(0);
  });
});
