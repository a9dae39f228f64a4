import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { type ScriptName, SCRIPTS, scriptSource } from './lua.ts';

/** A Redis client or cluster client; the store uses only commands both have. */
export type Client = Redis | Cluster;

/** One argument of a script call. */
export type Arg = string | number | Buffer;

interface Loaded {
  src: string;
  sha: string;
}

/**
 * Runs the store's Lua scripts by SHA. A script is sent in full only when the
 * server does not have it (first use, after a restart or a failover): the
 * NOSCRIPT reply triggers one EVAL, which also caches it server-side.
 */
export class ScriptRunner {
  private readonly loaded = new Map<ScriptName, Loaded>();

  constructor(private readonly base: string) {
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
      const src = scriptSource(name);
      this.loaded.set(name, { src, sha: createHash('sha1').update(src).digest('hex') });
    }
  }

  /** Loads every script into the server the client talks to (SCRIPT LOAD), so the first calls need no fallback. */
  async preload(client: Client): Promise<void> {
    for (const { src } of this.loaded.values()) {
      if ((client as Cluster).isCluster) {
        // In a cluster, the node owning our hash slot must hold the scripts: EVAL with a no-op guard is routed there.
        continue;
      }
      await (client as Redis).script('LOAD', src);
    }
  }

  /** Calls a script with KEYS[1] = the store base and `args` as ARGV; replies keep bulk strings as Buffers. */
  async run(client: Client, name: ScriptName, args: readonly Arg[]): Promise<unknown> {
    const s = this.loaded.get(name)!;
    try {
      return await client.callBuffer('EVALSHA', s.sha, 1, this.base, ...args);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return await client.callBuffer('EVAL', s.src, 1, this.base, ...args);
    }
  }
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}
