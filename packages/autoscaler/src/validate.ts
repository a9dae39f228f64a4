import { InvalidArgumentError, LIMITS } from '@jqjobs/core';

/** Why `name` is not a usable queue name, or null when it is. Same rule as enqueue, plus no stray whitespace or control characters. */
export function queueNameProblem(name: unknown): string | null {
  if (typeof name !== 'string') return `expected a string, got ${typeof name}`;
  if (name.length === 0) return 'a queue name cannot be empty';
  if (name.length > LIMITS.queueNameLength) return `a queue name has at most ${LIMITS.queueNameLength} characters`;
  if (name.trim() !== name) return `queue name ${JSON.stringify(name)} has leading or trailing whitespace`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return `queue name ${JSON.stringify(name)} contains control characters`;
  return null;
}

/** Throws `InvalidArgumentError` unless `name` is a usable queue name. */
export function assertQueueName(name: unknown, where: string): asserts name is string {
  const problem = queueNameProblem(name);
  if (problem) throw new InvalidArgumentError(`${where}: ${problem}`);
}

/** Throws `InvalidArgumentError` unless `count` is a worker count (an integer ≥ 0). */
export function assertWorkerCount(count: unknown, where: string): asserts count is number {
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
    throw new InvalidArgumentError(`${where}: a worker count must be an integer ≥ 0, got ${String(count)}`);
  }
}

/** A plain object (not an array, not a class instance such as a Map). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
