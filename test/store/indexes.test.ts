/**
 * The call-uuid look-ups on real Redis: a canonical uuid is shortened in its
 * key, and look-ups written before that (the uuid in full) are still found.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { keys as makeKeys } from '../../src/store/keys.js';
import { callUuidKeyPart, makeAttemptStore } from '../../src/store/attempts.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';

describe('call-uuid look-ups', () => {
  const prefix = testPrefix('store-indexes');
  const k = makeKeys(prefix);
  let redis: Redis;
  beforeAll(() => {
    redis = connectRedis();
  });
  afterAll(async () => {
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('a canonical uuid takes 23 characters of its key, any other id is kept as it is', () => {
    expect(callUuidKeyPart('bc46be0f-d69c-46e6-a23e-417c15f07666')).toBe('~vEa-D9acRuaiPkF8FfB2Zg');
    expect(callUuidKeyPart('BC46BE0F-D69C-46E6-A23E-417C15F07666')).toBe('BC46BE0F-D69C-46E6-A23E-417C15F07666');
    expect(callUuidKeyPart('vEa-D9acRuaiPkF8FfB2Zg')).toBe('vEa-D9acRuaiPkF8FfB2Zg');
    expect(callUuidKeyPart('u-7')).toBe('u-7');
  });

  it('finds what it wrote, and what was written with the uuid in full', async () => {
    const store = makeAttemptStore({ redis, keys: k });
    const uuid = '3418035c-0000-4000-8000-000000000001';
    await store.rememberCallUuid(uuid, 'abcdefgh-1-1', 60_000);
    expect(await redis.get(k.callUuid(callUuidKeyPart(uuid)))).toBe('abcdefgh-1-1');
    expect(await redis.exists(k.callUuid(uuid))).toBe(0);
    expect(await store.byCallUuid(uuid)).toBe('abcdefgh-1-1');

    const older = '3418035c-0000-4000-8000-000000000002';
    await redis.set(k.callUuid(older), 'abcdefgh-2-1', 'PX', 60_000);
    expect(await store.byCallUuid(older)).toBe('abcdefgh-2-1');

    await store.rememberCallUuid('u-plain', 'abcdefgh-3-1', 60_000);
    expect(await store.byCallUuid('u-plain')).toBe('abcdefgh-3-1');
    expect(await store.byCallUuid('3418035c-0000-4000-8000-000000000003')).toBeNull();
  });
});
