/**
 * The roles beyond dialing, on a three-master Redis Cluster: the notifier
 * (webhooks to a node:http receiver, one retried, one given up and sent
 * again), the archiver (a finished campaign moved to a real PostgreSQL and
 * purged from Redis, its exports the same bytes before and after) and the
 * schedules (a job scheduler's tick making a campaign that runs to the end).
 * Two deployments whose prefixes land on different masters: A notifies and
 * archives, B runs the schedule. After each role every key in the cluster
 * carries its deployment's hash tag and sits on the master serving it, and
 * nothing the roles logged carries an error (a CROSSSLOT or a script refusal
 * would).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClusterSet, type ClusterSet } from './fixtures/cluster-set.js';
import { until } from './fixtures/sentinel-set.js';
import { numberOf, startSentinelDialer, type SentinelDialer } from './fixtures/dialer.js';
import { createDatabase, exportsOf, type TestDatabase } from '../history/support.js';
import { startReceiver, verifySignature, type Receiver } from '../notify/support.js';
import { createLogger } from '../../src/infra/logger.js';
import { SUMMARY_SUFFIXES } from '../../src/campaign/purge.js';
import { dialQueueName } from '../../src/store/ids.js';
import type { CampaignStatus } from '../../src/reports/status.js';
import type { NotificationPayload } from '../../src/notify/payload.js';

const CONTACTS = 8;
const OUTCOMES = ['answered:1:30', 'busy', 'no_answer', 'failed'];
const SCRIPT = Object.fromEntries(Array.from({ length: CONTACTS }, (_, i) => [numberOf(i), [OUTCOMES[i % OUTCOMES.length]!]]));
/** The receiver refuses this contact's notification until `up`: given up after its two tries, then sent again. */
const DEAD = numberOf(3);
const WEBHOOK_SECRET = 'cluster-webhook-secret-0123456789';
const SCHEDULED = 6;

/** A log line the roles wrote (warn and above). */
interface LogLine {
  level: number;
  msg: string;
  err?: { message?: string };
}

/** A logger whose lines the test reads. */
function capturedLogger(lines: LogLine[]) {
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  return createLogger({ level: 'warn', destination });
}

/** The status without what moves with the clock alone (the rate of the last seconds). */
const steady = (s: CampaignStatus | null) => {
  if (!s) return null;
  const { rateNow: _rate, ...rest } = s;
  return rest;
};

describe('Redis Cluster: notifier, archiver and schedules each in their deployment’s slot', () => {
  let set: ClusterSet;
  let db: TestDatabase;
  let rx: Receiver;
  let a: SentinelDialer;
  let b: SentinelDialer;
  const prefixes: string[] = [];
  const logsA: LogLine[] = [];
  const logsB: LogLine[] = [];
  const jobsDir = mkdtempSync(join(tmpdir(), 'adtest-cluster-jobs-'));
  let up = false;
  const refusedOnce = new Set<string>();

  /**
   * Every key of the cluster, checked: each starts with one deployment's
   * hash tag and is on the master serving it. Returns each deployment's keys.
   */
  async function expectTagged(): Promise<[string[], string[]]> {
    const owners = await Promise.all(prefixes.map((p) => set.ownerOf(`{${p}}`)));
    const byNode = await set.keysByNode();
    const mine: [string[], string[]] = [[], []];
    for (const [port, keys] of byNode) {
      expect({ port, untagged: keys.filter((k) => !prefixes.some((p) => k.startsWith(`{${p}}:`))) }).toEqual({ port, untagged: [] });
      for (const [i, p] of prefixes.entries()) {
        const found = keys.filter((k) => k.startsWith(`{${p}}:`));
        if (port !== owners[i]) expect({ port, deployment: i, found }).toEqual({ port, deployment: i, found: [] });
        mine[i === 0 ? 0 : 1].push(...found);
      }
    }
    return mine;
  }

  /** Lines that carry an error object (a Redis refusal, a failed script) or name a cross-slot reply. */
  const errorsIn = (lines: LogLine[]) => lines.filter((l) => l.err !== undefined || /CROSSSLOT|MOVED|ASK |non local key/i.test(JSON.stringify(l)));

  /** Waits for `check`; fails at once, with the lines, when the deployment logs an error (a refused command would loop on). */
  async function settled(what: string, logs: LogLine[], check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    await until(
      what,
      async () => {
        const errors = errorsIn(logs);
        if (errors.length > 0) throw new Error(`while waiting for ${what}, errors were logged: ${JSON.stringify(errors.slice(0, 3))}`);
        return check();
      },
      timeoutMs,
    );
  }

  beforeAll(async () => {
    set = await startClusterSet();
    db = await createDatabase('cluster_roles');
    rx = await startReceiver((n, _req, res) => {
      const payload = JSON.parse(rx.received[n - 1]!.body) as NotificationPayload;
      const delivery = payload.delivery_id;
      if (payload.contact.columns.phone === DEAD && !up) return void res.writeHead(503).end();
      // The first other delivery is refused once: it goes through the retry set.
      if (refusedOnce.size === 0 && payload.contact.columns.phone !== DEAD) {
        refusedOnce.add(delivery);
        return void res.writeHead(503).end();
      }
      res.writeHead(200).end();
    });
    // Two prefixes whose hash tags are served by different masters.
    const first = `adtest-roles-${randomBytes(4).toString('hex')}`;
    const firstOwner = await set.ownerOf(`{${first}}`);
    let second = '';
    for (let i = 0; i < 64 && second === ''; i++) {
      const candidate = `adtest-roles-${randomBytes(4).toString('hex')}`;
      if ((await set.ownerOf(`{${candidate}}`)) !== firstOwner) second = candidate;
    }
    prefixes.push(first, second);
    a = await startSentinelDialer(
      'cluster-a',
      set.env,
      { script: SCRIPT },
      // The keep at 0: a campaign leaves Redis as soon as it is archived.
      { AUTODIALER_PREFIX: first, DATABASE_URL: db.url, AUTODIALER_REDIS_KEEP: '0' },
      { log: capturedLogger(logsA) },
    );
    b = await startSentinelDialer('cluster-b', set.env, {}, { AUTODIALER_PREFIX: second, AUTODIALER_JOBS_DIR: jobsDir }, { log: capturedLogger(logsB) });
    a.container.startWorker({ concurrency: 5, feedEveryMs: 50, sweepEveryMs: 100, notifier: { pollMs: 20, backoffMs: [50], jitter: 0.5, maxTries: 2 } });
    b.container.startWorker({ concurrency: 5, feedEveryMs: 50, sweepEveryMs: 100 });
  }, 120_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await rx?.close();
    await db?.drop();
    // Each dialer cleaned its own keys as it closed: the cluster is empty again.
    const left = set ? [...(await set.keysByNode()).values()].flat() : [];
    await set?.stop();
    expect(left).toEqual([]);
    rmSync(jobsDir, { recursive: true, force: true });
    // Every node the test started was stopped by its PID.
    expect(set.pids()).toEqual([]);
  }, 90_000);

  let notified = '';

  it('notifier: one webhook per contact, one through a retry, one given up and sent again', async () => {
    expect(prefixes[1]).not.toBe('');
    expect(a.config.prefix).toBe(`{${prefixes[0]}}`);
    const { id } = await a.campaign({ contacts: CONTACTS, cps: 20, resultTimeout: '3s', webhook: { url: rx.url, secret: WEBHOOK_SECRET } });
    notified = id;
    await settled('campaign A to complete', logsA, async () => (await a.container.campaigns.get(id))?.state === 'completed', 60_000);
    await settled('every notification delivered or given up', logsA, async () => {
      const n = (await a.container.status(id))?.notifications;
      return n !== undefined && n.delivered + n.failed === CONTACTS && n.retrying === 0;
    });
    expect((await a.container.status(id))?.notifications).toEqual({ delivered: CONTACTS - 1, retrying: 0, failed: 1 });
    const failed = await a.container.notifications.failed(id);
    expect(failed.map((f) => [f.contact, f.tries, f.reason, f.lastError, f.resendable])).toEqual([[3, 2, 'max_tries', 'HTTP 503', true]]);
    // The delivery refused once was accepted at its second try.
    expect(refusedOnce.size).toBe(1);
    const [retried] = [...refusedOnce];
    expect(rx.received.filter((r) => r.headers['x-autodialer-delivery'] === retried).length).toBe(2);

    up = true;
    expect(await a.container.notifications.resend(id)).toEqual({ resent: 1, kept: 0 });
    await settled('the resent notification delivered', logsA, async () => (await a.container.status(id))?.notifications.delivered === CONTACTS);
    expect((await a.container.status(id))?.notifications).toEqual({ delivered: CONTACTS, retrying: 0, failed: 0 });
    expect(await a.container.notifications.failed(id)).toEqual([]);

    // Every request signed; one delivery id per contact, each of the contact's final status.
    for (const r of rx.received) expect(verifySignature(WEBHOOK_SECRET, r.headers, r.body)).toBe(true);
    const payloads = rx.received.map((r) => JSON.parse(r.body) as NotificationPayload);
    expect(new Set(payloads.map((p) => p.delivery_id)).size).toBe(CONTACTS);
    expect(new Set(payloads.map((p) => p.contact.columns.phone)).size).toBe(CONTACTS);
    // 8 accepted, the retried one refused once, the given-up one refused at both of its tries.
    expect(rx.received.length).toBe(CONTACTS + 3);

    const [keysA] = await expectTagged();
    const p = `{${prefixes[0]}}`;
    expect(keysA).toContain(`${p}:outbox`);
    expect(keysA).toContain(`${p}:cmp:${id}:notify`);
    // The captured log is read: the retry and the given-up delivery are in it, and no error object.
    expect(logsA.filter((l) => l.msg === 'notification not acknowledged: will retry').length).toBeGreaterThanOrEqual(1);
    expect(logsA.filter((l) => l.msg === 'notification given up').length).toBe(1);
    expect(errorsIn(logsA)).toEqual([]);
    process.stdout.write(`cluster notifier: ${rx.received.length} requests for ${CONTACTS} contacts, ${keysA.length} keys of deployment A, all tagged ${p}\n`);
  }, 120_000);

  it('archiver: the finished campaign moves to PostgreSQL and leaves Redis; its exports and status read the same', async () => {
    const id = notified;
    expect(id).not.toBe('');
    const c = a.container;
    const p = c.config.prefix;
    // All callbacks in and interpreted before the exports are taken.
    await a.sim.whenIdle();
    await c.receiver.idle();
    const before = await exportsOf(c, id);
    const statusBefore = steady(await c.status(id));
    expect((before['results.csv'] ?? '').trim().split('\n').length).toBe(CONTACTS + 1);
    expect((before['attempts.csv'] ?? '').trim().split('\n').length).toBe(CONTACTS + 1);

    let purgedEvent = false;
    c.history.archiver!.events.on('history:purged', (e) => void (purgedEvent ||= e.campaignId === id));
    // The archiver's own loop, as `autodialer archiver` runs it.
    const loop = await c.startArchiver();
    expect(loop).not.toBeNull();
    await settled('the campaign archived and purged from Redis', logsA, async () => purgedEvent && (await c.history.archiver!.purged(id)));
    expect(await c.history.store!.counts(id)).toMatchObject({ campaigns: 1, contacts: CONTACTS, attempts: CONTACTS });
    // The callbacks are written by the archiver's callback thread, beside the campaign's contacts.
    const callbacksWritten = async () => Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM autodialer.callbacks')).rows[0]!.n);
    await settled('the callbacks written by the callback thread', logsA, async () => (await callbacksWritten()) >= CONTACTS);
    expect(await callbacksWritten()).toBeGreaterThanOrEqual(CONTACTS);

    const [keysA] = await expectTagged();
    // Only the summary stays in Redis; the attempts and the dial queue are gone.
    const left = keysA.filter((k) => k.startsWith(`${p}:cmp:${id}`));
    const summary = ['', ...SUMMARY_SUFFIXES].map((s) => `${p}:cmp:${id}${s}`);
    expect(left.filter((k) => !summary.includes(k))).toEqual([]);
    expect(left).toContain(`${p}:cmp:${id}`);
    expect(keysA.filter((k) => k.startsWith(`${p}:att:${id}-`))).toEqual([]);
    expect(keysA.filter((k) => k.startsWith(`${p}:bull:${dialQueueName(id)}:`))).toEqual([]);
    expect(keysA).toContain(`${p}:hist:done`);

    const after = await exportsOf(c, id);
    for (const name of Object.keys(before)) expect({ name, text: after[name] }).toEqual({ name, text: before[name] });
    expect(steady(await c.status(id))).toEqual(statusBefore);

    // Deleted for good: the summary goes too (the history store keeps the campaign), and the exports read PostgreSQL alone.
    expect(await c.purge.purge(id)).toMatchObject({ keys: expect.any(Number) });
    const [gone] = await expectTagged();
    expect(gone.filter((k) => k.startsWith(`${p}:cmp:${id}`) || k.startsWith(`${p}:pace:camp:${id}`))).toEqual([]);
    expect(await c.redis.sismember(`${p}:hist:done`, id)).toBe(0);
    const fromHistory = await exportsOf(c, id);
    for (const name of Object.keys(before)) expect({ name, text: fromHistory[name] }).toEqual({ name, text: before[name] });
    expect(steady(await c.status(id))).toEqual(statusBefore);
    expect(errorsIn(logsA)).toEqual([]);
    process.stdout.write(`cluster archiver: ${CONTACTS} contacts and ${CONTACTS} attempts in PostgreSQL, ${left.length} summary keys left, ${keysA.length} keys of deployment A, all tagged ${p}\n`);
  }, 120_000);

  it('schedules: a job scheduler’s tick makes a campaign that runs to the end', async () => {
    const c = b.container;
    const p = c.config.prefix;
    expect(p).toBe(`{${prefixes[1]}}`);
    const numbers = Array.from({ length: SCHEDULED }, (_, i) => numberOf(100 + i));
    writeFileSync(join(jobsDir, 'tick.csv'), ['name,phone', ...numbers.map((n, i) => `s${i},${n}`)].join('\n') + '\n');
    writeFileSync(
      join(jobsDir, 'tick.yaml'),
      [
        'action: playvoice',
        'params: { voicetype: 2, voicefile: http://example.invalid/promo.mp3, chengshudu: 1, userid: 1@extGroup-1 }',
        'cps: 20',
        'maxAttempts: 1',
        'resultTimeout: 3s',
        'ingest: { numberFormat: as_written }',
        'contacts: tick.csv',
        'schedule:',
        '  every: 1s',
        '  overlap: skip',
        '',
      ].join('\n'),
    );
    expect((await c.schedules.sync()).changes.map((x) => x.change)).toEqual(['created']);
    const runner = c.schedules.startRunner();
    let ids: string[] = [];
    try {
      await settled('a tick to start a campaign', logsB, async () => {
        ids = (await c.schedules.runs('tick')).flatMap((r) => (r.id ? [r.id] : []));
        return ids.length > 0;
      }, 60_000);
    } finally {
      // No further runs: the scheduler goes with its file, and this process stops taking ticks.
      await runner.stop();
      unlinkSync(join(jobsDir, 'tick.yaml'));
      expect((await c.schedules.sync()).changes.map((x) => x.change)).toEqual(['removed']);
    }
    ids = (await c.schedules.runs('tick')).flatMap((r) => (r.id ? [r.id] : []));
    for (const id of ids) {
      await settled(`scheduled campaign ${id} to complete`, logsB, async () => (await c.campaigns.get(id))?.state === 'completed', 60_000);
      const status = await c.status(id);
      expect(status?.schedule?.name).toBe('tick');
      const contacts = await b.contacts(id, SCHEDULED);
      expect(contacts.map((x) => x.number).sort()).toEqual([...numbers].sort());
      expect(contacts.filter((x) => x.status === 'pending')).toEqual([]);
      // Each number of the run reached the provider once.
      expect(b.ledgerOf(id).map((e) => e.number).sort()).toEqual([...numbers].sort());
    }

    const [, keysB] = await expectTagged();
    expect(keysB.some((k) => k.startsWith(`${p}:sched:tick:run:`))).toBe(true);
    expect(keysB.some((k) => k.startsWith(`${p}:bull:schedules:`))).toBe(true);
    expect(errorsIn(logsB)).toEqual([]);
    process.stdout.write(`cluster schedules: ${ids.length} run(s) of ${SCHEDULED} contacts, ${keysB.length} keys of deployment B, all tagged ${p}\n`);
  }, 120_000);
});
