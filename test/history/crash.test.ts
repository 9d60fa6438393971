/**
 * `autodialer archiver` processes killed with SIGKILL while they move a
 * finished campaign to PostgreSQL (once just after a batch was written, once
 * while contacts were leaving Redis): another archiver finishes the work, and
 * nothing is lost or written twice — every contact, attempt and callback
 * once in the history store, the exports the same bytes as before. And
 * one killed while its callback thread writes: every callback written once.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, csvSource, type Harness } from '../support/harness.js';
import { createDatabase, exportsOf, keysMatching, passUntil, type TestDatabase } from './support.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CONTACTS = 2000;
const params = { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' };

interface Killed {
  /** The log line the kill answered. */
  at: Record<string, unknown>;
  signal: NodeJS.Signals | null;
}

type LogLine = Record<string, unknown> & { msg?: string };

describe('an archiver killed mid-way', () => {
  let db: TestDatabase;
  let h: Harness;

  beforeAll(async () => {
    db = await createDatabase('crash');
    h = await startHarness('hist-crash', { duplicateCdrRate: 0.2 }, { DATABASE_URL: db.url, SIPCALL_MAX_CPS: '1000' });
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
  }, 30_000);
  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  /** Runs `autodialer archiver` and kills it with SIGKILL at the first log line `at` matches. */
  function archiverKilledAt(at: (l: LogLine) => boolean, thread: 'on' | 'off' = 'off'): Promise<Killed> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'archiver'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        REDIS_URL: h.config.redisUrl,
        AUTODIALER_PREFIX: h.config.prefix,
        DATABASE_URL: db.url,
        AUTODIALER_REDIS_KEEP: '0',
        // Off: the kills below follow one order of work; the callback thread has a kill of its own.
        AUTODIALER_ARCHIVER_THREAD: thread,
        LOG_LEVEL: 'debug',
      },
      // The log goes to standard error.
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    return new Promise((done, fail) => {
      let line: LogLine | null = null;
      createInterface({ input: child.stderr }).on('line', (text) => {
        if (line) return;
        let parsed: LogLine;
        try {
          parsed = JSON.parse(text) as LogLine;
        } catch {
          // Not a log line (a failure's message): shown as it is.
          process.stderr.write(`${text}\n`);
          return;
        }
        if (!at(parsed)) return;
        line = parsed;
        child.kill('SIGKILL');
      });
      child.once('exit', (code, signal) => (line ? done({ at: line, signal }) : fail(new Error(`the archiver exited (code ${code}) before the line it was to be killed at`))));
    });
  }

  it('loses nothing and writes nothing twice', async () => {
    const c = h.container;
    const def = c.definition({ action: 'playvoice', params, cps: 500, maxConcurrent: 200, maxAttempts: 1, resultTimeout: '5s' });
    const completed = c.events.waitFor('campaign:completed', () => true, 120_000);
    const csv = ['phone,name', ...Array.from({ length: CONTACTS }, (_, i) => `139${String(i).padStart(8, '0')},n${i}`)].join('\n');
    const { id } = await c.createCampaign(def, csvSource(csv), 'crash.csv');
    await completed;
    await h.sim.whenIdle();
    await c.receiver.idle();
    const before = await exportsOf(c, id, 500);
    const attempts = (before['attempts.csv'] ?? '').trim().split('\n').length - 1;
    expect(attempts).toBe(CONTACTS);
    const received = (await c.callbackLog.counters(null)).received;
    expect(received).toBeGreaterThan(CONTACTS);

    // Killed three times, each time just after something reached PostgreSQL and before Redis was told:
    // a batch of callbacks, a batch of contacts and attempts, a page of contacts leaving Redis (or, had the
    // one before got that far, as the campaign finished leaving).
    const kills: ((l: LogLine) => boolean)[] = [
      (l) => l.msg === 'history batch written' && typeof l.callbacks === 'number' && l.campaignId === undefined,
      (l) => l.msg === 'history batch written' && l.campaignId === id && Number(l.contacts) > 0,
      (l) => l.msg === 'contacts left Redis' || l.msg === 'campaign archived: its contacts and attempts left Redis, its summary stays',
    ];
    for (const at of kills) {
      const killed = await archiverKilledAt(at);
      expect(killed.signal).toBe('SIGKILL');
      // Its lease would end by itself 30 s later: ended now, as if that time had passed.
      await c.redis.del(`${h.config.prefix}:hist:lock`);
    }

    await passUntil(c, () => c.history.archiver!.purged(id));
    // The callbacks of the last moments are written too.
    await passUntil(c, async () => (await c.callbackLog.length()) === 0);

    const q = async (sql: string) => (await db.pool.query<{ n: string; ids: string }>(sql)).rows[0]!;
    const contacts = await q(`SELECT count(*) AS n, count(DISTINCT (campaign_id, idx)) AS ids FROM autodialer.contacts`);
    expect([Number(contacts.n), Number(contacts.ids)]).toEqual([CONTACTS, CONTACTS]);
    const att = await q(`SELECT count(*) AS n, count(DISTINCT id) AS ids FROM autodialer.attempts`);
    expect([Number(att.n), Number(att.ids)]).toEqual([attempts, attempts]);
    const cbs = await q(`SELECT count(*) AS n, count(DISTINCT id) AS ids FROM autodialer.callbacks`);
    expect([Number(cbs.n), Number(cbs.ids)]).toEqual([received, received]);
    // Every callback tied to its attempt, every attempt to its contact.
    expect(Number((await q(`SELECT count(*) AS n FROM autodialer.callbacks WHERE attempt_id IS NULL`)).n)).toBe(0);
    expect(Number((await q(`SELECT count(*) AS n FROM autodialer.attempts a LEFT JOIN autodialer.contacts c ON c.campaign_id = a.campaign_id AND c.idx = a.contact_idx WHERE c.idx IS NULL`)).n)).toBe(0);

    expect(await keysMatching(c, `${h.config.prefix}:att:${id}-*`)).toEqual([]);
    const after = await exportsOf(c, id, 500);
    for (const name of Object.keys(before)) expect({ name, same: after[name] === before[name] }).toEqual({ name, same: true });
  }, 240_000);

  it('killed while its callback thread writes: the next pass writes every callback, once', async () => {
    const c = h.container;
    const n = 12_000;
    const ids = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        c.callbackLog.append({ kind: 'sipcall-cdr', receivedAt: Date.now(), remoteIp: '127.0.0.1', contentType: 'application/json', body: `{"customuuid":"gone-${i}"}` }),
      ),
    );
    await c.callbackLog.settle(ids.map((id) => ({ settlement: { id, counter: 'orphan' as const, kind: 'orphan', attemptId: null, campaignId: null } })));
    const killed = await archiverKilledAt((l) => l.name === 'archiver-callbacks' && l.msg === 'history batch written' && Number(l.changed) > 0, 'on');
    expect(killed.signal).toBe('SIGKILL');
    await c.redis.del(`${h.config.prefix}:hist:lock`);
    const written = async () => {
      const r = await db.pool.query<{ n: string; ids: string }>(`SELECT count(*) AS n, count(DISTINCT id) AS ids FROM autodialer.callbacks WHERE body LIKE '{"customuuid":"gone-%'`);
      return [Number(r.rows[0]!.n), Number(r.rows[0]!.ids)];
    };
    await passUntil(c, async () => (await written())[0] === n);
    expect(await written()).toEqual([n, n]);
  }, 120_000);
});
