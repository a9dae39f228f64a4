/**
 * One pooled connection a store keeps for its single enqueues.
 *
 * Why: an idle worker's pickup time starts with the enqueue's round trip, and at
 * low arrival rates checking a connection out of `pg.Pool` and back in (its
 * queue, its idle timer, its events) costs about 0.1 ms of the 2 ms target. A
 * pool also closes a connection idle for 10 s, so an application that enqueues
 * less often than that would open a new connection for each job.
 *
 * The connection is taken from the pool on first use and held until `close()`.
 * While a statement is running on it, further statements use the pool. A
 * connection that fails is destroyed and the next statement takes a new one.
 */
import type { Logger } from '@jqjobs/core';
import type pg from 'pg';
import { canRunLean, leanQuery } from './lean-query.ts';

export class DedicatedConnection {
  private client: pg.PoolClient | null = null;
  private acquiring: Promise<pg.PoolClient> | null = null;
  private busy = false;
  private closed = false;
  private readonly onError = (err: Error) => {
    this.logger.warn({ err }, 'the PostgreSQL connection held for enqueues failed; the next enqueue opens another');
    if (this.client) this.drop(this.client, err);
  };

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
  ) {}

  /**
   * Runs `config` on the held connection; null when it is busy or closed (use the pool then).
   * `lean`: once the statement is prepared on the connection, run it with `leanQuery`
   * (rows come back as text, so only for statements whose columns the caller reads as text).
   */
  query(config: pg.QueryArrayConfig, lean = false): Promise<unknown[][]> | null {
    if (this.busy || this.closed) return null;
    this.busy = true;
    return this.run(config, lean);
  }

  /** Gives the connection back to the pool (call once no statement is in flight). */
  close(): void {
    this.closed = true;
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeListener('error', this.onError);
      client.release();
    }
  }

  private async run(config: pg.QueryArrayConfig, lean: boolean): Promise<unknown[][]> {
    let client: pg.PoolClient | null = null;
    try {
      client = this.client ?? (await this.acquire());
      const values = config.values ?? [];
      if (lean && config.name !== undefined && canRunLean(client, config.name, config.text, values)) return await leanQuery(client, config.name, values);
      return (await client.query<unknown[]>(config)).rows;
    } catch (err) {
      // An error from the server (it has a severity) leaves the session usable; anything
      // else (a reset, a timeout) leaves it in an unknown state.
      if (client && !(err instanceof Error && 'severity' in err)) this.drop(client, err instanceof Error ? err : new Error(String(err)));
      throw err;
    } finally {
      this.busy = false;
    }
  }

  private acquire(): Promise<pg.PoolClient> {
    this.acquiring ??= this.pool.connect().then(
      (client) => {
        this.acquiring = null;
        if (this.closed) {
          client.release();
          throw new Error('store closed');
        }
        client.on('error', this.onError);
        this.client = client;
        return client;
      },
      (err: unknown) => {
        this.acquiring = null;
        throw err;
      },
    );
    return this.acquiring;
  }

  private drop(client: pg.PoolClient, err: Error): void {
    if (this.client !== client) return;
    this.client = null;
    client.removeListener('error', this.onError);
    // An error (not `true`) makes the pool destroy the connection instead of reusing it.
    client.release(err);
  }
}
