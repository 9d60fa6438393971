/**
 * Redis bytes of every key under a prefix, by MEMORY USAGE with SAMPLES 0
 * (every element counted, not an estimate from a sample: the same keys give
 * the same bytes on every run), grouped by what each key is.
 */
import type { Redis } from 'ioredis';

export interface KeyGroup {
  /** The key's shape: the prefix as `<prefix>`, ids as `*`. */
  group: string;
  keys: number;
  bytes: number;
}

/** A key's shape: ids, numbers and numbers' parts replaced by `*`. */
export function keyShape(prefix: string, key: string): string {
  const rest = key.startsWith(`${prefix}:`) ? key.slice(prefix.length + 1) : key;
  const shaped = rest
    .replace(/^att:.*$/, 'att:*')
    .replace(/^(calluuid|pbxid|freq|callee:[a-z]+):.*$/, '$1:*')
    .replace(/^cmp:[a-z0-9]{8}/, 'cmp:<cid>')
    .replace(/^(cmp:<cid>:rows):\d+$/, '$1:*')
    .replace(/^bull:dial-[a-z0-9]{8}:(?:[0-9a-z]+-)?\d+(?::\d+)?$/, 'bull:dial-<cid>:<job>')
    .replace(/^bull:dial-[a-z0-9]{8}/, 'bull:dial-<cid>');
  return `<prefix>:${shaped}`;
}

/** Every key under `prefix:` (SCAN), with its MEMORY USAGE (SAMPLES 0), summed by shape. */
export async function redisBytes(redis: Redis, prefix: string, shape: (key: string) => string = (k) => keyShape(prefix, k)): Promise<KeyGroup[]> {
  const groups = new Map<string, KeyGroup>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 2000);
    cursor = next;
    if (keys.length === 0) continue;
    const m = redis.pipeline();
    for (const key of keys) m.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    const replies = (await m.exec()) ?? [];
    keys.forEach((key, i) => {
      const bytes = Number(replies[i]?.[1] ?? 0);
      const g = shape(key);
      const cur = groups.get(g) ?? { group: g, keys: 0, bytes: 0 };
      cur.keys++;
      cur.bytes += bytes;
      groups.set(g, cur);
    });
  } while (cursor !== '0');
  return [...groups.values()].sort((a, b) => b.bytes - a.bytes);
}

export const sumBytes = (groups: readonly KeyGroup[], pick: (g: KeyGroup) => boolean = () => true): number =>
  groups.filter(pick).reduce((n, g) => n + g.bytes, 0);
