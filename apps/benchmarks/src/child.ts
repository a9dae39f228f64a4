/**
 * One measurement process: runs the given scenarios for one adapter and sends
 * each result to the parent over IPC. A fresh process per measurement keeps
 * heap, JIT state and leftover timers of one queue from touching the next.
 */
import type { AdapterName } from './adapters/types.ts';
import { runMeasurement, type Measurement, type Params, type ScenarioName } from './scenarios.ts';

export interface ChildSpec {
  adapter: AdapterName;
  scenarios: ScenarioName[];
  params: Params;
  redisDb: number;
}

export type ChildMessage = { kind: 'result'; measurement: Measurement };

const spec = JSON.parse(process.argv[2] ?? '{}') as ChildSpec;
if (!process.send) throw new Error('child.ts is started by compare.ts over IPC');

// Libraries report background errors this way; they belong in the log, not in a crash mid-measurement.
process.on('unhandledRejection', (err) => console.error(`[${spec.adapter}] unhandled rejection:`, err));

for (const scenario of spec.scenarios) {
  const measurement = await runMeasurement(spec.adapter, scenario, spec.params, spec.redisDb);
  const msg: ChildMessage = { kind: 'result', measurement };
  await new Promise<void>((resolve) => process.send!(msg, undefined, {}, () => resolve()));
}
// Without the IPC channel nothing of ours keeps the process alive: if it does not exit, an adapter leaked a handle.
process.disconnect();
