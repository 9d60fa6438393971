/**
 * Contacts kept compactly in Redis: one immutable row per contact (its
 * original CSV values and the parsed number) in lists of ROW_BUCKET rows
 * (contact idx is bucket idx / ROW_BUCKET, position idx % ROW_BUCKET), a
 * small mutable state only once the contact has been touched, and what is
 * waiting to be dialed: a list of freshly imported contacts (due from the
 * campaign's `freshAt`) and a due set for every other time (retries,
 * calling windows), which the feeder drains into the dial queue a few
 * minutes ahead of the campaign's pace.
 */
import { z } from 'zod';
import type { Redis } from 'ioredis';
import { CONTACT_STATUSES, type ContactStatus } from '../domain/types.js';
import type { Keys } from './keys.js';
import { IMPORT_BATCH, ROWS, ROWS_WITH_STATES, TAKE_DUE } from './scripts.js';
import { keyTable, luaScript, runScript } from '../infra/lua.js';
import { makeTurnBatcher, type BatchOutcome } from '../infra/turn-batch.js';
import { packRow, unpackRow, RowCodecError } from './row-codec.js';
import { PackedBatch } from './import-batch.js';

const IMPORT_BATCH_SCRIPT = luaScript(IMPORT_BATCH, null);
const TAKE_DUE_SCRIPT = luaScript(TAKE_DUE, 5);
const ROWS_WITH_STATES_SCRIPT = luaScript(ROWS_WITH_STATES, null);
const ROWS_SCRIPT = luaScript(ROWS, null);

/** Row-and-state reads gathered in one turn of the event loop go as one script call of at most this many. */
const READ_BATCH = 256;

/** Rows per row list: small enough that reading one row walks a few list nodes. */
export const ROW_BUCKET = 1024;

/** The immutable row: line, values, dial form, dedupe key, zone, custom fields. */
export const contactRowSchema = z.object({
  l: z.number().int(),
  v: z.array(z.string()),
  d: z.string().optional(),
  e: z.string().optional(),
  z: z.string().nullable().optional(),
  c: z.record(z.string(), z.string()).optional(),
});
export type ContactRow = z.infer<typeof contactRowSchema>;

/** The mutable state: status, phase, attempt numbers, outcome counts. */
export const contactStateSchema = z.object({
  s: z.enum(CONTACT_STATUSES),
  ph: z.enum(['due', 'queued', 'dialing', 'waiting']).optional(),
  n: z.number().int().default(0),
  p: z.number().int().default(0),
  a: z.string().optional(),
  o: z.record(z.string(), z.number()).optional(),
  ld: z.number().optional(),
  e: z.string().optional(),
  late: z.boolean().optional(),
  /** Requests in a row that never reached the provider (not sent, 5xx, 429, too fast). */
  ns: z.number().int().optional(),
});
export type ContactState = z.infer<typeof contactStateSchema>;

export const FRESH_STATE: ContactState = { s: 'pending', n: 0, p: 0 };

export class ContactStoreError extends Error {
  readonly code = 'ERR_CONTACT_STORE';
}

/** A stored row (see row-codec.ts) back to a ContactRow. */
export function parseContactRow(raw: string, where = 'contact row'): ContactRow {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new ContactStoreError(`${where} is not JSON`);
  }
  try {
    return unpackRow(value);
  } catch (err) {
    if (err instanceof RowCodecError) throw new ContactStoreError(`${where} is damaged: ${err.message}`);
    throw err;
  }
}

const STATUS_SET: ReadonlySet<string> = new Set(CONTACT_STATUSES);
const PHASES: ReadonlySet<string> = new Set(['due', 'queued', 'dialing', 'waiting']);

/**
 * A stored contact state, checked field by field (it is read for every dial
 * and every result, so by hand rather than through a schema library); the
 * same rules as contactStateSchema, unknown keys dropped.
 */
function damaged(where: string, msg: string): never {
  throw new ContactStoreError(`${where} is damaged: ${msg}`);
}

function stateInt(v: Record<string, unknown>, k: string, where: string): number | undefined {
  const x = v[k];
  if (x === undefined) return undefined;
  return typeof x === 'number' && Number.isInteger(x) ? x : damaged(where, `${k} must be a whole number`);
}

function stateStr(v: Record<string, unknown>, k: string, where: string): string | undefined {
  const x = v[k];
  if (x === undefined) return undefined;
  return typeof x === 'string' ? x : damaged(where, `${k} must be text`);
}

function decodeContactState(value: unknown, where: string): ContactState {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return damaged(where, 'not an object');
  const v = value as Record<string, unknown>;
  if (typeof v.s !== 'string' || !STATUS_SET.has(v.s)) return damaged(where, `s must be a contact status, got ${JSON.stringify(v.s)}`);
  const out: ContactState = { s: v.s as ContactState['s'], n: stateInt(v, 'n', where) ?? 0, p: stateInt(v, 'p', where) ?? 0 };
  if (v.ph !== undefined) {
    if (typeof v.ph !== 'string' || !PHASES.has(v.ph)) return damaged(where, `ph must be a phase, got ${JSON.stringify(v.ph)}`);
    out.ph = v.ph as NonNullable<ContactState['ph']>;
  }
  const a = stateStr(v, 'a', where);
  if (a !== undefined) out.a = a;
  if (v.o !== undefined) {
    if (typeof v.o !== 'object' || v.o === null || Array.isArray(v.o)) return damaged(where, 'o must be an object of counts');
    const o: Record<string, number> = {};
    for (const [k, x] of Object.entries(v.o as Record<string, unknown>)) {
      if (typeof x !== 'number') return damaged(where, `o.${k} must be a number`);
      o[k] = x;
    }
    out.o = o;
  }
  if (v.ld !== undefined) {
    if (typeof v.ld !== 'number') return damaged(where, 'ld must be a number');
    out.ld = v.ld;
  }
  const e = stateStr(v, 'e', where);
  if (e !== undefined) out.e = e;
  if (v.late !== undefined) {
    if (typeof v.late !== 'boolean') return damaged(where, 'late must be true or false');
    out.late = v.late;
  }
  const ns = stateInt(v, 'ns', where);
  if (ns !== undefined) out.ns = ns;
  return out;
}

export function parseContactState(raw: string | null | undefined, where = 'contact state'): ContactState {
  if (raw === null || raw === undefined || raw === '') return { ...FRESH_STATE };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new ContactStoreError(`${where} is not JSON`);
  }
  return decodeContactState(value, where);
}

/** Lua's cjson turns an empty object into `{}` and an empty array into `{}` too: keep states small and flat. */
export function encodeContactState(state: ContactState): string {
  return JSON.stringify(state);
}

export type ImportRecord =
  | { kind: 'contact'; line: number; row: ContactRow; e164: string }
  | { kind: 'reject'; line: number; row: ContactRow; hash: string; message: string };

/** One record as the import script reads it (see PackedBatch): kind, line, dedupe key or reject hash, stored row, state ('' for a contact). */
export function encodeImportRecord(r: ImportRecord): [string, string, string, string, string] {
  const row = packRow(r.row);
  if (r.kind === 'contact') return ['c', String(r.line), r.e164, row, ''];
  return ['r', String(r.line), r.hash, row, encodeContactState({ s: 'invalid', n: 0, p: 0, e: r.message })];
}

export interface BatchResult {
  added: number;
  duplicate: number;
  dnc: number;
  invalid: number;
  already: number;
}

/**
 * Where one import's batches put their rows, as this process knows it:
 * `next` is the campaign's row count after the last batch answered, `sent`
 * the records of the batches on their way, this one's included (each record
 * stores at most one row, and a connection runs its scripts in order). The
 * rows of a batch fall in [next, next + sent): it declares the row lists of
 * those indexes, a handful whatever the length of the list.
 */
export interface ImportCursor {
  next: number;
  sent: number;
}

/** Sends of one batch before an import gives up on other imports moving the campaign's row count under it. */
const IMPORT_TRIES = 10;

export interface TakenContact {
  idx: number;
  attempt: number;
  row: ContactRow;
  /** The row as stored (packed). */
  rowRaw: string;
  /** The contact's state as the take wrote it (queued for `attempt`): the begin's compare-and-set token. */
  stateRaw: string;
}

export function makeContactStore(deps: { redis: Redis; keys: Keys }) {
  const { redis, keys: k } = deps;

  /** A cursor for one import into the campaign: its row count now, nothing sent yet. */
  async function importCursor(cid: string): Promise<ImportCursor> {
    return { next: Number((await redis.hget(k.campaign(cid), 'total')) ?? 0), sent: 0 };
  }

  /**
   * Stores a packed batch of records, in order, declaring the row lists it
   * may write (see ImportCursor). A batch whose rows would go past them
   * (another import stored rows since) writes nothing and goes again with
   * the lists from the campaign's count then.
   */
  async function importPacked(cid: string, uploadId: string, dueAt: number, dncLists: string[], batch: PackedBatch, cursor: ImportCursor): Promise<BatchResult> {
    if (batch.count === 0) return { added: 0, duplicate: 0, dnc: 0, invalid: 0, already: 0 };
    const head = [k.contactState(cid), k.phones(cid), k.fresh(cid), k.counts(cid), k.rejectSeen(cid), k.campaign(cid)];
    const dncKeys = dncLists.map((l) => k.dnc(l));
    cursor.sent += batch.count;
    try {
      for (let tries = 1; ; tries++) {
        const first = Math.floor(cursor.next / ROW_BUCKET);
        const last = Math.floor((cursor.next + cursor.sent - 1) / ROW_BUCKET);
        const rowKeys: string[] = [];
        for (let b = first; b <= last; b++) rowKeys.push(k.rowBucket(cid, b));
        const args = [uploadId, String(dueAt), String(ROW_BUCKET), String(first), String(rowKeys.length), String(batch.count), batch.bytes()];
        const res = (await runScript(redis, IMPORT_BATCH_SCRIPT, [...head, ...rowKeys, ...dncKeys], args)) as (string | number)[];
        if (res[0] === 'rows') {
          const now = Number(res[1]);
          // A count never goes back but when the campaign is deleted: its rows are not stored again.
          if (now < cursor.next) throw new ContactStoreError(`campaign ${cid}: its row count went back from ${cursor.next} to ${now} during the import (deleted?)`);
          cursor.next = now;
          if (tries >= IMPORT_TRIES) throw new ContactStoreError(`campaign ${cid}: rows stored by other imports moved past the row lists of ${tries} sends of one batch`);
          continue;
        }
        const [added = 0, duplicate = 0, dnc = 0, invalid = 0, already = 0, total = 0] = res.map(Number);
        cursor.next = Math.max(cursor.next, total);
        return { added, duplicate, dnc, invalid, already };
      }
    } finally {
      cursor.sent -= batch.count;
    }
  }

  async function importBatch(cid: string, uploadId: string, dueAt: number, dncLists: string[], records: ImportRecord[]): Promise<BatchResult> {
    const batch = new PackedBatch(64 * 1024);
    for (const r of records) batch.add(encodeImportRecord(r));
    return importPacked(cid, uploadId, dueAt, dncLists, batch, await importCursor(cid));
  }

  /**
   * Takes contacts whose time has come (marked queued for their next attempt,
   * in the feeding set), then reads their rows: two script calls, the second
   * given the row lists the first turned out to need. A contact whose row is
   * gone by then (its campaign deleted in between) is left out of the answer
   * and stays in the feeding set as taken, where the feeder's recovery finds
   * it should it still exist.
   */
  async function takeDue(cid: string, now: number, limit: number): Promise<TakenContact[]> {
    const keyList = [k.due(cid), k.feeding(cid), k.contactState(cid), k.fresh(cid), k.campaign(cid)];
    const flat = (await runScript(redis, TAKE_DUE_SCRIPT, keyList, [String(now), String(limit)])) as (string | number)[];
    const claimed: { idx: number; attempt: number; stateRaw: string }[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) claimed.push({ idx: Number(flat[i]), attempt: Number(flat[i + 1]), stateRaw: String(flat[i + 2]) });
    if (claimed.length === 0) return [];
    const rows = await rowsOf(cid, claimed.map((c) => c.idx));
    const out: TakenContact[] = [];
    claimed.forEach((c, i) => {
      const rowRaw = rows[i];
      if (rowRaw === null || rowRaw === undefined) return;
      out.push({ ...c, row: parseContactRow(rowRaw, `campaign ${cid} contact ${c.idx}`), rowRaw });
    });
    return out;
  }

  /** Stored rows of some contacts of one campaign, in order (null: none stored), in one script call reading runs of consecutive rows at once. */
  async function rowsOf(cid: string, idxs: readonly number[]): Promise<(string | null)[]> {
    const table = keyTable();
    const args: string[] = [];
    for (let i = 0; i < idxs.length; i++) {
      const first = idxs[i]!;
      let last = first;
      // A run goes on while the next index follows in the same list.
      while (i + 1 < idxs.length && idxs[i + 1] === last + 1 && (last + 1) % ROW_BUCKET !== 0) last = idxs[++i]!;
      args.push(table.place(k.rowBucket(cid, Math.floor(first / ROW_BUCKET))), String(first % ROW_BUCKET), String(last % ROW_BUCKET));
    }
    const replies = await runScript(redis, ROWS_SCRIPT, table.keys, args);
    if (!Array.isArray(replies) || replies.length !== idxs.length) throw new ContactStoreError(`reading ${idxs.length} rows of campaign ${cid} answered ${String(replies)}`);
    return replies.map((r: unknown) => (typeof r === 'string' ? r : null));
  }

  async function row(cid: string, idx: number): Promise<ContactRow | null> {
    const raw = await redis.lindex(k.rowBucket(cid, Math.floor(idx / ROW_BUCKET)), idx % ROW_BUCKET);
    return raw === null ? null : parseContactRow(raw, `campaign ${cid} contact ${idx}`);
  }

  async function state(cid: string, idx: number): Promise<{ raw: string; state: ContactState }> {
    const raw = (await redis.hget(k.contactState(cid), String(idx))) ?? '';
    return { raw, state: parseContactState(raw, `campaign ${cid} contact ${idx} state`) };
  }

  /**
   * A contact's row (null: none stored) and state, read together: what a dial
   * starts from. Reads made in the same turn of the event loop go as one
   * script call.
   */
  const rowAndState = makeTurnBatcher<{ cid: string; idx: number }, { row: ContactRow | null; raw: string; state: ContactState }>({
    max: READ_BATCH,
    async run(items) {
      const table = keyTable();
      const args: string[] = [];
      for (const { cid, idx } of items) {
        args.push(table.place(k.rowBucket(cid, Math.floor(idx / ROW_BUCKET))), table.place(k.contactState(cid)), String(idx % ROW_BUCKET), String(idx));
      }
      const replies = await runScript(redis, ROWS_WITH_STATES_SCRIPT, table.keys, args);
      if (!Array.isArray(replies) || replies.length !== items.length) throw new ContactStoreError(`a batch of ${items.length} contact reads answered ${String(replies)}`);
      return items.map(({ cid, idx }, i) => {
        try {
          const pair: unknown = replies[i];
          if (!Array.isArray(pair)) throw new ContactStoreError(`reading campaign ${cid} contact ${idx} answered ${String(pair)}`);
          const [rowRaw, stRaw] = pair as unknown[];
          const raw = typeof stRaw === 'string' ? stRaw : '';
          return {
            row: typeof rowRaw === 'string' ? parseContactRow(rowRaw, `campaign ${cid} contact ${idx}`) : null,
            raw,
            state: parseContactState(raw, `campaign ${cid} contact ${idx} state`),
          } satisfies BatchOutcome<{ row: ContactRow | null; raw: string; state: ContactState }>;
        } catch (err) {
          return err instanceof Error ? err : new ContactStoreError(String(err));
        }
      });
    },
  });

  /** Rows and states for a range of contact indexes, in order (for exports). */
  async function range(cid: string, from: number, count: number): Promise<{ idx: number; row: ContactRow | null; state: ContactState }[]> {
    const idxs = Array.from({ length: count }, (_, i) => String(from + i));
    if (idxs.length === 0) return [];
    const reads: Promise<(string | null)[]>[] = [];
    for (let start = from; start < from + count; ) {
      const bucket = Math.floor(start / ROW_BUCKET);
      const end = Math.min(from + count, (bucket + 1) * ROW_BUCKET);
      const want = end - start;
      // A bucket shorter than asked (rows not written yet) reads as missing rows, never as shifted ones.
      reads.push(redis.lrange(k.rowBucket(cid, bucket), start % ROW_BUCKET, (end - 1) % ROW_BUCKET).then((got) => [...got, ...Array<null>(Math.max(0, want - got.length)).fill(null)]));
      start = end;
    }
    const [pieces, states] = await Promise.all([Promise.all(reads), redis.hmget(k.contactState(cid), ...idxs)]);
    const rows = pieces.flat();
    return idxs.map((s, i) => ({
      idx: Number(s),
      row: rows[i] ? parseContactRow(rows[i]!, `campaign ${cid} contact ${s}`) : null,
      state: parseContactState(states[i], `campaign ${cid} contact ${s} state`),
    }));
  }

  /** Puts contacts back in the due set (feeder could not enqueue them, or their window is closed). */
  async function reschedule(cid: string, items: { idx: number; at: number }[]): Promise<void> {
    if (items.length === 0) return;
    const m = redis.multi();
    for (const it of items) m.zadd(k.due(cid), it.at, String(it.idx));
    m.zrem(k.feeding(cid), ...items.map((i) => String(i.idx)));
    await m.exec();
  }

  async function doneFeeding(cid: string, idxs: number[]): Promise<void> {
    if (idxs.length > 0) await redis.zrem(k.feeding(cid), ...idxs.map(String));
  }

  /** Contacts taken from the due set but not seen by a worker since `before` (a feeder that died mid-way). */
  async function staleFeeding(cid: string, before: number, limit: number): Promise<number[]> {
    const ids = await redis.zrangebyscore(k.feeding(cid), '-inf', before, 'LIMIT', 0, limit);
    return ids.map(Number);
  }

  /** Contacts waiting (fresh ones and the due set), those ready now, those taken by a feeder, and the next time one becomes due. */
  async function dueCount(cid: string, now = Date.now()): Promise<{ due: number; ready: number; feeding: number; nextDueAt: number | null }> {
    const [due, ready, feeding, first, fresh, freshAtRaw] = await Promise.all([
      redis.zcard(k.due(cid)),
      redis.zcount(k.due(cid), '-inf', now),
      redis.zcard(k.feeding(cid)),
      redis.zrangebyscore(k.due(cid), `(${now}`, '+inf', 'WITHSCORES', 'LIMIT', 0, 1),
      redis.llen(k.fresh(cid)),
      redis.hget(k.campaign(cid), 'freshAt'),
    ]);
    const freshAt = Number(freshAtRaw ?? 0);
    const freshReady = fresh > 0 && freshAt <= now;
    const later = [first[1] !== undefined ? Number(first[1]) : null, fresh > 0 && !freshReady ? freshAt : null].filter((t): t is number => t !== null);
    return { due: due + fresh, ready: ready + (freshReady ? fresh : 0), feeding, nextDueAt: later.length > 0 ? Math.min(...later) : null };
  }

  /** Report sums kept with each commit (talk time, keypresses, retries). */
  async function stats(cid: string): Promise<Record<string, number>> {
    const raw = await redis.hgetall(k.stats(cid));
    return Object.fromEntries(Object.entries(raw).map(([f, v]) => [f, Number(v)]));
  }

  return { importCursor, importBatch, importPacked, takeDue, row, state, rowAndState: (cid: string, idx: number) => rowAndState({ cid, idx }), range, reschedule, doneFeeding, staleFeeding, dueCount, stats };
}

export type ContactStore = ReturnType<typeof makeContactStore>;

export function isFinalStatus(s: ContactStatus): boolean {
  return s !== 'pending';
}
