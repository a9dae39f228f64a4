import type { BackoffOption, JobRecord, JobStatus } from '@jqjobs/core';

/**
 * A job record is stored as one MessagePack array (packed by the Lua scripts with
 * Redis's built-in `cmsgpack`). Positions, shared with `lua.ts`:
 *
 *  0 status code · 1 type · 2 payload JSON · 3 queue · 4 priority · 5 attempt ·
 *  6 maxAttempts · 7 createdAt · 8 run time · 9 startAt (`true` = the run time,
 *  `false` = null) · 10 deleteOnComplete · 11 startedAt · 12 endedAt ·
 *  13 errorMessage · 14 coalesceId · 15 maxRuntimeSeconds · 16 backoff JSON ·
 *  17 claim token · 18 worker id
 *
 * Trailing unset fields are left out, so a waiting job costs about 50 bytes plus
 * its payload. `false` stands for null.
 */
export const STATUS_BY_CODE: readonly JobStatus[] = ['unqueued', 'queued', 'running', 'wait_async', 'completed', 'failed'];
export const CODE_BY_STATUS: Readonly<Record<JobStatus, number>> = { unqueued: 0, queued: 1, running: 2, wait_async: 3, completed: 4, failed: 5 };

type Value = string | number | boolean | null | Value[];

// The decoder's cursor. Decoding is synchronous, so one module-level cursor is safe and saves an allocation per value.
let pos = 0;

/** Decodes the subset of MessagePack that `cmsgpack` writes (no maps, no binary, no extensions). */
export function unpack(buf: Buffer): Value {
  pos = 0;
  return read(buf);
}

function read(buf: Buffer): Value {
  const b = buf[pos++]!;
  if (b <= 0x7f) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b >= 0xa0 && b <= 0xbf) return str(buf, b & 0x1f);
  if (b >= 0x90 && b <= 0x9f) return arr(buf, b & 0x0f);
  let v: Value;
  switch (b) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xca:
      v = buf.readFloatBE(pos);
      pos += 4;
      return v;
    case 0xcb:
      v = buf.readDoubleBE(pos);
      pos += 8;
      return v;
    case 0xcc:
      return buf[pos++]!;
    case 0xcd:
      v = buf.readUInt16BE(pos);
      pos += 2;
      return v;
    case 0xce:
      v = buf.readUInt32BE(pos);
      pos += 4;
      return v;
    case 0xcf:
      // Two 32-bit halves: exact for the integers we store (below 2^53), and no BigInt.
      v = buf.readUInt32BE(pos) * 0x100000000 + buf.readUInt32BE(pos + 4);
      pos += 8;
      return v;
    case 0xd0:
      return buf.readInt8(pos++);
    case 0xd1:
      v = buf.readInt16BE(pos);
      pos += 2;
      return v;
    case 0xd2:
      v = buf.readInt32BE(pos);
      pos += 4;
      return v;
    case 0xd3:
      v = buf.readInt32BE(pos) * 0x100000000 + buf.readUInt32BE(pos + 4);
      pos += 8;
      return v;
    case 0xd9:
      return str(buf, buf[pos++]!);
    case 0xda: {
      const n = buf.readUInt16BE(pos);
      pos += 2;
      return str(buf, n);
    }
    case 0xdb: {
      const n = buf.readUInt32BE(pos);
      pos += 4;
      return str(buf, n);
    }
    case 0xdc: {
      const n = buf.readUInt16BE(pos);
      pos += 2;
      return arr(buf, n);
    }
    case 0xdd: {
      const n = buf.readUInt32BE(pos);
      pos += 4;
      return arr(buf, n);
    }
    default:
      throw new Error(`unexpected MessagePack byte 0x${b.toString(16)} at ${pos - 1}`);
  }
}

function str(buf: Buffer, n: number): string {
  const out = buf.toString('utf8', pos, pos + n);
  pos += n;
  return out;
}

function arr(buf: Buffer, n: number): Value[] {
  const out = new Array<Value>(n);
  for (let i = 0; i < n; i++) out[i] = read(buf);
  return out;
}

/** What a decoded record carries besides the public fields. */
export interface DecodedJob {
  record: JobRecord;
  /** Set when the stored payload is not valid JSON (the payload is then null). */
  payloadError?: string;
  token: string | null;
}

const dateOrNull = (v: Value | undefined): Date | null => (typeof v === 'number' ? new Date(v) : null);
const strOrNull = (v: Value | undefined): string | null => (typeof v === 'string' ? v : null);

/** Turns a stored record into a `JobRecord`. */
export function decodeJob(id: string, buf: Buffer): DecodedJob {
  const f = unpack(buf);
  if (!Array.isArray(f)) throw new Error(`job ${id}: stored record is not an array`);
  let payload: unknown = null;
  let payloadError: string | undefined;
  try {
    payload = JSON.parse(f[2] as string);
  } catch (err) {
    payloadError = err instanceof Error ? err.message : String(err);
  }
  let backoff: BackoffOption | null = null;
  if (typeof f[16] === 'string') {
    try {
      backoff = JSON.parse(f[16]) as BackoffOption;
    } catch {
      backoff = null;
    }
  }
  const runAt = f[8] as number;
  const startAt = f[9] === true ? new Date(runAt) : dateOrNull(f[9]);
  const record: JobRecord = {
    id,
    type: f[1] as string,
    payload,
    queueName: f[3] as string,
    status: STATUS_BY_CODE[f[0] as number] ?? 'queued',
    priority: f[4] as number,
    attemptNumber: f[5] as number,
    maxAttempts: f[6] as number,
    coalesceId: strOrNull(f[14]),
    maxRuntimeSeconds: typeof f[15] === 'number' ? f[15] : null,
    deleteOnComplete: f[10] === true,
    errorMessage: strOrNull(f[13]),
    backoff,
    createdAt: new Date(f[7] as number),
    startAt,
    startedAt: dateOrNull(f[11]),
    endedAt: dateOrNull(f[12]),
  };
  return payloadError === undefined ? { record, token: strOrNull(f[17]) } : { record, payloadError, token: strOrNull(f[17]) };
}

/** Bytes of the msgpack str header for a string of `len` bytes. */
function strHeaderSize(len: number): number {
  return len < 32 ? 1 : len < 256 ? 2 : len < 65536 ? 3 : 5;
}

/** Writes a msgpack str header at `p`; returns the position after it. */
function writeStrHeader(out: Buffer, p: number, len: number): number {
  if (len < 32) out[p++] = 0xa0 | len;
  else if (len < 256) {
    out[p++] = 0xd9;
    out[p++] = len;
  } else if (len < 65536) {
    out[p++] = 0xda;
    out.writeUInt16BE(len, p);
    p += 2;
  } else {
    out[p++] = 0xdb;
    out.writeUInt32BE(len, p);
    p += 4;
  }
  return p;
}

/** What `packRecord` writes: the stored fields of a new job (positions as documented above). */
export type RecordValue = string | number | boolean;

/**
 * Packs a new job's record in JavaScript, so the enqueue script stores it as it is
 * instead of building it in Lua. Trailing `false` fields are left out, as the
 * scripts do. Integers use the smallest encoding; other numbers float64.
 */
export function packRecord(fields: readonly RecordValue[]): Buffer {
  let n = fields.length;
  while (n > 11 && fields[n - 1] === false) n--;
  const strs: Buffer[] = [];
  let size = n <= 15 ? 1 : 3;
  for (let i = 0; i < n; i++) {
    const v = fields[i]!;
    if (typeof v === 'string') {
      const b = Buffer.from(v, 'utf8');
      strs.push(b);
      size += strHeaderSize(b.length) + b.length;
    } else size += 9;
  }
  const out = Buffer.allocUnsafe(size);
  let p = 0;
  if (n <= 15) out[p++] = 0x90 | n;
  else {
    out[p++] = 0xdc;
    out.writeUInt16BE(n, p);
    p += 2;
  }
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = fields[i]!;
    if (typeof v === 'string') {
      const b = strs[s++]!;
      p = writeStrHeader(out, p, b.length);
      p += b.copy(out, p);
    } else if (typeof v === 'boolean') {
      out[p++] = v ? 0xc3 : 0xc2;
    } else if (Number.isInteger(v) && v >= -32 && v <= 127) {
      out[p++] = v & 0xff;
    } else if (Number.isInteger(v) && v >= -2147483648 && v <= 2147483647) {
      out[p++] = 0xd2;
      out.writeInt32BE(v, p);
      p += 4;
    } else if (Number.isSafeInteger(v) && v > 0) {
      // Timestamps (two per job) take this path: a uint64 in two 32-bit halves, no BigInt.
      out[p++] = 0xcf;
      out.writeUInt32BE(Math.floor(v / 0x100000000), p);
      out.writeUInt32BE(v >>> 0, p + 4);
      p += 8;
    } else if (Number.isSafeInteger(v)) {
      out[p++] = 0xd3;
      out.writeBigInt64BE(BigInt(v), p);
      p += 8;
    } else {
      out[p++] = 0xcb;
      out.writeDoubleBE(v, p);
      p += 8;
    }
  }
  return p === size ? out : out.subarray(0, p);
}

/**
 * Packs byte strings (Buffers as they are, strings as UTF-8) as one msgpack array
 * of str items, which `cmsgpack.unpack` turns into a Lua table of strings, the same
 * values the items would have as separate ARGV. A batch enqueue sends its jobs this
 * way: ioredis spends far less encoding one big argument than thousands of small
 * ones (about a sixth of a bulk enqueue's CPU went there).
 */
export function packStrings(items: readonly (Buffer | string)[]): Buffer {
  let size = 5;
  const lens: number[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    const len = typeof it === 'string' ? Buffer.byteLength(it, 'utf8') : it.length;
    lens[i] = len;
    size += strHeaderSize(len) + len;
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = 0xdd;
  out.writeUInt32BE(items.length, 1);
  let p = 5;
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    const len = lens[i]!;
    p = writeStrHeader(out, p, len);
    p += typeof it === 'string' ? out.write(it, p, 'utf8') : it.copy(out, p);
  }
  return out;
}
