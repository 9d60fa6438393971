/**
 * What a deployment keeps in Redis, for the soak: every key under its prefix
 * with its type, time to live and element count; a census by kind for the
 * per-minute line; and the comparison of the end against the baseline
 * (keys left over, keys that only wait for their expiry, keys that grew).
 */
import type { Redis } from 'ioredis';

export interface KeyInfo {
  key: string;
  type: string;
  /** Milliseconds to live; -1 without an expiry. */
  ttlMs: number;
  /** Elements (hash fields, set/zset members, list/stream entries) or a string's bytes. */
  size: number;
  /** A deployment hash's field names (up to MAX_FIELDS of them), to say what a grown one gained. */
  fields?: string[];
}

const MAX_FIELDS = 5000;

export const KEY_KINDS = ['campaign', 'attempt', 'look-up', 'callback log', 'deployment'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

/** What a key is for: a campaign's own, an attempt record, a day-long look-up, the callback log, or the deployment's. */
export function keyKind(prefix: string, key: string): KeyKind {
  const rest = key.slice(prefix.length + 1);
  if (/^(cmp:|pace:camp:|bull:dial-)/.test(rest)) return 'campaign';
  if (rest.startsWith('att:')) return 'attempt';
  if (/^(calluuid|callee|freq|pbxid):/.test(rest)) return 'look-up';
  if (rest === 'callbacks' || rest.startsWith('callbacks:')) return 'callback log';
  return 'deployment';
}

/** A key's shape: campaign ids, attempt ids, numbers and uuids as `*`. */
export function keyShape(prefix: string, key: string): string {
  const rest = key
    .slice(prefix.length + 1)
    .replace(/^(att|calluuid|freq|pbxid):.*$/, '$1:*')
    .replace(/^(callee:[a-z]+):.*$/, '$1:*')
    .replace(/^(cmp|pace:camp):[a-z0-9]+/, '$1:<cid>')
    .replace(/^bull:dial-[a-z0-9]+/, 'bull:dial-<cid>')
    .replace(/^(bull:dial-<cid>):[^:]+$/, '$1:<job>')
    .replace(/^(outbox:d):.*$/, '$1:*');
  return `<prefix>:${rest}`;
}

const SIZE: Record<string, string> = { hash: 'HLEN', set: 'SCARD', zset: 'ZCARD', list: 'LLEN', stream: 'XLEN', string: 'STRLEN' };

/** Every key under `prefix:` (SCAN) with its type, PTTL and size. */
export async function snapshot(redis: Redis, prefix: string): Promise<Map<string, KeyInfo>> {
  const out = new Map<string, KeyInfo>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const p = redis.pipeline();
    for (const k of keys) p.type(k).pttl(k);
    const r = (await p.exec()) ?? [];
    const types = keys.map((_, i) => String(r[i * 2]?.[1] ?? 'none'));
    const q = redis.pipeline();
    keys.forEach((k, i) => q.call(SIZE[types[i]!] ?? 'EXISTS', k));
    const sizes = (await q.exec()) ?? [];
    for (const [i, k] of keys.entries()) {
      if (types[i] === 'none') continue; // gone between SCAN and TYPE
      const size = Number(sizes[i]?.[1] ?? 0);
      const fields = types[i] === 'hash' && size <= MAX_FIELDS && keyKind(prefix, k) === 'deployment' ? await redis.hkeys(k) : undefined;
      out.set(k, { key: k, type: types[i]!, ttlMs: Number(r[i * 2 + 1]?.[1] ?? -1), size, ...(fields ? { fields } : {}) });
    }
  } while (cursor !== '0');
  return out;
}

export interface Census {
  keys: Record<KeyKind, number>;
  /** Entries in the raw callback log (kept for AUTODIALER_CALLBACK_RETENTION). */
  callbackEntries: number;
}

/** Keys by kind (one SCAN, no per-key command) and the callback log's length. */
export async function census(redis: Redis, prefix: string): Promise<Census> {
  const keys = Object.fromEntries(KEY_KINDS.map((k) => [k, 0])) as Record<KeyKind, number>;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 2000);
    cursor = next;
    for (const k of found) keys[keyKind(prefix, k)]++;
  } while (cursor !== '0');
  const callbackEntries = (await redis.exists(`${prefix}:callbacks`)) ? await redis.xlen(`${prefix}:callbacks`) : 0;
  return { keys, callbackEntries };
}

export interface Leftovers {
  /** Not in the baseline and without an expiry: they would stay for ever. */
  left: KeyInfo[];
  /** Not in the baseline, with an expiry: they go by themselves. */
  expiring: KeyInfo[];
  /** In the baseline, without an expiry, with more elements than then (a hash: the fields it gained, as far as its fields were listed). */
  grown: { key: string; type: string; before: number; after: number; added: string[] }[];
}

/**
 * The end against the baseline. A key of the baseline may hold up to `slack`
 * elements more (structures of the last second or minute, bounded by time).
 */
export function compare(baseline: ReadonlyMap<string, KeyInfo>, end: ReadonlyMap<string, KeyInfo>, slack = 0): Leftovers {
  const out: Leftovers = { left: [], expiring: [], grown: [] };
  for (const info of end.values()) {
    const before = baseline.get(info.key);
    if (!before) {
      (info.ttlMs >= 0 ? out.expiring : out.left).push(info);
      continue;
    }
    // A key with an expiry (a send log of the last seconds, say) goes by itself: only one kept for ever can grow.
    if (info.type !== 'string' && info.ttlMs < 0 && info.size > before.size + slack) {
      const had = new Set(before.fields ?? []);
      const added = (info.fields ?? []).filter((f) => !had.has(f));
      out.grown.push({ key: info.key, type: info.type, before: before.size, after: info.size, added });
    }
  }
  out.left.sort((a, b) => a.key.localeCompare(b.key));
  return out;
}

/** Keys grouped by shape: count, one example, the longest time to live. */
export function byShape(prefix: string, infos: readonly KeyInfo[]): { shape: string; count: number; example: string; maxTtlMs: number; type: string }[] {
  const groups = new Map<string, { shape: string; count: number; example: string; maxTtlMs: number; type: string }>();
  for (const i of infos) {
    const shape = keyShape(prefix, i.key);
    const g = groups.get(shape) ?? { shape, count: 0, example: i.key, maxTtlMs: -1, type: i.type };
    g.count++;
    g.maxTtlMs = Math.max(g.maxTtlMs, i.ttlMs);
    groups.set(shape, g);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count);
}
