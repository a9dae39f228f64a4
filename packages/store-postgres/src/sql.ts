/**
 * Every SQL text the store sends. Identifiers are validated and quoted once
 * here; every value is a bound parameter, written `$name` in the templates and
 * numbered by `compile`. Times travel as epoch milliseconds (float8) taken from
 * the store's clock, never from the database's now().
 */
import { createHash } from 'node:crypto';
import { COPY_COLUMNS } from './copy.ts';
import { quoteIdent } from './identifiers.ts';

/** A compiled statement: positional SQL, the parameter names in `$n` order, and a prepared-statement name. */
export interface Sql {
  text: string;
  params: readonly string[];
  name: string;
}

/** Numbers `$name` placeholders in order of first use. */
export function compile(template: string): Sql {
  const params: string[] = [];
  const text = template.replace(/\$([a-z][A-Za-z]*)/g, (_m, name: string) => {
    let i = params.indexOf(name);
    if (i < 0) i = params.push(name) - 1;
    return `$${i + 1}`;
  });
  return { text, params, name: `jq_${createHash('sha1').update(text).digest('hex').slice(0, 20)}` };
}

/** Epoch-milliseconds expression → timestamptz. */
const ts = (expr: string) => `to_timestamp((${expr})::float8 / 1000)`;
/** timestamptz → epoch milliseconds (float8, which pg parses to a number). */
const ms = (col: string) => `date_part('epoch', ${col}) * 1000`;

/** Columns of a job row, in the order `rowToJob` reads them. */
export function jobColumns(a: string): string {
  return [
    `${a}.id`,
    `${a}.type`,
    `${a}.queue_name`,
    `${a}.priority`,
    `${a}.payload::text`,
    `${a}.max_attempts`,
    `${a}.delete_on_complete`,
    `${a}.coalesce_id`,
    `${a}.max_runtime_seconds`,
    `${a}.backoff::text`,
    ms(`${a}.created_at`),
    ms(`${a}.start_at`),
    ms(`${a}.started_at`),
    ms(`${a}.ended_at`),
    `${a}.error_message`,
    `${a}.status`,
    `${a}.attempt_number`,
    `${a}.claim_seq`,
  ].join(', ');
}
export const JOB_COLUMN_COUNT = 18;

/** Insert input, one JSON parameter (see `encodeNewJobs`). */
const INSERT_INPUT = `rows from (json_to_recordset($jobs::json) as (t text, q text, pr int, p text, ma int, doc boolean, c text, mr float8, b json, sa float8)) with ordinality as x(t, q, pr, p, ma, doc, c, mr, b, sa, ord)`;

/** Settle input, one JSON parameter (see `encodeSettles`): id, claim seq, kind, error, delay ms, max attempts. */
const SETTLE_INPUT = `json_to_recordset($settles::json) as s(i bigint, s int, k text, e text, d float8, m int)`;

/** Outcome kinds in settle input: d = completed+deleted, c = completed, w = wait_async, q = retry, f = failed. */
export type SettleKind = 'd' | 'c' | 'w' | 'q' | 'f';

export type ClaimMode = 'none' | 'all' | 'queues';

export interface Statements {
  readonly table: string;
  /** The offers table, quoted. */
  readonly offersTable: string;
  /**
   * Inserts a batch. Without coalesce ids: one row (id) per job, ids ascending in input order.
   * With: one row per input (ord, id, inserted, notify, <existing job's columns when it coalesced>).
   */
  insert(withCoalesce: boolean, notify: boolean, handoff?: boolean): Sql;
  /**
   * Withdraws offers (`$withdraw`), purges long-expired ones (`$purge`) and
   * registers one (`$id`, unless null); rows (offer id, handed job id or null) for the withdrawn offers.
   */
  offer: Sql;
  /** Settles and/or claims in one statement; rows (k, id, status, <job columns>, runAtMs). */
  work(settles: boolean, claim: ClaimMode, notifyRequeue: boolean, limit: number): Sql;
  /** `n` fresh ids, comma-separated, ascending. */
  allocateIds: Sql;
  /** Sends one NOTIFY (for jobs inserted by COPY). */
  notify: Sql;
  /** The COPY statement for big batches (see copy.ts). */
  copy: string;
  byIds: Sql;
  byCoalesceIds: Sql;
  get: Sql;
  getByCoalesceId: Sql;
  extendLeases: Sql;
  release(notify: boolean): Sql;
  restart(notify: boolean): Sql;
  settleWaitAsync(notify: boolean): Sql;
  detectHung(notify: boolean): Sql;
  tryLock: Sql;
  unlock: Sql;
  remove: Sql;
  count: Sql;
  list: Sql;
  stats: Sql;
}

function memo<A extends unknown[]>(build: (...args: A) => string): (...args: A) => Sql {
  const cache = new Map<string, Sql>();
  return (...args: A) => {
    const key = JSON.stringify(args);
    let s = cache.get(key);
    if (!s) cache.set(key, (s = compile(build(...args))));
    return s;
  };
}

export function buildStatements(schema: string, table: string, channel: string): Statements {
  const T = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  const seq = `${quoteIdent(schema)}.${quoteIdent(`${table}_id_seq`)}`;
  const J = jobColumns('j');
  const now = ts('$now');
  const nulls = ', null'.repeat(JOB_COLUMN_COUNT);

  // One NOTIFY per statement, from an uncorrelated scalar subquery (evaluated
  // once, and only if some row qualifies). Payload: [[queue, count,
  // earliestRunAtMs], …], or '*' when that would not fit NOTIFY's 8000 bytes.
  const announce = (rows: string, where: string) =>
    `(select json_agg(json_build_array(g.q, g.n, g.t)) from (select queue_name as q, count(*) as n, min(${ms('run_at')}) as t from ${rows} where ${where} group by queue_name) g having count(*) > 0)`;
  const notifyFrom = (rows: string, where = 'true') =>
    `(select pg_notify('${channel}', case when octet_length(p) < 7900 then p else '*' end) from (select ${announce(rows, where)}::text as p) pn where p is not null)::text`;

  // Hand-off (see README): the oldest open offer that takes the candidate job's
  // queue ($hq), locked so no other statement can use it.
  const O = `${quoteIdent(schema)}.${quoteIdent(`${table}_offers`)}`;
  const pickOffer =
    `o as materialized (select id, worker_id, lease_ms from ${O} where job_id is null and deadline > ${now} ` +
    `and (queues is null or $hq::text = any(queues)) ` +
    // A dead process's offer: nobody holds its key any more, so a shared try-lock gets it (until this
    // transaction ends) and the offer is skipped. A live owner holds the key exclusively.
    `and (lock_key is null or not pg_try_advisory_xact_lock_shared(lock_key)) ` +
    `order by created_at limit 1 for update skip locked)`;
  // The handed row, as rowToJob reads it (ids as text), for the notification.
  const handRow = (a: string) =>
    `json_build_array(${jobColumns(a).replace(`${a}.id,`, `${a}.id::text,`)})`;
  // The one NOTIFY of a statement that may have handed a job over ('running' row in `ins`):
  // {"h": [offer id, <job columns>], "a": <announcements of the other jobs>}, or, when
  // that would not fit NOTIFY's 8000 bytes, {"h": [offer id, job id], "a": "*"}.
  const handNote = (rest: string) =>
    `(select case when octet_length(hp.p) < 7900 then hp.p else json_build_object('h', json_build_array(hp.o, hp.i), 'a', '*')::text end from ` +
    `(select json_build_object('h', json_build_array(o.id, i.hj), 'a', coalesce(${rest}, '[]'::json))::text as p, o.id as o, i.id::text as i ` +
    `from ins i cross join o where i.status = 'running') hp)`;
  const markOffer = `u as (update ${O} f set job_id = i.id from ins i, o where i.status = 'running' and f.id = o.id)`;

  // The outcome of a settle, shared by worker settles and wait-async settles.
  const applyOutcome =
    `status = case s.k when 'c' then 'completed' when 'w' then 'wait_async' when 'q' then 'queued' else 'failed' end, ` +
    `ended_at = case when s.k in ('c', 'f') then ${now} end, ` +
    `error_message = case when s.k in ('q', 'f') then s.e end, ` +
    `max_attempts = coalesce(s.m, j.max_attempts), ` +
    `start_at = case when s.k = 'q' then ${ts('$now::float8 + s.d')} else j.start_at end, ` +
    `run_at = case when s.k = 'q' then ${ts('$now::float8 + s.d')} else j.run_at end, ` +
    `lease_until = null`;

  // Result rows (k, id, st, <job columns>, rt): 'c' a claimed job (rt = its run time, for ordering), 'd' a deleted id,
  // 'u' an updated id and its new status, 'n' the notify row. The claim branch
  // comes first so UNION takes its column types from real columns, not nulls.
  // The claim's LIMIT is written into the text (a validated integer, one cached
  // statement per value): with a parameter there, PostgreSQL's generic plan assumes
  // a tenth of the table is wanted, so it keeps re-planning every execution instead.
  const work = memo((settles: boolean, claim: ClaimMode, notifyRequeue: boolean, limit: number) => {
    if (!Number.isInteger(limit) || limit < 0) throw new Error(`claim limit must be an integer, got ${limit}`);
    const ctes: string[] = [];
    const parts: string[] = [];
    if (claim !== 'none') {
      // The claim index's key order is the claim order. Named queues are taken one
      // by one (each stops after `limit` due rows; the queue name is tested inside
      // the index, or a per-queue index is used when one exists), then the best
      // across them.
      const pick =
        claim === 'all'
          ? `select id from ${T} where status = 'queued' and run_at <= ${now} order by priority desc, run_at, id limit ${limit} for update skip locked`
          : `select x.id from unnest($queues::text[]) q(name) cross join lateral (select id, priority, run_at from ${T} ` +
            `where status = 'queued' and queue_name = q.name and run_at <= ${now} order by priority desc, run_at, id limit ${limit} for update skip locked) x ` +
            `order by x.priority desc, x.run_at, x.id limit ${limit}`;
      ctes.push(
        `c as (update ${T} j set status = 'running', attempt_number = j.attempt_number + 1, claim_seq = j.claim_seq + 1, ` +
          `started_at = ${now}, ended_at = null, error_message = null, worker_id = $worker::text, lease_until = ${ts('$now::float8 + $lease::float8')} ` +
          `from (${pick}) n where j.id = n.id returning ${J}, ${ms('j.run_at')} as rt)`,
      );
      parts.push(`select 'c' as k, null::bigint as id, null::text as st, c.* from c`);
    }
    if (settles) {
      ctes.push(`s as materialized (select * from ${SETTLE_INPUT})`);
      ctes.push(`del as (delete from ${T} j using s where s.k = 'd' and j.id = s.i and j.claim_seq = s.s and j.status = 'running' returning j.id)`);
      ctes.push(
        `upd as (update ${T} j set ${applyOutcome} ` +
          `from s where s.k <> 'd' and j.id = s.i and j.claim_seq = s.s and j.status = 'running' returning j.id, j.status, j.queue_name, j.run_at)`,
      );
      parts.push(`select 'd' as k, id, null::text as st${nulls}, null::float8 as rt from del`);
      parts.push(`select 'u', id, status${nulls}, null from upd`);
      if (notifyRequeue) parts.push(`select 'n', null, ${notifyFrom('upd', `status = 'queued'`)}${nulls}, null`);
    }
    return `with ${ctes.join(', ')} ${parts.join(' union all ')}`;
  });

  const insertCols = `type, queue_name, priority, payload, max_attempts, delete_on_complete, coalesce_id, max_runtime_seconds, backoff, created_at, start_at, run_at, status`;
  const insertValues = `x.t, x.q, x.pr, x.p::json, x.ma, x.doc, x.c, x.mr, x.b, ${now}, coalesce(${ts('x.sa')}, ${now}), coalesce(${ts('x.sa')}, ${now})`;
  // With a hand-off, the candidate row ($hand, joined to the offer `o` when there is
  // one) is inserted exactly as the claim in `work` leaves a row it takes.
  const handCols = `${insertCols}, attempt_number, claim_seq, worker_id, started_at, lease_until`;
  const handValues =
    `${insertValues}, case when o.id is null then 'queued' else 'running' end, case when o.id is null then 0 else 1 end, case when o.id is null then 0 else 1 end, ` +
    `o.worker_id, case when o.id is not null then ${now} end, case when o.id is not null then ${ts('$now::float8 + o.lease_ms')} end`;
  const handReturning = `case when n.status = 'running' then ${handRow('n')} end as hj`;

  const insert = memo((withCoalesce: boolean, notify: boolean, handoff = false) => {
    if (handoff && !notify) throw new Error('a hand-off needs NOTIFY');
    if (!withCoalesce) {
      // Every row is inserted, in input order (ids ascend with it); the NOTIFY payload is computed by the caller.
      if (!handoff) {
        const ins = `insert into ${T} (${insertCols}) select ${insertValues}, 'queued' from ${INSERT_INPUT} order by x.ord returning id`;
        return notify ? `with ins as (${ins}) select id, (select pg_notify('${channel}', $note::text))::text from ins` : ins;
      }
      return (
        `with ${pickOffer}, ins as (insert into ${T} as n (${handCols}) select ${handValues} from ${INSERT_INPUT} left join o on x.ord = $hand::bigint ` +
        `order by x.ord returning n.id, n.status, ${handReturning}), ${markOffer} ` +
        `select id, (select pg_notify('${channel}', coalesce(${handNote('$rest::json')}, $note::text)))::text from ins`
      );
    }
    // Ids are drawn first so every input row knows its id, inserted or not; a row
    // that lost to an existing coalesce id is joined to that job (when this
    // statement's snapshot can see it). A candidate that lost is not handed over.
    const input = `x as materialized (select nextval('${seq}') as id, * from ${INSERT_INPUT})`;
    const n = !notify
      ? 'null::text as n'
      : handoff
        ? `(select pg_notify('${channel}', p) from (select coalesce(${handNote(announce('ins', `status = 'queued'`))}, ` +
          `(select case when octet_length(a::text) < 7900 then a::text else '*' end from (select ${announce('ins', 'true')} as a) a where a is not null)) as p) pn where p is not null)::text as n`
        : `${notifyFrom('ins')} as n`;
    const ins = handoff
      ? `${pickOffer}, ins as (insert into ${T} as n (id, ${handCols}) overriding system value select x.id, ${handValues} from x left join o on x.ord = $hand::bigint ` +
        `on conflict (coalesce_id) where coalesce_id is not null do nothing returning n.id, n.queue_name, n.run_at, n.status, ${handReturning}), ${markOffer}`
      : `ins as (insert into ${T} (id, ${insertCols}) overriding system value select x.id, ${insertValues}, 'queued' from x ` +
        `on conflict (coalesce_id) where coalesce_id is not null do nothing returning id, queue_name, run_at)`;
    return (
      `with ${input}, ${ins} ` +
      `select x.ord, x.id, ins.id is not null as inserted, ${n}, ${J} from x left join ins on ins.id = x.id ` +
      `left join ${T} j on ins.id is null and j.coalesce_id = x.c`
    );
  });

  // Withdrawn offers report the job they were handed (if any), so a hand-off whose
  // notification never arrived is still found. Purged: offers expired ten minutes ago
  // whose owner never withdrew them (a process that died).
  const offer = compile(
    `with w as (delete from ${O} where id = any($withdraw::text[]) returning id, job_id), ` +
      `p as (delete from ${O} where $purge::boolean and deadline < ${ts('$now::float8 - 600000')} and id <> all($withdraw::text[])), ` +
      `i as (insert into ${O} (id, worker_id, queues, lease_ms, created_at, deadline, lock_key) ` +
      `select $id::text, $worker::text, $queues::text[], $lease::float8, ${now}, ${ts('$deadline::float8')}, $lockKey::bigint where $id::text is not null) ` +
      `select id, job_id::text from w`,
  );

  const release = memo(
    (notify: boolean) =>
      `with r as (update ${T} j set status = 'queued', attempt_number = greatest(j.attempt_number - 1, 0), ` +
      `started_at = case when j.attempt_number <= 1 then null else j.started_at end, lease_until = null ` +
      `from unnest($ids::bigint[], $seqs::int[]) c(i, s) where j.id = c.i and j.claim_seq = c.s and j.status = 'running' returning ${J}, j.run_at) ` +
      `select r.*, ${notify ? notifyFrom('r') : 'null::text'} from r`,
  );

  return {
    table: T,
    offersTable: O,
    insert,
    offer,
    work,
    release,
    restart: memo(
      (notify: boolean) =>
        `with o as (select id, status from ${T} where id = $id::bigint for update), ` +
        `r as (update ${T} j set status = 'queued', attempt_number = 0, start_at = null, started_at = null, ended_at = null, error_message = null, ` +
        `run_at = ${now}, claim_seq = j.claim_seq + 1, lease_until = null from o where j.id = o.id returning o.status as old_status, ${J}, j.run_at) ` +
        `select r.*, ${notify ? notifyFrom('r') : 'null::text'} from r`,
    ),
    settleWaitAsync: memo(
      (notify: boolean) =>
        `with s as (select * from ${SETTLE_INPUT}), ` +
        `del as (delete from ${T} j using s where s.k = 'd' and j.id = s.i and j.status = 'wait_async' returning ${J}), ` +
        `upd as (update ${T} j set ${applyOutcome}, claim_seq = j.claim_seq + 1 ` +
        `from s where s.k <> 'd' and j.id = s.i and j.status = 'wait_async' returning ${J}, j.run_at) ` +
        `select 'd' as k, del.*, null::timestamptz as run_at, null::text as n from del ` +
        `union all select 'u', upd.*, ${notify ? notifyFrom('upd', `status = 'queued'`) : 'null::text'} from upd`,
    ),
    detectHung: memo(
      // Hung: running/parked for strictly longer than max_runtime_seconds, or running
      // with a lease that has expired (strictly before now); compared in float8
      // milliseconds, the way the in-memory reference store compares in JS.
      (notify: boolean) =>
        `with h as (select id, status as old_status, ` +
        `(max_runtime_seconds is not null and started_at is not null and $now::float8 - round(${ms('started_at')}) > max_runtime_seconds * 1000) as over_runtime ` +
        `from ${T} where status in ('running', 'wait_async') and (` +
        `(status = 'running' and lease_until is not null and ${ms('lease_until')} < $now::float8) or ` +
        `(max_runtime_seconds is not null and started_at is not null and $now::float8 - round(${ms('started_at')}) > max_runtime_seconds * 1000)` +
        `) for update skip locked), ` +
        `m as (select h.id, h.old_status, h.over_runtime, j.max_runtime_seconds as mr, ` +
        `case when j.max_attempts < $cap::int then j.max_attempts + 1 else j.max_attempts end as ma from h join ${T} j on j.id = h.id), ` +
        `r as (update ${T} j set max_attempts = m.ma, ` +
        `status = case when j.attempt_number < m.ma then 'queued' else 'failed' end, ` +
        `ended_at = case when j.attempt_number < m.ma then null else ${now} end, ` +
        `error_message = case when m.over_runtime then $runtimeMessage::text || ' (' || m.mr::text || ')' else $leaseMessage::text end, ` +
        `start_at = case when j.attempt_number < m.ma then ${now} else j.start_at end, ` +
        `run_at = case when j.attempt_number < m.ma then ${now} else j.run_at end, ` +
        `claim_seq = j.claim_seq + 1, lease_until = null from m where j.id = m.id returning m.old_status, ${J}, j.run_at) ` +
        `select r.*, ${notify ? notifyFrom('r', `status = 'queued'`) : 'null::text'} from r`,
    ),
    allocateIds: compile(`select string_agg(nextval('${seq}')::text, ',') from generate_series(1, $n::int)`),
    notify: compile(`select pg_notify('${channel}', $note::text)`),
    copy: `copy ${T} (${COPY_COLUMNS}) from stdin`,
    byIds: compile(`select ${J} from ${T} j where j.id = any($ids::bigint[])`),
    byCoalesceIds: compile(`select ${J} from ${T} j where j.coalesce_id = any($coalesceIds::text[])`),
    get: compile(`select ${J} from ${T} j where j.id = $id::bigint`),
    getByCoalesceId: compile(`select ${J} from ${T} j where j.coalesce_id = $coalesceId::text`),
    extendLeases: compile(
      `update ${T} j set lease_until = ${ts('$now::float8 + $lease::float8')} ` +
        `from unnest($ids::bigint[], $seqs::int[]) c(i, s) where j.id = c.i and j.claim_seq = c.s and j.status = 'running' returning j.id`,
    ),
    // Re-entrant for the same owner (refreshes the TTL); an expired lock is free.
    tryLock: compile(
      `with u as (update ${T} set lock_owner = $owner::text, lock_until = ${ts('$now::float8 + $ttl::float8')} ` +
        `where id = $id::bigint and (lock_owner is null or lock_owner = $owner::text or lock_until <= ${now}) returning 1) ` +
        `select (select count(*) from u)::int as got, exists (select 1 from ${T} where id = $id::bigint) as found`,
    ),
    unlock: compile(`update ${T} set lock_owner = null, lock_until = null where id = $id::bigint and lock_owner = $owner::text`),
    remove: compile(`delete from ${T} where id = $id::bigint returning id`),
    count: compile(
      `select count(*)::float8 from ${T} where ($queue::text is null or queue_name = $queue::text) and ($statuses::text[] is null or status = any($statuses::text[]))`,
    ),
    list: compile(
      `select ${J} from ${T} j where ($queue::text is null or j.queue_name = $queue::text) and ($statuses::text[] is null or j.status = any($statuses::text[])) ` +
        `order by j.id limit $limit::bigint offset $offset::bigint`,
    ),
    stats: compile(
      `select queue_name, status, count(*)::float8, min(${ms('run_at')}) filter (where status = 'queued' and run_at <= ${now}), ` +
        `(count(*) filter (where status = 'queued' and run_at <= ${now}))::float8 ` +
        `from ${T} group by queue_name, status order by queue_name, status`,
    ),
  };
}
