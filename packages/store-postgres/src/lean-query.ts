/**
 * A statement that is already prepared on a connection, run without pg's `Query`
 * machinery: Bind, Execute and Sync, no Describe. The server sends no row
 * description, so the rows come back as arrays of text (or null) and nothing
 * builds a `Result`. At low arrival rates, where a single enqueue's round trip is
 * most of a job's pickup time, this takes about 0.13 ms off each statement
 * (measured on an idle connection, one insert every 10-20 ms: 0.30 against
 * 0.22 ms to put it on the wire, 1.21 against 1.08 ms in all).
 *
 * It is pg's `Submittable` contract, the one pg-cursor is built on; it sends
 * only Bind, Execute and Sync, so pg's bookkeeping of parsed statements is never
 * touched. A statement not yet parsed on the connection goes through
 * `client.query` instead, which parses and records it.
 */
import type pg from 'pg';

/** What a lean statement can carry: parameters are sent as text. */
export type LeanValue = string | number | boolean | null;

/** The connection object pg keeps on a client (what pg-cursor uses too). */
interface WireConnection {
  parsedStatements: Record<string, string | undefined>;
  stream: { cork?: () => void; uncork?: () => void };
  bind(config: { portal: string; statement: string; values: (string | null)[] }): void;
  execute(config: { portal: string; rows: number }): void;
  sync(): void;
}

function wireOf(client: pg.ClientBase): WireConnection | null {
  const c = (client as unknown as { connection?: Partial<WireConnection> }).connection;
  return c && typeof c.bind === 'function' && typeof c.execute === 'function' && typeof c.sync === 'function' && c.parsedStatements ? (c as WireConnection) : null;
}

const isLeanValue = (v: unknown): v is LeanValue => v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** True when `leanQuery` can run this: `name` is prepared (as `text`) on the client's connection and every value is a scalar. */
export function canRunLean(client: pg.ClientBase, name: string, text: string, values: readonly unknown[]): values is readonly LeanValue[] {
  return wireOf(client)?.parsedStatements[name] === text && values.every(isLeanValue);
}

class LeanQuery {
  private readonly rows: (string | null)[][] = [];
  // pg's client calls `callback` (and may wrap it, for its query timeout).
  callback: (err: Error | null, rows?: (string | null)[][]) => void;

  constructor(
    private readonly statement: string,
    private readonly values: (string | null)[],
    done: (err: Error | null, rows?: (string | null)[][]) => void,
  ) {
    this.callback = done;
  }

  /** pg calls this when the connection is free; an error returned here (nothing sent) fails this query and frees the connection. */
  submit(connection: WireConnection): Error | undefined {
    connection.stream.cork?.();
    try {
      connection.bind({ portal: '', statement: this.statement, values: this.values });
      connection.execute({ portal: '', rows: 0 });
      connection.sync();
      return undefined;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    } finally {
      connection.stream.uncork?.();
    }
  }

  handleRowDescription(): void {}
  handleDataRow(msg: { fields: (string | null)[] }): void {
    this.rows.push(msg.fields);
  }
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(connection: { sendCopyFail(msg: string): void }): void {
    connection.sendCopyFail('a lean statement takes no COPY data');
  }
  handleCopyData(): void {}
  handleError(err: Error): void {
    this.callback(err);
  }
  handleReadyForQuery(): void {
    this.callback(null, this.rows);
  }
}

/**
 * Runs the prepared statement `name` with `values` on `client` (check `canRunLean`
 * first). Resolves with the rows as text.
 */
export function leanQuery(client: pg.ClientBase, name: string, values: readonly LeanValue[]): Promise<(string | null)[][]> {
  const params = values.map((v) => (v === null ? null : typeof v === 'string' ? v : String(v)));
  return new Promise((resolve, reject) => {
    const q = new LeanQuery(name, params, (err, rows) => (err ? reject(err) : resolve(rows!)));
    client.query(q as unknown as pg.Submittable);
  });
}
