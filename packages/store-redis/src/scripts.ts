import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { type ScriptName, SCRIPTS, scriptSource } from './lua.ts';

/** A Redis client or cluster client; the store uses only commands both have. */
export type Client = Redis | Cluster;

/** One argument of a script call. */
export type Arg = string | number | Buffer;

/**
 * ioredis has Buffer-reply variants of every command at run time but does not type
 * these two. (`callBuffer` is typed but breaks under auto-pipelining.)
 */
interface BufferEval {
  evalshaBuffer(sha: string, numKeys: number, ...args: Arg[]): Promise<unknown>;
  evalBuffer(script: string, numKeys: number, ...args: Arg[]): Promise<unknown>;
}

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

  /** Calls a script with KEYS[1] = the store base and `args` as ARGV; replies keep bulk strings as Buffers. */
  async run(client: Client, name: ScriptName, args: readonly Arg[]): Promise<unknown> {
    const s = this.loaded.get(name)!;
    const c = client as unknown as BufferEval;
    try {
      return await c.evalshaBuffer(s.sha, 1, this.base, ...args);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return await c.evalBuffer(s.src, 1, this.base, ...args);
    }
  }
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}
