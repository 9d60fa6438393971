/**
 * A campaign run against the simulator, then archived to a real PostgreSQL
 * and purged from Redis: every export reads the same bytes before and
 * after, its status too; only its summary stays in Redis; applied
 * callbacks leave Redis once written, an orphan stays; a deletion moves a
 * campaign to the history store first, and its status and exports are read
 * from there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startHarness, csvSource, SECRET, type Harness } from '../support/harness.js';
import { connectRedis } from '../support/redis.js';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container } from '../../src/app/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/shared.js';
import type { CampaignStatus } from '../../src/reports/status.js';
import { dialQueueName } from '../../src/store/ids.js';
import { sipcallCdr } from '../callbacks/support.js';
import { createDatabase, exportsOf, keysMatching, passUntil, type TestDatabase } from './support.js';

const params = { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' };

const CSV = [
  'phone,name,note',
  '13800000501,"Wang, Li","said ""hi"""',
  '13800000502,Zhang,',
  '13800000503,Li,  padded  ',
  'not-a-number,Bad,',
  '13800000501,Dup,duplicate',
  '13800000504,Extra,x,extra-cell',
  '13800000505,Ünïcödé,"line one',
  'line two"',
].join('\n');

const SCRIPT = {
  '13800000501': ['answered:1:30'],
  '13800000502': ['busy', 'answered'],
  '13800000503': ['no_answer', 'no_answer'],
  '13800000504': ['failed', 'busy'],
  '13800000505': ['answered'],
};

/** The status without what moves with the clock alone (the rate of the last seconds). */
const steady = (s: CampaignStatus | null) => {
  if (!s) return null;
  const { rateNow: _rate, ...rest } = s;
  return rest;
};

describe('archiving a finished campaign to the history store', () => {
  let db: TestDatabase;
  let h: Harness;

  beforeAll(async () => {
    db = await createDatabase('archive');
    // Every CDR comes twice: the attempts count their duplicates.
    h = await startHarness('hist-archive', { script: SCRIPT, duplicateCdrRate: 1 }, { DATABASE_URL: db.url });
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
  }, 30_000);
  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  async function finished(csv: string): Promise<string> {
    const def = h.container.definition({ action: 'playvoice', params, cps: 20, maxConcurrent: 5, maxAttempts: 2, retryDelay: '1s', resultTimeout: '5s' });
    const done = h.container.events.waitFor('campaign:completed', () => true, 60_000);
    const { id } = await h.container.createCampaign(def, csvSource(csv), 'archive.csv');
    if ((await h.container.campaigns.get(id))?.state !== 'completed') await done;
    // The duplicate CDRs are in and interpreted.
    await h.sim.whenIdle();
    await h.container.receiver.idle();
    return id;
  }

  /** A container on the same Redis prefix and database with another configuration (a process of the same deployment). */
  async function sibling(env: Record<string, string>): Promise<Container> {
    const config = loadConfig({ REDIS_URL: h.config.redisUrl, AUTODIALER_PREFIX: h.config.prefix, DATABASE_URL: db.url, ...env }, null);
    return createContainer(config, { redis: connectRedis(), log: createLogger({ level: 'silent' }), providers: new Map() });
  }

  async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: CliIo = {
      out: (t) => (out += t),
      err: (t) => (err += t),
      env: { REDIS_URL: h.config.redisUrl, AUTODIALER_PREFIX: h.config.prefix, DATABASE_URL: db.url, LOG_LEVEL: 'silent' },
      isTty: false,
    };
    const code = await main(['node', 'autodialer', ...args], io);
    return { code, out, err };
  }

  it('moves contacts, attempts and callbacks; once the keep has passed only the summary stays; exports and status read the same', async () => {
    const c = h.container;
    const id = await finished(CSV);
    const p = h.config.prefix;
    // A CDR nobody dialed: an orphan, kept in Redis a day once written (it may still be adopted).
    const orphan = await request(`${h.serverUrl}/callbacks/sipcall/cdr`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-callback-key': SECRET },
      body: JSON.stringify(sipcallCdr({ customuuid: 'zzzzzzzz-0-1', uuid: 'orphan-1', destnumber: '13800000999', outcome: 'answered' })),
    });
    expect(orphan.statusCode).toBe(200);
    await c.receiver.idle();

    const before = await exportsOf(c, id);
    const statusBefore = steady(await c.status(id));
    expect(before['results.csv'] ?? '').toContain('"Wang, Li","said ""hi"""');
    expect((before['rejects.csv'] ?? '').split('\n').length).toBe(4);
    const attemptRows = (before['attempts.csv'] ?? '').trim().split('\n').length - 1;
    expect(attemptRows).toBe(8);
    // The second CDR of each call was counted on its attempt.
    expect(before['attempts.jsonl'] ?? '').toContain('"duplicates":"1"');
    const received = (await c.callbackLog.counters(null)).received;

    // Archived, not purged: the keep (1h by default) has not passed.
    await passUntil(c, async () => (await c.redis.hget(`${p}:cmp:${id}:hist`, 'archivedAt')) !== null);
    const counts = await c.history.store!.counts(id);
    expect(counts).toMatchObject({ campaigns: 1, contacts: 7, attempts: attemptRows });
    const stored = await db.pool.query<{ n: string; ids: string }>('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM autodialer.callbacks');
    expect(Number(stored.rows[0]!.n)).toBe(received);
    expect(Number(stored.rows[0]!.ids)).toBe(received);
    // Applied callbacks left Redis once written; the orphan stays.
    expect(await c.callbackLog.length()).toBe(1);
    expect(await keysMatching(c, `${p}:cmp:${id}:rows:*`)).not.toEqual([]);
    expect(await c.history.archiver!.purged(id)).toBe(false);

    // Another process of the deployment with AUTODIALER_REDIS_KEEP=0: the keep has passed.
    const other = await sibling({ AUTODIALER_REDIS_KEEP: '0' });
    try {
      const purged = other.history.archiver!.events.waitFor('history:purged', (e) => e.campaignId === id, 60_000);
      await passUntil(other, () => other.history.archiver!.purged(id));
      await purged;
    } finally {
      await other.close(0);
    }

    const left = await keysMatching(c, `${p}:cmp:${id}*`);
    const summary = ['', ':cb', ':counts', ':hist', ':notify', ':notify:dead', ':stats'].map((s) => `${p}:cmp:${id}${s}`);
    expect(left.filter((k) => !summary.includes(k))).toEqual([]);
    expect(left).toContain(`${p}:cmp:${id}`);
    expect(await keysMatching(c, `${p}:att:${id}-*`)).toEqual([]);
    expect(await keysMatching(c, `${p}:bull:${dialQueueName(id)}:*`)).toEqual([]);

    const after = await exportsOf(c, id);
    for (const name of Object.keys(before)) expect({ name, text: after[name] }).toEqual({ name, text: before[name] });
    expect(steady(await c.status(id))).toEqual(statusBefore);
    // The API and the command line stream the same bytes.
    for (const kind of ['results', 'attempts', 'rejects']) {
      for (const format of ['csv', 'jsonl']) {
        const res = await h.api(`/campaigns/${id}/${kind}?format=${format}`);
        expect(res.statusCode).toBe(200);
        expect(await res.body.text()).toBe(before[`${kind}.${format}`]);
      }
    }
    const viaCli = await cli(['campaign', 'export', id, '--attempts']);
    expect(viaCli.code).toBe(0);
    expect(viaCli.out).toBe(before['attempts.csv']);

    // Deleted for good from Redis: its status and exports come from the history store alone.
    const del = await h.api(`/campaigns/${id}`, { method: 'DELETE' });
    expect(del.statusCode).toBe(200);
    expect(await keysMatching(c, `${p}:cmp:${id}*`)).toEqual([]);
    expect(steady(await c.status(id))).toEqual(statusBefore);
    const fromHistory = await exportsOf(c, id);
    for (const name of Object.keys(before)) expect({ name, text: fromHistory[name] }).toEqual({ name, text: before[name] });
    expect((await h.api(`/campaigns/${id}`)).statusCode).toBe(200);
  }, 240_000);

  it('a deletion moves the campaign to the history store first', async () => {
    const c = h.container;
    const id = await finished('phone,name\n13800000601,A\n13800000602,B\nbad,C');
    const before = await exportsOf(c, id);
    const statusBefore = steady(await c.status(id));
    const gone = await cli(['campaign', 'delete', id, '--yes']);
    expect(gone).toMatchObject({ code: 0 });
    expect(await keysMatching(c, `${h.config.prefix}:cmp:${id}*`)).toEqual([]);
    expect(await c.history.store!.counts(id)).toMatchObject({ campaigns: 1, contacts: 3, attempts: (before['attempts.csv'] ?? '').trim().split('\n').length - 1 });
    expect(await exportsOf(c, id)).toEqual(before);
    // The routes and the command export a deleted campaign from the history store, the same bytes.
    const api = await h.api(`/campaigns/${id}/results?format=csv`);
    expect(api.statusCode).toBe(200);
    expect(await api.body.text()).toBe(before['results.csv']);
    const exported = await cli(['campaign', 'export', id, '--format', 'jsonl', '--attempts']);
    expect(exported).toMatchObject({ code: 0, out: before['attempts.jsonl'] });
    expect((await h.api(`/campaigns/zzzzzzzz/results?format=csv`)).statusCode).toBe(404);
    expect(steady(await c.status(id))).toEqual(statusBefore);
    const status = await cli(['campaign', 'status', id, '--json']);
    expect(status.code).toBe(0);
    expect(steady(JSON.parse(status.out) as CampaignStatus)).toEqual(statusBefore);
  }, 240_000);
});
