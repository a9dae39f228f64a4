import { InvalidArgumentError } from '@jqjobs/core';
import { closeScope, openScope, type Scope, scopeStorage } from './scope.ts';
import type { FastifyStyleHook, Middleware, ResponseLike, RunOptions } from './types.ts';

/**
 * Opens a scope for the rest of the chain. It ends on the response's `finish`
 * (the last byte was handed to the OS) or `close` (the client went away first),
 * whichever comes first.
 */
export const scopeMiddleware: Middleware = (_req, res, next) => {
  const scope = openScope();
  const end = (): void => closeScope(scope);
  res.once('finish', end);
  res.once('close', end);
  scopeStorage.run(scope, next);
};

export async function runInScope<T>(fn: () => T, options?: RunOptions): Promise<Awaited<T>> {
  if (typeof fn !== 'function') throw new InvalidArgumentError('run expects a function');
  const waitUntil = options?.waitUntil;
  if (waitUntil !== undefined && typeof waitUntil !== 'function') throw new InvalidArgumentError('run: waitUntil must be a function');
  const scope = openScope(waitUntil);
  try {
    return await scopeStorage.run(scope, fn);
  } finally {
    closeScope(scope);
  }
}

/** Scopes of Fastify requests, between `onRequest` and `onResponse`. */
const requestScopes = new WeakMap<object, Scope>();

export const fastifyOnRequest: FastifyStyleHook = (request, reply, done) => {
  const scope = openScope();
  requestScopes.set(request, scope);
  // Fastify does not call onResponse for a request whose client went away.
  const raw = (reply as { raw?: Partial<ResponseLike> } | null)?.raw;
  if (raw && typeof raw.once === 'function') raw.once('close', () => closeScope(scope));
  scopeStorage.run(scope, done);
};

export const fastifyPreHandler: FastifyStyleHook = (request, _reply, done) => {
  const scope = requestScopes.get(request);
  if (scope !== undefined && scope.open) scopeStorage.run(scope, done);
  else done();
};

export const fastifyOnResponse: FastifyStyleHook = (request, _reply, done) => {
  const scope = requestScopes.get(request);
  if (scope !== undefined) {
    requestScopes.delete(request);
    closeScope(scope);
  }
  done();
};
