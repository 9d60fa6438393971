/**
 * Every well-formed callback received is appended here, raw, with its time
 * of receipt, before it is interpreted: an append-only Redis stream that
 * replay reads. (A malformed one is only counted: see correlation/receiver.)
 *
 * Beside the stream:
 * - `pending`: ids stored but not yet interpreted (a sorted set scored by
 *   receipt time, or by the time a recovering process claimed them). The append adds to it in the same script as the XADD, and
 *   settling removes from it in the same transaction as the counters, so a
 *   process that dies in between leaves the entry there for `recover`.
 * - `results`: what each entry turned out to be (`counter|kind|attemptId`),
 *   written with the counters. Replay and recovery read it so that no entry is
 *   ever counted or applied twice.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { luaScript, runScript } from '../infra/lua.js';
import { makeTurnBatcher } from '../infra/turn-batch.js';

export const CALLBACK_KINDS = ['sipcall-cdr', 'sipcall-status', 'pbx-cdr'] as const;
export type StoredCallbackKind = (typeof CALLBACK_KINDS)[number];

export interface RawCallback {
  kind: StoredCallbackKind;
  receivedAt: number;
  remoteIp: string;
  contentType: string;
  body: string;
}

export interface StoredCallback extends RawCallback {
  id: string;
}

const KINDS: ReadonlySet<string> = new Set(CALLBACK_KINDS);
const DIGITS = /^\d+$/;

/** Counters of what callbacks turned out to be, per campaign and overall. */
export const CALLBACK_COUNTERS = [
  'received',
  'correlated',
  'progress',
  'orphan',
  'duplicate',
  'late',
  'conflict',
  'malformed',
  'unauthorized',
  'forbidden',
] as const;
export type CallbackCounter = (typeof CALLBACK_COUNTERS)[number];

/** What one stored entry turned out to be; `campaignId` when it was tied to an attempt. */
export interface Settlement {
  id: string;
  counter: CallbackCounter;
  /** The interpretation's kind (final, duplicate, orphan, malformed, …). */
  kind: string;
  attemptId: string | null;
  campaignId: string | null;
}

/** A settlement as recorded for an entry. */
export type RecordedResult = Omit<Settlement, 'id' | 'campaignId'> & { campaignId: string | null };

const COUNTER_SET: ReadonlySet<string> = new Set(CALLBACK_COUNTERS);

/**
 * Claims pending entries received at or before a time: they are re-scored to
 * `now`, so another process recovering at the same moment does not take them.
 * KEYS: pending   ARGV: before, now, limit   Returns the ids claimed.
 */
const CLAIM = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], tonumber(ARGV[2]), id) end
return ids
`;

/**
 * Takes up to `limit` pending entries due by `now` (received, or last leased,
 * at or before it) and leases them until `leaseUntil` (re-scored: no other
 * process takes them before then), with their stored fields. An id whose
 * log entry is gone is taken out of the pending set.
 * The entries of a page are mostly neighbours in the log: they are read by one
 * XRANGE from the lowest id to the highest (at most twice the page), and the
 * few it did not reach one by one.
 * KEYS: pending, log   ARGV: now, leaseUntil, limit
 * Returns {id, score, fields | false, ...} flattened by entry.
 */
const LEASE = `
local flat = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local lo, hi, loMs, loSeq, hiMs, hiSeq
for i = 1, #flat, 2 do
  local ms, seq = string.match(flat[i], '^(%d+)%-(%d+)$')
  if ms then
    ms, seq = tonumber(ms), tonumber(seq)
    if not lo or ms < loMs or (ms == loMs and seq < loSeq) then lo, loMs, loSeq = flat[i], ms, seq end
    if not hi or ms > hiMs or (ms == hiMs and seq > hiSeq) then hi, hiMs, hiSeq = flat[i], ms, seq end
  end
end
local near = {}
if lo then
  for _, e in ipairs(redis.call('XRANGE', KEYS[2], lo, hi, 'COUNT', #flat)) do near[e[1]] = e[2] end
end
local out = {}
local leased, gone = {}, {}
for i = 1, #flat, 2 do
  local id = flat[i]
  local fields = near[id]
  if not fields then
    local e = redis.call('XRANGE', KEYS[2], id, id)
    if e[1] then fields = e[1][2] end
  end
  out[#out + 1] = id
  out[#out + 1] = flat[i + 1]
  if fields then
    leased[#leased + 1] = ARGV[2]
    leased[#leased + 1] = id
    out[#out + 1] = fields
  else
    gone[#gone + 1] = id
    out[#out + 1] = false
  end
end
-- Re-scored (and dropped) with one command per 500 entries, not one per entry.
for from = 1, #leased, 1000 do redis.call('ZADD', KEYS[1], unpack(leased, from, math.min(#leased, from + 999))) end
for from = 1, #gone, 500 do redis.call('ZREM', KEYS[1], unpack(gone, from, math.min(#gone, from + 499))) end
return out
`;

/**
 * XADD raw callbacks, mark them pending and count them received, atomically
 * (one script call for the callbacks a server received in the same turn of
 * its event loop), in order.
 * KEYS: log, totals, pending   ARGV: count, then kind, at, ip, ct, body per callback
 * Returns the ids, in order.
 */
const APPEND_MANY = `
local n = tonumber(ARGV[1])
local ids = {}
for i = 0, n - 1 do
  local b = 2 + i * 5
  local id = redis.call('XADD', KEYS[1], '*', 'kind', ARGV[b], 'at', ARGV[b + 1], 'ip', ARGV[b + 2], 'ct', ARGV[b + 3], 'body', ARGV[b + 4])
  redis.call('ZADD', KEYS[3], tonumber(ARGV[b + 1]), id)
  ids[#ids + 1] = id
end
redis.call('HINCRBY', KEYS[2], 'received', n)
return ids
`;

/**
 * Records what a batch of entries turned out to be, moves the counters and
 * takes the entries out of the pending set, atomically. A campaign's own
 * counters move only while it is listed: a callback interpreted just before
 * its campaign was deleted writes nothing back under it (the deployment's
 * totals still count it).
 * KEYS: totals, results, pending, campaigns listing, then each campaign's counters hash
 * ARGV: C (campaign hashes), their C campaign ids (same order), M, then M moves
 *       (key index into KEYS, counter, by), then (entry id, result) pairs
 */
const SETTLE_MANY = `
local c = tonumber(ARGV[1])
local listed = {}
for j = 1, c do listed[4 + j] = redis.call('ZSCORE', KEYS[4], ARGV[1 + j]) ~= false end
local m = tonumber(ARGV[2 + c])
local at = 3 + c
for i = 1, m do
  local key = tonumber(ARGV[at])
  if key == 1 or listed[key] then redis.call('HINCRBY', KEYS[key], ARGV[at + 1], tonumber(ARGV[at + 2])) end
  at = at + 3
end
local ids = {}
for from = at, #ARGV, 1000 do
  local to = math.min(#ARGV, from + 999)
  redis.call('HSET', KEYS[2], unpack(ARGV, from, to))
  for j = from, to, 2 do ids[#ids + 1] = ARGV[j] end
end
for from = 1, #ids, 500 do redis.call('ZREM', KEYS[3], unpack(ids, from, math.min(#ids, from + 499))) end
return #ids
`;

const APPEND_SCRIPT = luaScript(APPEND_MANY, 3);
const SETTLE_SCRIPT = luaScript(SETTLE_MANY, null);
const CLAIM_SCRIPT = luaScript(CLAIM, 1);
const LEASE_SCRIPT = luaScript(LEASE, 2);

/** Callbacks stored by one script call at most (one turn of the event loop gathers them). */
const APPEND_BATCH = 64;

/** The log stream and the two keys beside it (pending entries, recorded results). */
export function callbackLogKeys(k: Keys): { log: string; pending: string; results: string } {
  return { log: k.callbackLog, pending: `${k.callbackLog}:pending`, results: `${k.callbackLog}:results` };
}

export function makeCallbackLog(deps: { redis: Redis; keys: Keys }) {
  const { redis, keys: k } = deps;
  const { pending: pendingKey, results: resultsKey } = callbackLogKeys(k);

  /**
   * Stores the callback raw (and pending). Callbacks received in the same
   * turn of the event loop are stored by one script call (in order, all or
   * none), each caller answered once its own entry is written.
   */
  const append = makeTurnBatcher<RawCallback, string>({
    max: APPEND_BATCH,
    async run(batch) {
      const args: string[] = [String(batch.length)];
      for (const cb of batch) args.push(cb.kind, String(cb.receivedAt), cb.remoteIp, cb.contentType, cb.body);
      const ids = await runScript(redis, APPEND_SCRIPT, [k.callbackLog, k.callbackTotals, pendingKey], args);
      const list = Array.isArray(ids) ? ids.map(String) : [];
      if (list.length !== batch.length) throw new Error(`storing a batch of ${batch.length} callbacks returned ${list.length} ids`);
      return list;
    },
  });

  /** A log entry's fields as stored by APPEND_MANY, or null when damaged (checked by hand: it runs for every callback). */
  function parseEntry(id: string, fields: string[]): StoredCallback | null {
    let kind: string | undefined, at: string | undefined, ip: string | undefined, ct: string | undefined, body: string | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const v = fields[i + 1];
      switch (fields[i]) {
        case 'kind':
          kind = v;
          break;
        case 'at':
          at = v;
          break;
        case 'ip':
          ip = v;
          break;
        case 'ct':
          ct = v;
          break;
        case 'body':
          body = v;
          break;
      }
    }
    if (kind === undefined || !KINDS.has(kind) || at === undefined || !DIGITS.test(at) || ip === undefined || ct === undefined || body === undefined) return null;
    return { id, kind: kind as StoredCallbackKind, receivedAt: Number(at), remoteIp: ip, contentType: ct, body };
  }

  /** Reads the log in order, `from` and `to` included (stream ids), a page at a time. */
  async function* read(options: { from?: string; to?: string; pageSize?: number } = {}): AsyncGenerator<StoredCallback> {
    let start = options.from ?? '-';
    const end = options.to ?? '+';
    const page = options.pageSize ?? 500;
    for (;;) {
      const entries = await redis.xrange(k.callbackLog, start, end, 'COUNT', page);
      for (const [id, fields] of entries) {
        const e = parseEntry(id, fields);
        if (e) yield e;
      }
      if (entries.length < page) return;
      start = `(${entries[entries.length - 1]![0]}`;
    }
  }

  /** One stored entry, or null. */
  async function get(id: string): Promise<StoredCallback | null> {
    const entries = await redis.xrange(k.callbackLog, id, id);
    const e = entries[0];
    return e ? parseEntry(e[0], e[1]) : null;
  }

  async function length(): Promise<number> {
    return redis.xlen(k.callbackLog);
  }

  async function count(counter: CallbackCounter, campaignId: string | null, by = 1): Promise<void> {
    const m = redis.multi().hincrby(k.callbackTotals, counter, by);
    if (campaignId) m.hincrby(k.callbackCounts(campaignId), counter, by);
    await m.exec();
  }

  /**
   * Records what entries turned out to be, counts them and takes them out of
   * the pending set: one script call for the whole batch (SETTLE_MANY: a
   * campaign deleted meanwhile gets no counters back). `replacing` undoes
   * an earlier settlement of the same entry (an orphan adopted, a replay that
   * ties what was not tied before).
   */
  async function settle(batch: readonly { settlement: Settlement; replacing?: RecordedResult | null }[]): Promise<void> {
    if (batch.length === 0) return;
    // Counter moves are summed per hash and field first: a batch is a handful of moves, not four per entry.
    const campaignIds: string[] = [];
    const slotOf = new Map<string | null, number>([[null, 1]]);
    const moves = new Map<number, Map<string, number>>();
    const move = (campaignId: string | null, counter: string, by: number) => {
      let slot = slotOf.get(campaignId);
      if (slot === undefined) {
        campaignIds.push(campaignId!);
        slot = 4 + campaignIds.length;
        slotOf.set(campaignId, slot);
      }
      const fields = moves.get(slot) ?? new Map<string, number>();
      fields.set(counter, (fields.get(counter) ?? 0) + by);
      moves.set(slot, fields);
    };
    const records: string[] = [];
    for (const { settlement: s, replacing: prev } of batch) {
      if (prev) {
        move(null, prev.counter, -1);
        if (prev.campaignId) move(prev.campaignId, prev.counter, -1);
      }
      move(null, s.counter, 1);
      if (s.campaignId) move(s.campaignId, s.counter, 1);
      records.push(s.id, `${s.counter}|${s.kind}|${s.attemptId ?? ''}|${s.campaignId ?? ''}`);
    }
    const flat: string[] = [];
    for (const [slot, fields] of moves) for (const [counter, by] of fields) if (by !== 0) flat.push(String(slot), counter, String(by));
    const keyList = [k.callbackTotals, resultsKey, pendingKey, k.campaigns, ...campaignIds.map((cid) => k.callbackCounts(cid))];
    await runScript(redis, SETTLE_SCRIPT, keyList, [String(campaignIds.length), ...campaignIds, String(flat.length / 3), ...flat, ...records]);
  }

  function decodeResult(raw: string | null | undefined): RecordedResult | null {
    if (!raw) return null;
    const [counter = '', kind = '', attemptId = '', campaignId = ''] = raw.split('|');
    if (!COUNTER_SET.has(counter)) return null;
    return { counter: counter as CallbackCounter, kind, attemptId: attemptId || null, campaignId: campaignId || null };
  }

  /** The recorded settlements of these entries (null: never settled). */
  async function results(ids: readonly string[]): Promise<(RecordedResult | null)[]> {
    if (ids.length === 0) return [];
    const raw = await redis.hmget(resultsKey, ...ids);
    return raw.map(decodeResult);
  }

  /**
   * Takes up to `limit` entries stored but not settled, received (or last
   * claimed) at or before `before`, oldest first; they count as claimed at
   * `now` from then on.
   */
  async function claimPending(before: number, now: number, limit: number): Promise<string[]> {
    const ids = await runScript(redis, CLAIM_SCRIPT, [pendingKey], [String(Math.floor(before)), String(Math.floor(now)), String(limit)]);
    return Array.isArray(ids) ? ids.map(String) : [];
  }

  /**
   * Leases up to `limit` pending entries (received, or last leased, at or
   * before `now`) until `leaseUntil`, oldest first, with their stored fields.
   * `leasedBefore`: the entry was taken earlier and never settled (its effect
   * may already be on record). Ids whose log entry is gone come back in `gone`
   * (no longer pending).
   */
  async function lease(now: number, leaseUntil: number, limit: number): Promise<{ entries: { cb: StoredCallback; leasedBefore: boolean }[]; gone: string[]; damaged: string[] }> {
    const flat = await runScript(redis, LEASE_SCRIPT, [pendingKey, k.callbackLog], [String(Math.floor(now)), String(Math.floor(leaseUntil)), String(limit)]);
    const entries: { cb: StoredCallback; leasedBefore: boolean }[] = [];
    const gone: string[] = [];
    const damaged: string[] = [];
    if (!Array.isArray(flat)) return { entries, gone, damaged };
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const id = String(flat[i]);
      const score = Number(flat[i + 1]);
      const fields: unknown = flat[i + 2];
      if (!Array.isArray(fields)) {
        gone.push(id);
        continue;
      }
      const cb = parseEntry(id, fields.map(String));
      if (!cb) {
        damaged.push(id);
        continue;
      }
      entries.push({ cb, leasedBefore: score !== cb.receivedAt });
    }
    return { entries, gone, damaged };
  }

  async function pendingCount(): Promise<number> {
    return redis.zcard(pendingKey);
  }

  async function counters(campaignId: string | null): Promise<Record<CallbackCounter, number>> {
    const raw = await redis.hgetall(campaignId ? k.callbackCounts(campaignId) : k.callbackTotals);
    return Object.fromEntries(CALLBACK_COUNTERS.map((c) => [c, Number(raw[c] ?? 0)])) as Record<CallbackCounter, number>;
  }

  return { append, read, get, length, count, settle, results, claimPending, lease, pendingCount, counters };
}

export type CallbackLog = ReturnType<typeof makeCallbackLog>;
