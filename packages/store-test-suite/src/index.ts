import type { Store } from '@jqjobs/core';
import type { StoreConformanceOptions } from './harness.ts';
import { claimOrderTests } from './suites/claim.ts';
import { coalescingTests } from './suites/coalesce.ts';
import { enqueueTests } from './suites/enqueue.ts';
import { restartAndHookTests } from './suites/events.ts';
import { hungJobTests } from './suites/hung.ts';
import { lifecycleTests } from './suites/lifecycle.ts';
import { waitAsyncTests } from './suites/wait-async.ts';
import { concurrencyTests } from './suites/workers.ts';

export { TestClock, useKit, eventually, gate, sleep, req, type StoreConformanceOptions, type StoreFactoryContext, type KitContext } from './harness.ts';
export { enqueueTests, claimOrderTests, lifecycleTests, hungJobTests, coalescingTests, waitAsyncTests, restartAndHookTests, concurrencyTests };

/**
 * Runs every conformance concern against a store.
 *
 * @example
 * import { runStoreConformanceTests } from '@jqjobs/store-test-suite';
 * runStoreConformanceTests({ name: 'MyStore', createStore: ({ clock }) => new MyStore({ clock }) });
 */
export function runStoreConformanceTests<S extends Store>(options: StoreConformanceOptions<S>): void {
  enqueueTests(options);
  claimOrderTests(options);
  lifecycleTests(options);
  hungJobTests(options);
  coalescingTests(options);
  waitAsyncTests(options);
  restartAndHookTests(options);
  concurrencyTests(options);
}
