/**
 * `autodialer number history`: every attempt to a number across two
 * campaigns, newest first — from Redis alone without a history store, and
 * once one campaign has left Redis for PostgreSQL, from both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, csvSource, type Harness } from '../support/harness.js';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/shared.js';
import { createDatabase, passUntil, type TestDatabase } from './support.js';

const params = { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' };
const NUMBER = '13800000701';

interface Listed {
  number: string;
  attempts: { attemptId: string; campaignId: string; campaignName: string | null; attempt: number; outcome: string | null; dialingAt: string }[];
}

describe('a number history across campaigns', () => {
  let db: TestDatabase;
  let h: Harness;

  beforeAll(async () => {
    db = await createDatabase('number');
    h = await startHarness('hist-number', { script: { [NUMBER]: ['busy', 'answered:2:12', 'no_answer', 'answered'], '13800000702': ['answered'] } }, { DATABASE_URL: db.url });
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
  }, 30_000);
  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  async function run(name: string, csv: string): Promise<string> {
    const def = h.container.definition({ name, action: 'playvoice', params, cps: 20, maxAttempts: 2, retryDelay: '1s', resultTimeout: '5s' });
    const done = h.container.events.waitFor('campaign:completed', () => true, 60_000);
    const { id } = await h.container.createCampaign(def, csvSource(csv), `${name}.csv`);
    if ((await h.container.campaigns.get(id))?.state !== 'completed') await done;
    await h.sim.whenIdle();
    await h.container.receiver.idle();
    return id;
  }

  async function history(env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: CliIo = {
      out: (t) => (out += t),
      err: (t) => (err += t),
      env: { REDIS_URL: h.config.redisUrl, AUTODIALER_PREFIX: h.config.prefix, LOG_LEVEL: 'silent', ...env },
      isTty: false,
    };
    const code = await main(['node', 'autodialer', 'number', 'history', ...args], io);
    return { code, out, err };
  }

  it('lists every attempt to the number, newest first, wherever it is kept', async () => {
    const first = await run('spring', `phone,name\n${NUMBER},Li\n13800000702,Wang`);
    const second = await run('summer', `phone\n${NUMBER}`);
    const expected = [`${second}-0-2`, `${second}-0-1`, `${first}-0-2`, `${first}-0-1`];

    // Without a history store: what Redis holds (both campaigns are still there).
    const redisOnly = await history({}, NUMBER, '--json');
    expect(redisOnly.code).toBe(0);
    expect(redisOnly.err).toMatch(/no history store \(DATABASE_URL\)/);
    const listed = JSON.parse(redisOnly.out) as Listed;
    expect(listed.attempts.map((a) => a.attemptId)).toEqual(expected);
    expect(listed.attempts.map((a) => [a.campaignName, a.attempt, a.outcome])).toEqual([
      ['summer', 2, 'answered'],
      ['summer', 1, 'no_answer'],
      ['spring', 2, 'answered'],
      ['spring', 1, 'busy'],
    ]);

    // The first campaign leaves Redis for the history store; the list reads the same.
    await h.container.history.archiver!.requestPurge(first);
    await passUntil(h.container, () => h.container.history.archiver!.purged(first));
    expect(await h.container.attempts.get(`${first}-0-1`)).toBeNull();
    const both = await history({ DATABASE_URL: db.url }, NUMBER, '--json');
    expect(both.code).toBe(0);
    expect(both.err).toBe('');
    expect(JSON.parse(both.out)).toEqual(listed);
    // Without the store, only what Redis still holds.
    expect((JSON.parse((await history({}, NUMBER, '--json')).out) as Listed).attempts.map((a) => a.attemptId)).toEqual([`${second}-0-2`, `${second}-0-1`]);

    const text = await history({ DATABASE_URL: db.url }, NUMBER);
    expect(text.out.split('\n')[0]).toMatch(/^dialed at\s+campaign\s+attempt\s+outcome/);
    expect(text.out.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[2])).toEqual(expected);
    expect((await history({ DATABASE_URL: db.url }, '13800000799')).out).toBe('no attempt to 13800000799\n');
    expect((await history({}, 'not a number')).code).toBe(2);
  }, 240_000);
});
