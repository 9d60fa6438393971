/**
 * Without a history store, finished campaigns are deleted once they are
 * older than AUTODIALER_HISTORY_RETENTION; on real Redis, through the
 * container's own deletion.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container } from '../../src/app/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { makeHistoryRetention } from '../../src/store/history-retention.js';
import { cleanPrefix, connectRedis, REDIS_URL, testPrefix } from '../support/redis.js';

const DAY = 86_400_000;

describe('history retention without a database', () => {
  const prefix = testPrefix('history-retention');
  let redis: Redis;
  let c: Container;
  beforeAll(async () => {
    redis = connectRedis();
    const config = loadConfig({ REDIS_URL, AUTODIALER_PREFIX: prefix, SIPCALL_API_URL: 'http://127.0.0.1:1', SIPCALL_TOKEN: '0123456789abcdef0123456789abcdef', LOG_LEVEL: 'silent' }, null);
    c = await createContainer(config, { redis, providers: new Map(), log: createLogger({ level: 'silent' }) });
  });
  afterAll(async () => {
    await c.close(0);
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  /** A campaign of three contacts, in `state`, finished `ago` ms before now (null: not finished), none pending unless `pending`. */
  async function campaign(state: 'completed' | 'cancelled' | 'running', ago: number | null, pending = 0): Promise<string> {
    const def = c.definition({ action: 'playvoice', params: { voicetype: '2', voicefile: 'http://example.invalid/a.mp3', chengshudu: '1', userid: '1@extGroup-1' }, ingest: { region: 'CN' } });
    const list = Readable.from(['phone\n13800000001\n13800000002\n13800000003\n']);
    const { id } = await c.createCampaign(def, list, 'three.csv');
    await redis.hset(c.keys.counts(id), 'pending', String(pending));
    await redis.hset(c.keys.campaign(id), 'state', state);
    if (ago !== null) await redis.hset(c.keys.campaign(id), 'finishedAt', new Date(Date.now() - ago).toISOString());
    c.cache.invalidate(id);
    return id;
  }

  /** The campaign's keys and its attempts' (SCAN, never KEYS). */
  async function keysOf(id: string): Promise<string[]> {
    const found: string[] = [];
    for (const pattern of [`${prefix}:cmp:${id}*`, `${prefix}:att:${id}-*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        found.push(...keys);
      } while (cursor !== '0');
    }
    return found;
  }

  it('deletes the campaigns that finished before the retention, and only those', { timeout: 90_000 }, async () => {
    const old = await campaign('completed', 31 * DAY);
    const oldCancelled = await campaign('cancelled', 40 * DAY);
    const recent = await campaign('completed', 29 * DAY);
    const running = await campaign('running', null);
    const inFlight = await campaign('cancelled', 40 * DAY, 1);
    await redis.set(c.keys.attempt(`${old}-0-1`), '1|~fas----138');
    expect(await keysOf(old)).not.toEqual([]);

    const retention = makeHistoryRetention({ campaigns: c.campaigns, purge: (id) => c.purge.purge(id), now: () => Date.now(), retentionMs: 30 * DAY, log: createLogger({ level: 'silent' }) });
    const pass = await retention.expire();
    expect(pass.deleted.sort()).toEqual([old, oldCancelled].sort());
    expect(pass.kept).toEqual([{ id: inFlight, why: expect.stringMatching(/1 of its contacts are not final yet/) }]);
    expect(await keysOf(old)).toEqual([]);
    expect(await keysOf(oldCancelled)).toEqual([]);
    for (const id of [recent, running, inFlight]) expect(await c.campaigns.get(id)).not.toBeNull();
    expect(await c.campaigns.list()).not.toContain(old);

    // Again: nothing more goes.
    expect((await retention.expire()).deleted).toEqual([]);
  });
});
