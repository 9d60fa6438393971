/**
 * What the archiver reads of a campaign in Redis, a page of contacts at a
 * time: rows, states and attempts (decoded by their stores), as they are
 * stored so that they can be removed only if unchanged; and the scripts
 * that mark contacts archived and remove a page that left for the history
 * store.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Keys } from '../store/keys.js';
import { ROW_BUCKET, parseContactRow, parseContactState, type ContactRow, type ContactState } from '../store/contacts.js';
import { decodeAttemptValue, type StoredAttempt } from '../store/attempts.js';
import { attemptId } from '../store/ids.js';
import { luaScript, runScript } from '../infra/lua.js';
import type { HistoryKeys } from './keys.js';

export interface ContactItem {
  idx: number;
  row: ContactRow | null;
  /** The state as stored ('' when none): removal compares it. */
  stateRaw: string;
  state: ContactState;
  /** Attempts 1..state.n: stored value ('' when none) and decoded record. */
  attempts: { id: string; raw: string; a: StoredAttempt | null }[];
}

/** What removing a contact from Redis compares with what is there: its state and attempts as read. */
export type PurgeItem = Pick<ContactItem, 'idx' | 'stateRaw'> & { attempts: Pick<ContactItem['attempts'][number], 'id' | 'raw'>[] };

/** Marks contacts archived, 250 bits to a BITFIELD command. KEYS: bits; ARGV: contact indexes. */
const MARK = luaScript(
  `for from = 1, #ARGV, 250 do
  local ops = {}
  for i = from, math.min(#ARGV, from + 249) do
    ops[#ops + 1] = 'SET'
    ops[#ops + 1] = 'u1'
    ops[#ops + 1] = ARGV[i]
    ops[#ops + 1] = 1
  end
  redis.call('BITFIELD', KEYS[1], unpack(ops))
end
return #ARGV`,
  1,
);

/**
 * Removes a page of contacts that the history store now holds, if nothing
 * changed since it was read, and moves the marker past it; all or nothing.
 * KEYS: states, marker, lock, then the attempt keys
 * ARGV: lock token, purgeAt after the page, n, then n pairs (idx, state as read),
 *       then each attempt key's value as read ('' = none)
 * Returns 'ok', 'lock' (no longer the archiver at work) or 'changed:<what>'.
 */
const PURGE_PAGE = luaScript(
  `if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 'lock' end
local n = tonumber(ARGV[3])
for i = 1, n do
  local cur = redis.call('HGET', KEYS[1], ARGV[2 + 2 * i]) or ''
  if cur ~= ARGV[3 + 2 * i] then return 'changed:contact ' .. ARGV[2 + 2 * i] end
end
for j = 4, #KEYS do
  local cur = redis.call('GET', KEYS[j]) or ''
  if cur ~= ARGV[2 * n + j] then return 'changed:' .. KEYS[j] end
end
local fields = {}
for i = 1, n do fields[#fields + 1] = ARGV[2 + 2 * i] end
for from = 1, #fields, 500 do redis.call('HDEL', KEYS[1], unpack(fields, from, math.min(#fields, from + 499))) end
for from = 4, #KEYS, 500 do redis.call('UNLINK', unpack(KEYS, from, math.min(#KEYS, from + 499))) end
redis.call('HSET', KEYS[2], 'purgeAt', ARGV[2])
return 'ok'`,
  null,
);

export function makeContactSource(deps: { redis: Redis; keys: Keys; hk: HistoryKeys; log: Logger }) {
  const { redis, keys: k, hk, log } = deps;

  /** Contacts `from <= idx < from + count` not marked archived (all of them with `all`). */
  async function candidates(cid: string, from: number, count: number, all: boolean): Promise<number[]> {
    const idxs: number[] = [];
    if (all) {
      for (let i = from; i < from + count; i++) idxs.push(i);
      return idxs;
    }
    const first = from >> 3;
    const bits = await redis.getrangeBuffer(hk.bits(cid), first, (from + count - 1) >> 3);
    for (let i = from; i < from + count; i++) {
      const byte = bits[(i >> 3) - first] ?? 0;
      if ((byte & (0x80 >> (i & 7))) === 0) idxs.push(i);
    }
    return idxs;
  }

  async function rows(cid: string, idxs: readonly number[]): Promise<Map<number, ContactRow | null>> {
    const byBucket = new Map<number, number[]>();
    for (const i of idxs) {
      const b = Math.floor(i / ROW_BUCKET);
      const list = byBucket.get(b) ?? [];
      list.push(i);
      byBucket.set(b, list);
    }
    const out = new Map<number, ContactRow | null>();
    await Promise.all(
      [...byBucket].map(async ([b, list]) => {
        const lo = Math.min(...list) % ROW_BUCKET;
        const hi = Math.max(...list) % ROW_BUCKET;
        const got = await redis.lrange(k.rowBucket(cid, b), lo, hi);
        for (const i of list) {
          const raw = got[(i % ROW_BUCKET) - lo];
          let row: ContactRow | null = null;
          try {
            row = raw === undefined ? null : parseContactRow(raw);
          } catch (err) {
            log.error({ err, campaignId: cid, contact: i }, 'a contact row is damaged: archived without its cells');
          }
          out.set(i, row);
        }
      }),
    );
    return out;
  }

  async function attemptValues(ids: readonly string[]): Promise<(string | null)[]> {
    const out: (string | null)[] = [];
    for (let i = 0; i < ids.length; i += 500) out.push(...(await redis.mget(...ids.slice(i, i + 500).map((id) => k.attempt(id)))));
    return out;
  }

  /**
   * A page of contacts: those not archived yet and final (`all`: every one,
   * whatever its state), with rows, states and attempts. A contact whose
   * state cannot be read is left out (logged).
   */
  async function page(cid: string, from: number, count: number, opts: { all: boolean }): Promise<ContactItem[]> {
    const idxs = await candidates(cid, from, count, opts.all);
    if (idxs.length === 0) return [];
    const states = await redis.hmget(k.contactState(cid), ...idxs.map(String));
    const chosen: { idx: number; stateRaw: string; state: ContactState }[] = [];
    idxs.forEach((idx, i) => {
      const stateRaw = states[i] ?? '';
      try {
        const state = parseContactState(stateRaw);
        if (opts.all || state.s !== 'pending') chosen.push({ idx, stateRaw, state });
      } catch (err) {
        log.error({ err, campaignId: cid, contact: idx }, 'a contact state is damaged: not archived');
      }
    });
    if (chosen.length === 0) return [];
    const ids = chosen.flatMap((c) => Array.from({ length: c.state.n }, (_, j) => attemptId({ campaignId: cid, contact: c.idx, attempt: j + 1 })));
    const [rowOf, values] = await Promise.all([rows(cid, chosen.map((c) => c.idx)), attemptValues(ids)]);
    let at = 0;
    return chosen.map((c) => {
      const attempts = Array.from({ length: c.state.n }, () => {
        const id = ids[at]!;
        const raw = values[at++] ?? '';
        let a: StoredAttempt | null = null;
        try {
          a = raw === '' ? null : decodeAttemptValue(id, raw);
        } catch (err) {
          log.error({ err, attemptId: id }, 'an attempt record is damaged: archived without it');
        }
        return { id, raw, a };
      });
      return { idx: c.idx, row: rowOf.get(c.idx) ?? null, stateRaw: c.stateRaw, state: c.state, attempts };
    });
  }

  async function mark(cid: string, idxs: readonly number[]): Promise<void> {
    for (let i = 0; i < idxs.length; i += 1000) await runScript(redis, MARK, [hk.bits(cid)], idxs.slice(i, i + 1000).map(String));
  }

  /** The first contact at or after `from` not marked archived (capped at `total`); every one below `from` is. */
  async function firstUnarchived(cid: string, from: number, total: number): Promise<number> {
    // From the byte holding `from`: the bits before it in that byte are set (all below `from` are archived).
    const pos = await redis.bitpos(hk.bits(cid), 0, from >> 3);
    return Math.min(total, Math.max(from, pos));
  }

  /** Removes a page read by `page(…, { all: true })` if unchanged; see PURGE_PAGE. */
  async function purge(cid: string, items: readonly PurgeItem[], purgeAt: number, token: string): Promise<'ok' | 'lock' | string> {
    const attemptKeys = items.flatMap((c) => c.attempts.map((a) => k.attempt(a.id)));
    const args: string[] = [token, String(purgeAt), String(items.length)];
    for (const c of items) args.push(String(c.idx), c.stateRaw);
    for (const c of items) for (const a of c.attempts) args.push(a.raw);
    const r = await runScript(redis, PURGE_PAGE, [k.contactState(cid), hk.marker(cid), hk.lock, ...attemptKeys], args);
    return String(r);
  }

  return { page, mark, firstUnarchived, purge };
}

export type ContactSource = ReturnType<typeof makeContactSource>;
