import { InvalidArgumentError } from '@jqjobs/core';

/**
 * The key layout, written down once. Every key starts with `{<prefix>}`, so all
 * keys of one store hash to the same Redis Cluster slot and every Lua script can
 * touch any of them. A queue name is always the last part of a key, so names
 * containing `:`, `{`, `}` or quotes cannot collide with another key.
 */
export interface KeyLayout {
  /** `{prefix}`: passed as KEYS[1] to every script (routes it in a cluster); scripts derive the rest. */
  base: string;
  /** The queue registry (zset: queue → next delayed due time). */
  queues: string;
  /** The record hash holding job `id`. */
  record(id: string): string;
}

/** Validates a prefix and returns the key layout built on it. */
export function keyLayout(prefix: string): KeyLayout {
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 100 || /[{}]/.test(prefix)) {
    throw new InvalidArgumentError(`prefix must be 1–100 characters without "{" or "}" (it becomes the hash tag), got ${JSON.stringify(prefix)}`);
  }
  const base = `{${prefix}}`;
  return {
    base,
    queues: `${base}:queues`,
    // Records live in small hashes of 100 ids (the id without its last two digits), which Redis stores compactly.
    record: (id) => `${base}:j:${id.length > 2 ? id.slice(0, -2) : '0'}`,
  };
}
