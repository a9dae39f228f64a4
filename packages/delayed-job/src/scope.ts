import { AsyncLocalStorage } from 'node:async_hooks';
import type { WaitUntil } from './types.ts';

/** What a scope needs from the instance that deferred a task. */
export interface ScopeOwner {
  /** Takes over a task whose scope ended: queue it to run. */
  release(task: HeldTask): void;
  /** Called once per scope end, after its tasks were released, with the scope's own `waitUntil`. */
  afterRelease(scopeWaitUntil: WaitUntil | undefined): void;
}

/** A task as a scope holds it. */
export interface HeldTask {
  readonly owner: ScopeOwner;
}

/**
 * One unit of work (a request, a `run()` call). Scopes are shared by every
 * instance: work deferred through any instance inside a scope opened by any
 * other is held until that scope ends.
 */
export class Scope {
  open = true;
  /** Allocated on the first deferral: most requests defer nothing. */
  held: HeldTask[] | null = null;
  constructor(readonly waitUntil: WaitUntil | undefined) {}
}

export const scopeStorage = new AsyncLocalStorage<Scope>();

/** Scopes not yet ended, so `close()` can take the work they hold. */
export const openScopes = new Set<Scope>();

/** Set once any scope has been opened: deferring outside one is then probably a mistake worth a warning. */
export let scopesSeen = false;

export function openScope(waitUntil?: WaitUntil): Scope {
  scopesSeen = true;
  const scope = new Scope(waitUntil);
  openScopes.add(scope);
  return scope;
}

/** Ends a scope (idempotent) and hands what it holds to the owning instances, in deferral order. */
export function closeScope(scope: Scope): void {
  if (!scope.open) return;
  scope.open = false;
  openScopes.delete(scope);
  const held = scope.held;
  if (held === null) return;
  scope.held = null;
  let first: ScopeOwner | null = null;
  let others: Set<ScopeOwner> | null = null;
  for (const task of held) {
    const owner = task.owner;
    owner.release(task);
    if (first === null) first = owner;
    else if (owner !== first) (others ??= new Set()).add(owner);
  }
  first?.afterRelease(scope.waitUntil);
  if (others) for (const owner of others) owner.afterRelease(scope.waitUntil);
}

/** Removes and returns the tasks of `owner` held by open scopes (for `close()`). */
export function takeHeld(owner: ScopeOwner): HeldTask[] {
  const out: HeldTask[] = [];
  for (const scope of openScopes) {
    if (scope.held === null) continue;
    const keep: HeldTask[] = [];
    for (const task of scope.held) (task.owner === owner ? out : keep).push(task);
    scope.held = keep;
  }
  return out;
}
