/**
 * Raw callbacks to the history store. The log is read in order from a
 * cursor; each settled entry is written (with what it turned out to be),
 * then, once written, leaves Redis if nothing there needs it any more: an
 * entry applied to an attempt at once (duplicates are told by the attempt,
 * not by the log), a result that found no attempt, or an entry that could
 * not be read, after ORPHAN_KEEP_MS (it may still be adopted or replayed;
 * written again as it is then). An entry still pending when the cursor
 * passes it is remembered and written once settled; a pending entry never
 * leaves Redis. A crash between writing and moving on only writes the same
 * rows again, which changes nothing.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Keys } from '../store/keys.js';
import { callbackLogKeys, type CallbackLog, type RecordedResult, type StoredCallback } from '../store/callback-log.js';
import { luaScript, runScript } from '../infra/lua.js';
import type { HistoryKeys } from './keys.js';
import { archivedCallback, writeCallback, type ArchivedCallback } from './records.js';
import { CopyWriter, joinRows, type CopyRows } from './copy.js';
import { writeBehind } from './write-behind.js';
import type { HistoryStore } from './store.js';

/** Callbacks an archiver writes per transaction. */
export const CALLBACKS_PER_WRITE = 5_000;

/** Who archives raw callbacks at an archiver's pass: this thread (makeCallbackArchiver) or a worker thread (callback-thread.ts). */
export interface CallbackArchiving {
  pass(now: number): Promise<CallbackPass>;
  /** Started and connected (a worker thread); nothing to wait for in this thread. */
  ready?(): Promise<void>;
}

/** How long a result that found no attempt (or an unreadable entry) stays in Redis once written. */
export const ORPHAN_KEEP_MS = 86_400_000;

/**
 * Moves the cursors and the waiting set, and removes entries (never a pending one).
 * KEYS: log, pending, results, cursor key ('' kept as is: ARGV[1] = ''), waiting
 * ARGV: new cursor ('' = unchanged), nWait, (ms, id) × nWait, nDone, id × nDone (leave the waiting set), then ids to remove
 */
const AFTER_WRITE = luaScript(
  `if ARGV[1] ~= '' then redis.call('SET', KEYS[4], ARGV[1]) end
local nWait = tonumber(ARGV[2])
local at = 3
for i = 1, nWait do
  redis.call('ZADD', KEYS[5], tonumber(ARGV[at]), ARGV[at + 1])
  at = at + 2
end
local nDone = tonumber(ARGV[at])
at = at + 1
for i = 1, nDone do
  redis.call('ZREM', KEYS[5], ARGV[at])
  at = at + 1
end
-- Pending ones are kept; the others leave, 500 to a command (one command each would hold Redis several times as long).
local gone = {}
for from = at, #ARGV, 500 do
  local to = math.min(#ARGV, from + 499)
  local scores = redis.call('ZMSCORE', KEYS[2], unpack(ARGV, from, to))
  for j = from, to do
    if not scores[j - from + 1] then gone[#gone + 1] = ARGV[j] end
  end
end
local removed = 0
for from = 1, #gone, 500 do
  local to = math.min(#gone, from + 499)
  removed = removed + redis.call('XDEL', KEYS[1], unpack(gone, from, to))
  redis.call('HDEL', KEYS[3], unpack(gone, from, to))
end
return removed`,
  5,
);

const FIELDS = ['kind', 'at', 'ip', 'ct', 'body'];

/** A field's name, compared byte by byte (five fields an entry: no string made for each). */
function fieldName(f: Buffer | string): string {
  if (typeof f === 'string') return f;
  for (const name of FIELDS) {
    if (f.length !== name.length) continue;
    let i = 0;
    while (i < f.length && f[i] === name.charCodeAt(i)) i++;
    if (i === f.length) return name;
  }
  return '';
}

/** A log entry as read (bytes): the body stays bytes, the other fields text; what is missing stays empty (an unreadable entry is kept as it is). */
function entryOf(idRaw: Buffer | string, fields: (Buffer | string)[]): Omit<StoredCallback, 'body'> & { body: Buffer } {
  const id = idRaw.toString();
  let kind = '';
  let at = '';
  let ip = '';
  let ct = '';
  let body: Buffer = Buffer.alloc(0);
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const v = fields[i + 1]!;
    switch (fieldName(fields[i]!)) {
      case 'kind':
        kind = v.toString();
        break;
      case 'at':
        at = v.toString();
        break;
      case 'ip':
        ip = v.toString();
        break;
      case 'ct':
        ct = v.toString();
        break;
      case 'body':
        body = typeof v === 'string' ? Buffer.from(v) : v;
        break;
    }
  }
  const ms = Number(at);
  return {
    id,
    // An unknown kind is kept as it was stored.
    kind: kind as StoredCallback['kind'],
    receivedAt: at !== '' && Number.isFinite(ms) ? ms : idMs(id),
    remoteIp: ip,
    contentType: ct,
    body,
  };
}

const idMs = (id: string) => Number(id.split('-')[0]);

/** The lower of two stream ids. */
function minId(a: string, b: string): string {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am < bm || (am === bm && as <= bs) ? a : b;
}

export interface CallbackPass {
  archived: number;
  removed: number;
  /** Entries passed while pending, waiting to be settled. */
  waiting: number;
}

export function makeCallbackArchiver(deps: {
  redis: Redis;
  keys: Keys;
  hk: HistoryKeys;
  callbackLog: Pick<CallbackLog, 'results'>;
  store: Pick<HistoryStore, 'writeRows'>;
  log: Logger;
  pageSize?: number;
}) {
  const { redis, hk, callbackLog, store, log } = deps;
  const lk = callbackLogKeys(deps.keys);
  /** Entries written per transaction. */
  const pageSize = deps.pageSize ?? 1000;
  /** Entries read per round trip: a page read is held over two round trips, a smaller one is copied less by the garbage collector. */
  const readSize = Math.min(pageSize, 1000);

  /** Settlement and pending flag of each entry. */
  async function lookUp(ids: string[]): Promise<{ settled: (RecordedResult | null)[]; pending: boolean[] }> {
    const [settled, scores] = await Promise.all([callbackLog.results(ids), redis.zmscore(lk.pending, ...ids)]);
    return { settled, pending: scores.map((s) => s !== null) };
  }

  /** Whether a written entry may leave Redis now. */
  const removable = (cb: ArchivedCallback, now: number) => (cb.settlement?.attemptId ?? null) !== null || cb.receivedAt < now - ORPHAN_KEEP_MS;

  /** Settled entries as rows, encoded as they are read, and those that may leave Redis once written. */
  function encode(cbs: readonly ArchivedCallback[], now: number): { rows: CopyRows; removable: string[] } {
    const w = new CopyWriter();
    const out: string[] = [];
    for (const cb of cbs) {
      writeCallback(w, cb);
      if (removable(cb, now)) out.push(cb.id);
    }
    return { rows: w.end(), removable: out };
  }

  async function written(rows: CopyRows, fresh: boolean): Promise<void> {
    if (rows.rows === 0) return;
    const counts = await store.writeRows({ callbacks: rows }, { fresh });
    log.debug({ callbacks: rows.rows, changed: counts.callbacks }, 'history batch written');
  }

  async function afterWrite(cursorKey: string | null, cursor: string, wait: { id: string; ms: number }[], done: string[], remove: string[]): Promise<number> {
    const args: string[] = [cursorKey ? cursor : '', String(wait.length)];
    for (const w of wait) args.push(String(w.ms), w.id);
    args.push(String(done.length), ...done, ...remove);
    const keys = [lk.log, lk.pending, lk.results, cursorKey ?? hk.callbackCursor, hk.pendingPassed];
    return Number(await runScript(redis, AFTER_WRITE, keys, args));
  }

  /** Archives entries after the cursor at `cursorKey`, up to `upTo` (inclusive), moving the cursor; pending ones are remembered. */
  async function fromCursor(cursorKey: string, upTo: string, now: number, maxPages: number): Promise<{ archived: number; removed: number }> {
    const total = { archived: 0, removed: 0 };
    // Entries are read a page at a time and written some pages at a time, while the next pages are read.
    const behind = writeBehind();
    const cursor = await redis.get(cursorKey);
    let batch = { rows: [] as CopyRows[], wait: [] as { id: string; ms: number }[], leaving: [] as string[], last: '', read: 0 };
    const flush = async () => {
      const b = batch;
      batch = { rows: [], wait: [], leaving: [], last: '', read: 0 };
      await behind.push(async () => {
        const rows = joinRows(b.rows);
        // Entries the main cursor has not passed are most likely not written yet; old ones were.
        await written(rows, cursorKey === hk.callbackCursor);
        total.removed += await afterWrite(cursorKey, b.last, b.wait, [], b.leaving);
        total.archived += rows.rows;
      });
    };
    const readAfter = (after: string | null) => redis.xrangeBuffer(lk.log, after ? `(${after}` : '-', upTo, 'COUNT', readSize);
    // The next page is asked for as soon as this one is here (its first id is known), before this one is looked up.
    let ahead: ReturnType<typeof readAfter> | null = readAfter(cursor);
    for (let read = 0; ahead !== null; ) {
      const entries = await ahead;
      ahead = null;
      if (entries.length === 0) break;
      read += entries.length;
      if (entries.length === readSize && read < maxPages * pageSize) {
        ahead = readAfter(entries[entries.length - 1]![0].toString());
        // Not used if this page's look-up fails: its own failure is nobody's.
        ahead.catch(() => undefined);
      }
      const cbs = entries.map(([id, fields]) => entryOf(id, fields));
      const { settled, pending } = await lookUp(cbs.map((c) => c.id));
      const settledOnes: ArchivedCallback[] = [];
      cbs.forEach((cb, i) => (pending[i] ? batch.wait.push({ id: cb.id, ms: cb.receivedAt }) : settledOnes.push(archivedCallback(cb, settled[i] ?? null))));
      const { rows, removable: leaving } = encode(settledOnes, now);
      batch.rows.push(rows);
      batch.leaving.push(...leaving);
      batch.last = cbs[cbs.length - 1]!.id;
      batch.read += cbs.length;
      if (batch.read >= pageSize) await flush();
    }
    if (batch.read > 0) await flush();
    await behind.done();
    return total;
  }

  /** Entries passed while pending: written (and removed when they may go) once settled. */
  async function waiting(now: number): Promise<{ archived: number; removed: number }> {
    const ids = await redis.zrange(hk.pendingPassed, 0, pageSize - 1);
    if (ids.length === 0) return { archived: 0, removed: 0 };
    const found = await Promise.all(ids.map((id) => redis.xrangeBuffer(lk.log, id, id)));
    const { settled, pending } = await lookUp(ids);
    const rows: ArchivedCallback[] = [];
    const done: string[] = [];
    ids.forEach((id, i) => {
      if (pending[i]) return;
      done.push(id);
      const e = found[i]?.[0];
      if (e) rows.push(archivedCallback(entryOf(e[0], e[1]), settled[i] ?? null));
    });
    const { rows: encoded, removable: leaving } = encode(rows, now);
    await written(encoded, true);
    const removed = done.length > 0 ? await afterWrite(null, '', [], done, leaving) : 0;
    return { archived: encoded.rows, removed };
  }

  /**
   * One pass: new entries (up to `maxPages` pages), those that waited to be
   * settled, and those kept that are now old enough to leave (written again
   * first: an orphan may have been adopted since).
   */
  async function pass(now: number, maxPages = 20): Promise<CallbackPass> {
    const fresh = await fromCursor(hk.callbackCursor, '+', now, maxPages);
    const settledSince = await waiting(now);
    const cursor = (await redis.get(hk.callbackCursor)) ?? '0-0';
    const cut = `${Math.max(0, Math.floor(now - ORPHAN_KEEP_MS))}-0`;
    const old = idMs(cursor) > 0 ? await fromCursor(hk.oldCursor, minId(cut, cursor), now, maxPages) : { archived: 0, removed: 0 };
    return {
      archived: fresh.archived + settledSince.archived + old.archived,
      removed: fresh.removed + settledSince.removed + old.removed,
      waiting: await redis.zcard(hk.pendingPassed),
    };
  }

  return { pass };
}

export type CallbackArchiver = ReturnType<typeof makeCallbackArchiver>;
