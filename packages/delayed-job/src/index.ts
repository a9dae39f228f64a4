export { createDelayed, type Delayed } from './delayed.ts';
export { doLater, flush, middleware, run, onRequest, preHandler, onResponse, getDefaultDelayed } from './default.ts';
export { TaskTimeoutError } from './errors.ts';
export type {
  DelayedOptions,
  DoLaterJobOptions,
  CloseOptions,
  RunOptions,
  TaskInfo,
  TaskKind,
  DropInfo,
  DropReason,
  WaitUntil,
  Middleware,
  ResponseLike,
  FastifyStyleHook,
} from './types.ts';
