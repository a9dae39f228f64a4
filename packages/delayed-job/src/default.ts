import type { JobDefinition } from '@jqjobs/core';
import { type Delayed, DelayedImpl } from './delayed.ts';
import { fastifyOnRequest, fastifyOnResponse, fastifyPreHandler, runInScope, scopeMiddleware } from './hooks.ts';
import type { DoLaterJobOptions, FastifyStyleHook, Middleware, RunOptions } from './types.ts';

let instance: DelayedImpl | null = null;

/** Created on first use, so importing the package starts nothing. */
function defaultInstance(): DelayedImpl {
  instance ??= new DelayedImpl();
  return instance;
}

/** The instance behind the module-level functions (default options), e.g. to `close()` it at shutdown. */
export function getDefaultDelayed(): Delayed {
  return defaultInstance();
}

/**
 * Runs `fn(...args)` once the current unit of work is done (see `Delayed.doLater`).
 * @returns false when the task was dropped.
 */
export function doLater<A extends unknown[]>(fn: (...args: A) => unknown, ...args: A): boolean;
/** Enqueues a job of a defined type once the current unit of work is done (see `Delayed.doLater`). */
export function doLater<P>(jobType: JobDefinition<P>, payload: P, options?: DoLaterJobOptions): boolean;
export function doLater(jobType: string, payload: unknown, options?: DoLaterJobOptions): boolean;
export function doLater(target: unknown, ...rest: unknown[]): boolean {
  return defaultInstance().defer(target, rest);
}

/** Awaits everything pending on the default instance (see `Delayed.flush`). */
export function flush(): Promise<void> {
  return defaultInstance().flush();
}

/** A `(req, res, next)` scope handler for node:http, Express and Connect. Scopes serve every instance. */
export function middleware(): Middleware {
  return scopeMiddleware;
}

/** Runs `fn` in a scope; work it defers starts once `fn` has settled. */
export function run<T>(fn: () => T, options?: RunOptions): Promise<Awaited<T>> {
  return runInScope(fn, options);
}

/** Fastify `onRequest` hook opening the request's scope. */
export const onRequest: FastifyStyleHook = fastifyOnRequest;
/** Fastify `preHandler` hook re-entering the request's scope after body parsing. */
export const preHandler: FastifyStyleHook = fastifyPreHandler;
/** Fastify `onResponse` hook ending the request's scope. */
export const onResponse: FastifyStyleHook = fastifyOnResponse;
