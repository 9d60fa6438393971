import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { keys as makeKeys, type Keys } from '../../src/store/keys.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of its own for one test file, so files never collide. */
export function testPrefix(name: string): string {
  return `adtest-${name}-${randomBytes(4).toString('hex')}`;
}

export function connectRedis(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: null });
}

/** Deletes every key under the prefix (SCAN, never KEYS). */
export async function cleanPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) n += await redis.unlink(...keys);
  } while (cursor !== '0');
  return n;
}

/**
 * For a describe block: one connection for its tests and key sets under
 * prefixes of their own, every one cleaned after the block.
 */
export function redisKeySets(): { redis(): Redis; fresh(name: string): Keys } {
  let redis: Redis | null = null;
  const prefixes: string[] = [];
  beforeAll(() => {
    redis = connectRedis();
  });
  afterAll(async () => {
    for (const p of prefixes) await cleanPrefix(redis!, p);
    redis?.disconnect();
  });
  return {
    redis: () => redis!,
    fresh(name) {
      const p = testPrefix(name);
      prefixes.push(p);
      return makeKeys(p);
    },
  };
}
