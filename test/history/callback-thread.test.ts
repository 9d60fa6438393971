/**
 * Raw callbacks archived in a worker thread: the thread connects to Redis
 * and PostgreSQL on its own, runs a pass when asked and answers with its
 * tally; one that cannot start fails its pass with the reason, and the next
 * pass starts it again; closing it ends the thread. It also archives the
 * ranges of contacts it is handed, and an archiver with the thread shares
 * each sweep with it: every contact written once, by one of the two.
 * Messages between the threads are checked at the edge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContainer, type Container } from '../../src/app/container.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/infra/logger.js';
import { parseThreadReply, parseThreadRequest, startCallbackThread } from '../../src/history/callback-thread.js';
import { cleanPrefix, connectRedis, REDIS_URL, testPrefix } from '../support/redis.js';
import { makeArchiver } from '../../src/history/archiver.js';
import { makeCampaignSummary } from '../../src/history/summary.js';
import { createDatabase, finishedCampaign, type TestDatabase } from './support.js';

const log = createLogger({ level: 'silent' });
/** A provider for the campaigns (never called: their calls are made through the attempt service). */
const SIPCALL = { SIPCALL_API_URL: 'http://127.0.0.1:1', SIPCALL_TOKEN: '0123456789abcdef0123456789abcdef', SIPCALL_TIMEZONE: 'Asia/Shanghai' };

describe('the callback thread', () => {
  const prefix = testPrefix('cb-thread');
  const redis = connectRedis();
  let db: TestDatabase;
  let c: Container;

  beforeAll(async () => {
    db = await createDatabase('cb_thread');
    const config = loadConfig({ REDIS_URL, AUTODIALER_PREFIX: prefix, DATABASE_URL: db.url, AUTODIALER_ARCHIVER_THREAD: 'off', ...SIPCALL, LOG_LEVEL: 'silent' }, null);
    c = await createContainer(config, { redis, log });
    await c.history.store!.ready();
  });

  afterAll(async () => {
    await c.close();
    await cleanPrefix(redis, prefix);
    redis.disconnect();
    await db.drop();
  });

  it('archives the settled callbacks when asked, and ends when closed', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      ids.push(await c.callbackLog.append({ kind: 'sipcall-cdr', receivedAt: Date.now(), remoteIp: '127.0.0.1', contentType: 'application/json', body: `{"customuuid":"nobody-${i}"}` }));
    }
    await c.callbackLog.settle(ids.map((id) => ({ settlement: { id, counter: 'orphan' as const, kind: 'orphan', attemptId: null, campaignId: null } })));

    const thread = startCallbackThread({ redis: { kind: 'url', url: REDIS_URL }, prefix, databaseUrl: db.url, logLevel: 'silent' }, log);
    await thread.ready();
    const pass = await thread.pass(Date.now());
    expect(pass.archived).toBe(30);
    // Results that found no attempt stay in Redis a day.
    expect(pass.removed).toBe(0);
    const rows = await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM autodialer.callbacks WHERE counter = 'orphan'`);
    expect(Number(rows.rows[0]!.n)).toBe(30);
    // Nothing new: a second pass writes nothing.
    expect((await thread.pass(Date.now())).archived).toBe(0);
    await thread.close();
    await thread.close();
  }, 30_000);

  it('archives a range of contacts it is handed, and marks them archived', async () => {
    const cid = await finishedCampaign(c, 1500);
    const thread = startCallbackThread({ redis: { kind: 'url', url: REDIS_URL }, prefix, databaseUrl: db.url, logLevel: 'silent' }, log);
    try {
      expect(await thread.archive(cid, { at: 0, count: 1000 }, 100)).toEqual({ contacts: 1000, attempts: 1000 });
      expect(await thread.archive(cid, { at: 1000, count: 500 }, 100)).toEqual({ contacts: 500, attempts: 500 });
      // Marked: handed again, the range gives nothing, and the archiver's own pass writes none of them again.
      expect(await thread.archive(cid, { at: 0, count: 1500 }, 100)).toEqual({ contacts: 0, attempts: 0 });
      expect((await c.history.archiver!.pass()).contacts).toBe(0);
      expect(await c.history.store!.counts(cid)).toMatchObject({ contacts: 1500, attempts: 1500 });
    } finally {
      await thread.close();
    }
  }, 60_000);

  it('shares a sweep with the archiver: each contact written once, by one thread or the other', async () => {
    const config = loadConfig({ REDIS_URL, AUTODIALER_PREFIX: prefix, DATABASE_URL: db.url, AUTODIALER_ARCHIVER_THREAD: 'on', ...SIPCALL, LOG_LEVEL: 'silent' }, null);
    const withThread = await createContainer(config, { redis: connectRedis(), log });
    try {
      const cid = await finishedCampaign(withThread, 4000);
      let written = 0;
      withThread.history.archiver!.events.on('history:written', (e) => {
        if (e.campaignId === cid) written += e.contacts;
      });
      const pass = await withThread.history.archiver!.pass();
      // The whole campaign in one pass (at most 100 pages of 500), both threads at work, no range given twice.
      expect(pass.contacts).toBe(4000);
      expect(pass.contactsByThread).toBeGreaterThan(0);
      expect(pass.contactsByThread).toBeLessThan(4000);
      expect(written).toBe(4000);
      expect(await withThread.history.store!.counts(cid)).toMatchObject({ contacts: 4000, attempts: 4000 });
      expect((await withThread.history.archiver!.pass()).contacts).toBe(0);
    } finally {
      await withThread.close();
    }
  }, 60_000);

  it('a range the thread fails is archived by the main thread, and the sweep goes on', async () => {
    const cid = await finishedCampaign(c, 6000);
    // A real thread that cannot start (its Redis refuses): every range handed to it fails.
    const broken = startCallbackThread({ redis: { kind: 'url', url: 'redis://127.0.0.1:1' }, prefix, databaseUrl: db.url, logLevel: 'silent' }, log);
    const archiver = makeArchiver({
      redis: c.redis,
      keys: c.keys,
      prefix,
      store: c.history.store!,
      campaigns: c.campaigns,
      callbackLog: c.callbackLog,
      summary: makeCampaignSummary(c),
      shrink: (id) => c.purge.shrink(id),
      now: Date.now,
      log,
      options: { redisKeepMs: 3_600_000 },
      ranges: broken,
    });
    try {
      const pass = await archiver.pass();
      expect(pass.contacts).toBe(6000);
      expect(pass.contactsByThread).toBe(0);
      expect(await c.history.store!.counts(cid)).toMatchObject({ contacts: 6000, attempts: 6000 });
    } finally {
      await broken.close();
    }
  }, 60_000);

  it('fails a pass with the reason when it cannot start, and starts again at the next one', async () => {
    const thread = startCallbackThread({ redis: { kind: 'url', url: 'redis://127.0.0.1:1' }, prefix, databaseUrl: db.url, logLevel: 'silent' }, log);
    await expect(thread.pass(Date.now())).rejects.toThrow(/callback thread could not start: .*127\.0\.0\.1:1/);
    await expect(thread.pass(Date.now())).rejects.toThrow(/callback thread could not start/);
    await thread.close();
  }, 30_000);

  it('checks what passes between the threads', () => {
    expect(parseThreadRequest({ kind: 'pass', id: 3, now: 5 })).toEqual({ kind: 'pass', id: 3, now: 5 });
    expect(parseThreadRequest({ kind: 'pass', id: -1, now: 5 })).toBeNull();
    expect(parseThreadRequest({ kind: 'pass', id: 1, now: 'soon' })).toBeNull();
    expect(parseThreadRequest('close')).toBeNull();
    expect(parseThreadRequest({ kind: 'contacts', id: 2, cid: 'c1', range: { at: 0, count: 500 }, pageSize: 100 })).toEqual({ kind: 'contacts', id: 2, cid: 'c1', range: { at: 0, count: 500 }, pageSize: 100 });
    expect(parseThreadRequest({ kind: 'contacts', id: 2, cid: 'c1', range: { at: 0, count: 500 }, pageSize: 0 })).toBeNull();
    expect(parseThreadRequest({ kind: 'contacts', id: 2, cid: '', range: { at: 0, count: 500 }, pageSize: 100 })).toBeNull();
    expect(parseThreadRequest({ kind: 'contacts', id: 2, cid: 'c1', range: { at: -1, count: 500 }, pageSize: 100 })).toBeNull();
    expect(parseThreadReply({ kind: 'contacts', id: 2, counts: { contacts: 3, attempts: 4 } })).toEqual({ kind: 'contacts', id: 2, counts: { contacts: 3, attempts: 4 } });
    expect(parseThreadReply({ kind: 'contacts', id: 2, counts: { contacts: 3 } })).toBeNull();
    expect(parseThreadReply({ kind: 'pass', id: 1, pass: { archived: 2, removed: 1, waiting: 0, extra: true } })).toEqual({ kind: 'pass', id: 1, pass: { archived: 2, removed: 1, waiting: 0 } });
    expect(parseThreadReply({ kind: 'pass', id: 1, pass: { archived: 2.5, removed: 1, waiting: 0 } })).toBeNull();
    expect(parseThreadReply({ kind: 'failed', id: 1 })).toBeNull();
    expect(parseThreadReply({ kind: 'broken', message: 'no Redis' })).toEqual({ kind: 'broken', message: 'no Redis' });
    expect(parseThreadReply(null)).toBeNull();
  });
});
