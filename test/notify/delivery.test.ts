import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { createLogger } from '../../src/infra/logger.js';
import { makeNotifier, startNotifier, type NotifierDeps, type RunningNotifier } from '../../src/notify/notifier.js';
import { deadLetters, notificationCounts, resendDeadLetters, type NotificationCounts } from '../../src/notify/deliveries.js';
import { notifyKeys } from '../../src/notify/keys.js';
import type { NotificationPayload } from '../../src/notify/payload.js';
import type { NotifierOptionsInput } from '../../src/notify/policy.js';
import { seedCampaign, startReceiver, until, verifySignature, WEBHOOK_SECRET, type Receiver, type Seeded } from './support.js';

const ROWS = [
  ['Ann', '13800000001', 'Beijing'],
  ['Bob', '13800000002', 'Shanghai'],
];
/** Short waits and timeouts, so retries come within the test. */
const FAST: NotifierOptionsInput = {
  backoffMs: [20, 40],
  jitter: 0.5,
  maxTries: 4,
  pollMs: 10,
  connectTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
  claimAfterMs: 10_000,
  leaseMs: 10_000,
};

describe('notifier delivery', () => {
  let redis: Redis;
  const prefixes: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(() => {
    redis = connectRedis();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    for (const p of prefixes) await cleanPrefix(redis, p);
    redis.disconnect();
  });

  async function setup(reply: Parameters<typeof startReceiver>[0], name: string): Promise<{ rx: Receiver; seed: Seeded; prefix: string }> {
    const prefix = testPrefix(name);
    prefixes.push(prefix);
    const rx = await startReceiver(reply);
    cleanups.push(() => rx.close());
    const seed = await seedCampaign(redis, prefix, rx.url, ROWS);
    return { rx, seed, prefix };
  }

  function deps(seed: Seeded, extra: Partial<NotifierDeps> = {}): NotifierDeps {
    return {
      redis,
      keys: seed.keys,
      campaigns: seed.campaigns,
      contacts: seed.contacts,
      attempts: seed.attempts,
      now: () => Date.now(),
      random: Math.random,
      log: createLogger({ level: 'silent' }),
      options: FAST,
      ...extra,
    };
  }

  function run(d: NotifierDeps): RunningNotifier {
    const n = startNotifier(d);
    cleanups.push(() => n.stop());
    return n;
  }

  const counts = (seed: Seeded): Promise<NotificationCounts> => notificationCounts(redis, seed.keys, seed.cid);

  it('POSTs a signed payload with the original columns and the result, and acknowledges the entry', async () => {
    const { rx, seed } = await setup(undefined, 'notify-sign');
    const fixedNow = Date.parse('2026-03-01T08:00:05.750Z');
    await seed.finalize(0, 'answered', { billsec: 12, userkey: '1', providerCallId: 'call-77', answeredAt: '2026-03-01T07:59:50.000Z', endedAt: '2026-03-01T08:00:02.000Z' });
    const n = makeNotifier(deps(seed, { now: () => fixedNow }));
    cleanups.push(() => n.close());
    const delivered = n.events.waitFor('notification:delivered');
    await n.tick();
    await delivered;

    expect(rx.received).toHaveLength(1);
    const req = rx.received[0]!;
    expect(req.path).toBe('/hooks/dialer?tenant=t1');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['x-autodialer-timestamp']).toBe(String(Math.floor(fixedNow / 1000)));
    expect(verifySignature(WEBHOOK_SECRET, req.headers, req.body)).toBe(true);
    // The reference check does fail on a changed body or another secret.
    expect(verifySignature(WEBHOOK_SECRET, req.headers, req.body.replace('Ann', 'Anne'))).toBe(false);
    expect(verifySignature('another-secret-0123456789', req.headers, req.body)).toBe(false);

    const p = JSON.parse(req.body) as NotificationPayload;
    expect(req.headers['x-autodialer-delivery']).toBe(`${seed.cid}-0-answered`);
    expect(p).toMatchObject({
      delivery_id: `${seed.cid}-0-answered`,
      event: 'contact.final',
      campaign: { id: seed.cid, name: 'Spring promo' },
      contact: { index: 0, line: 2, columns: { name: 'Ann', phone: '13800000001', city: 'Beijing' } },
      status: 'answered',
      previous_status: 'pending',
      attempts: 1,
      customuuid: `${seed.cid}-0-1`,
      provider_call_id: 'call-77',
      billsec: 12,
      userkey: '1',
      answered_at: '2026-03-01T07:59:50.000Z',
      ended_at: '2026-03-01T08:00:02.000Z',
      hangupcause: null,
      error: null,
      late: false,
    });
    expect(p.occurred_at).toMatch(/Z$/);

    expect(await counts(seed)).toEqual({ delivered: 1, retrying: 0, failed: 0 });
    const nk = notifyKeys(seed.keys);
    expect(await redis.xlen(nk.outbox)).toBe(0);
    const pending = (await redis.xpending(nk.outbox, 'notifier')) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
  });

  it('marks a late correction as contact.corrected with the previous status', async () => {
    const { rx, seed } = await setup(undefined, 'notify-late');
    await seed.finalize(1, 'no_answer');
    const n = makeNotifier(deps(seed));
    cleanups.push(() => n.close());
    await n.tick();
    // A late result turns the contact into answered: a second, distinct notification.
    const { raw, state } = await seed.contacts.state(seed.cid, 1);
    const a = await seed.attempts.get(`${seed.cid}-1-1`);
    await seed.attempts.commit({
      cuuid: `${seed.cid}-1-1`,
      base: a,
      fields: { outcome: 'answered', late: true, billsec: 3 },
      contact: { idx: 1, expectedRaw: raw, next: { ...state, s: 'answered', late: true }, oldStatus: 'no_answer', newStatus: 'answered' },
      dueAt: null,
      deadline: null,
      now: Date.now(),
    });
    await n.tick();
    expect(rx.received.map((r) => r.headers['x-autodialer-delivery'])).toEqual([`${seed.cid}-1-no_answer`, `${seed.cid}-1-answered`]);
    const second = JSON.parse(rx.received[1]!.body) as NotificationPayload;
    expect(second).toMatchObject({ event: 'contact.corrected', status: 'answered', previous_status: 'no_answer', late: true, billsec: 3 });
    expect(await counts(seed)).toEqual({ delivered: 2, retrying: 0, failed: 0 });
  });

  it('retries after a 500 and a connection reset, with backoff, and then delivers the same body', async () => {
    const { rx, seed } = await setup((n, req, res) => {
      if (n === 1) res.writeHead(500).end('boom');
      else if (n === 2) req.socket.destroy();
      else res.writeHead(204).end();
    }, 'notify-retry');
    await seed.finalize(0, 'busy');
    const n = run(deps(seed));
    const errors: string[] = [];
    n.events.on('notification:retrying', (e) => errors.push(e.error));
    await n.events.waitFor('notification:delivered', (e) => e.contact === 0, 20_000);

    expect(rx.received).toHaveLength(3);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBe('HTTP 500: boom');
    expect(errors[1]).toMatch(/UND_ERR_SOCKET|ECONNRESET/);
    // Every try: same delivery id and body, its own attempt number, a valid signature.
    expect(new Set(rx.received.map((r) => r.headers['x-autodialer-delivery']))).toEqual(new Set([`${seed.cid}-0-busy`]));
    expect(new Set(rx.received.map((r) => r.body)).size).toBe(1);
    expect(rx.received.map((r) => r.headers['x-autodialer-attempt'])).toEqual(['1', '2', '3']);
    for (const r of rx.received) expect(verifySignature(WEBHOOK_SECRET, r.headers, r.body)).toBe(true);

    expect(await counts(seed)).toEqual({ delivered: 1, retrying: 0, failed: 0 });
    const nk = notifyKeys(seed.keys);
    expect(await redis.zcard(nk.retry)).toBe(0);
    expect(await redis.exists(nk.delivery(`${seed.cid}-0-busy`))).toBe(0);
  });

  it('ends a delivery that always fails in failed, with the last error in the dead-letter list', async () => {
    const { rx, seed } = await setup((_n, _req, res) => res.writeHead(503).end('down for maintenance'), 'notify-fail');
    await seed.finalize(1, 'failed');
    // Ticked by hand, so the counters can be read between tries.
    const n = makeNotifier(deps(seed, { options: { ...FAST, maxTries: 3 } }));
    cleanups.push(() => n.close());
    const gaveUp = n.events.waitFor('notification:failed', () => true, 20_000);
    await n.tick();
    expect(rx.received).toHaveLength(1);
    expect(await counts(seed)).toEqual({ delivered: 0, retrying: 1, failed: 0 });
    await until(async () => (await n.tick(), rx.received.length === 2), 'the second try');
    expect(await counts(seed)).toEqual({ delivered: 0, retrying: 1, failed: 0 });
    expect(await redis.hget(notifyKeys(seed.keys).delivery(`${seed.cid}-1-failed`), 'tries')).toBe('2');
    await until(async () => (await n.tick(), rx.received.length === 3), 'the third try');
    const [failed] = await gaveUp;

    expect(failed).toMatchObject({ delivery: `${seed.cid}-1-failed`, tries: 3, reason: 'max_tries', error: 'HTTP 503: down for maintenance' });
    expect(rx.received).toHaveLength(3);
    expect(await counts(seed)).toEqual({ delivered: 0, retrying: 0, failed: 1 });
    const dead = await deadLetters(redis, seed.keys, seed.cid);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ delivery: `${seed.cid}-1-failed`, campaignId: seed.cid, contact: 1, status: 'failed', tries: 3, reason: 'max_tries', lastError: 'HTTP 503: down for maintenance' });
    expect(await redis.zcard(notifyKeys(seed.keys).retry)).toBe(0);
  });

  it('sends given-up notifications again on request: same delivery and body, a fresh schedule, counted once', async () => {
    let up = false;
    const { rx, seed } = await setup((_n, _req, res) => res.writeHead(up ? 200 : 503).end(), 'notify-resend');
    await seed.finalize(0, 'answered', { billsec: 7 });
    await seed.finalize(1, 'busy');
    const n = makeNotifier(deps(seed, { options: { ...FAST, maxTries: 1 } }));
    cleanups.push(() => n.close());
    await until(async () => (await n.tick(), (await counts(seed)).failed === 2), 'both given up');
    const dead = await deadLetters(redis, seed.keys, seed.cid);
    expect(dead.map((d) => [d.delivery, d.reason, d.resendable]).sort()).toEqual([
      [`${seed.cid}-0-answered`, 'max_tries', true],
      [`${seed.cid}-1-busy`, 'max_tries', true],
    ]);
    // The listing never carries the body (it holds the contact's columns).
    expect(JSON.stringify(dead)).not.toContain('13800000001');

    up = true;
    expect(await resendDeadLetters(redis, seed.keys, seed.cid, Date.now())).toEqual({ resent: 2, kept: 0 });
    expect(await counts(seed)).toEqual({ delivered: 0, retrying: 2, failed: 0 });
    expect(await deadLetters(redis, seed.keys, seed.cid)).toEqual([]);
    await until(async () => (await n.tick(), (await counts(seed)).delivered === 2), 'both delivered');
    expect(await counts(seed)).toEqual({ delivered: 2, retrying: 0, failed: 0 });

    // Each resent request repeats its first try byte for byte, under the same delivery id, counted from 1 again.
    expect(rx.received).toHaveLength(4);
    for (const first of rx.received.slice(0, 2)) {
      const again = rx.received.slice(2).find((r) => r.headers['x-autodialer-delivery'] === first.headers['x-autodialer-delivery']);
      expect(again?.body).toBe(first.body);
      expect(again?.headers['x-autodialer-attempt']).toBe('1');
      expect(verifySignature(WEBHOOK_SECRET, again!.headers, again!.body)).toBe(true);
    }
    // Nothing left to send: a second request changes nothing.
    expect(await resendDeadLetters(redis, seed.keys, seed.cid, Date.now())).toEqual({ resent: 0, kept: 0 });
    expect(await counts(seed)).toEqual({ delivered: 2, retrying: 0, failed: 0 });
  });

  it('drops a retry whose campaign was deleted, writing nothing under it', async () => {
    const { rx, seed } = await setup((_n, _req, res) => res.writeHead(503).end(), 'notify-deleted');
    await seed.finalize(0, 'answered');
    const n = makeNotifier(deps(seed));
    cleanups.push(() => n.close());
    await n.tick();
    expect(await counts(seed)).toEqual({ delivered: 0, retrying: 1, failed: 0 });
    // The campaign is deleted (as `campaign delete` does) while its delivery waits for a retry.
    const campaignKeys = async () => (await redis.keys(`${seed.keys.campaign(seed.cid)}*`)).sort();
    const own = await campaignKeys();
    expect(own.length).toBeGreaterThan(0);
    await redis.unlink(...own);
    const nk = notifyKeys(seed.keys);
    await until(async () => (await n.tick(), (await redis.zcard(nk.retry)) === 0), 'the retry dropped');
    expect(await redis.exists(nk.delivery(`${seed.cid}-0-answered`))).toBe(0);
    expect(await campaignKeys()).toEqual([]);
    expect(rx.received).toHaveLength(1);
  });

  for (const [answer, code] of [
    ['delivered', 200],
    ['to be retried', 503],
    ['given up', 400],
  ] as const) {
    it(`writes nothing back under a campaign deleted while its first send was out (answer ${code}: ${answer})`, async () => {
      let seed: Seeded | undefined;
      const campaignKeys = async () => (await redis.keys(`${seed!.keys.campaign(seed!.cid)}*`)).sort();
      const setupResult = await setup((_n, _req, res) => {
        // The campaign is deleted as `campaign delete` does it (unlisted, then its keys unlinked) before the answer comes.
        void (async () => {
          await redis.zrem(seed!.keys.campaigns, seed!.cid);
          const own = await campaignKeys();
          if (own.length > 0) await redis.unlink(...own);
          res.writeHead(code).end();
        })();
      }, `notify-deleted-${code}`);
      seed = setupResult.seed;
      await seed.finalize(0, 'answered');
      const n = makeNotifier(deps(seed));
      cleanups.push(() => n.close());
      await n.tick();
      expect(setupResult.rx.received).toHaveLength(1);
      const nk = notifyKeys(seed.keys);
      expect(await campaignKeys()).toEqual([]);
      expect(await redis.zcard(nk.retry)).toBe(0);
      expect(await redis.exists(nk.delivery(`${seed.cid}-0-answered`))).toBe(0);
      // The entry was acknowledged all the same: nothing is left pending for another notifier to send again.
      expect(await redis.xlen(nk.outbox)).toBe(0);
    });
  }

  it('keeps a given-up letter without a body (its contact could not be read) when the others are sent again', async () => {
    const { seed } = await setup(undefined, 'notify-resend-keep');
    const nk = notifyKeys(seed.keys);
    const withBody = { delivery: `${seed.cid}-0-busy`, campaignId: seed.cid, contact: 0, status: 'busy', tries: 12, firstAt: '2026-03-01T08:00:00.000Z', failedAt: '2026-03-02T08:00:00.000Z', reason: 'max_age', lastError: 'HTTP 502', body: '{"x":"ü\\n"}' };
    const without = { ...withBody, delivery: `${seed.cid}-1-busy`, contact: 1, reason: 'unreadable', body: undefined };
    await redis.rpush(nk.dead(seed.cid), JSON.stringify(withBody), JSON.stringify(without), 'not json');
    await redis.hset(nk.counts(seed.cid), 'failed', 3);
    expect(await resendDeadLetters(redis, seed.keys, seed.cid, 1_772_352_000_000)).toEqual({ resent: 1, kept: 2 });
    expect(await redis.lrange(nk.dead(seed.cid), 0, -1)).toEqual([JSON.stringify(without), 'not json']);
    expect(await redis.hgetall(nk.delivery(withBody.delivery))).toEqual({
      cid: seed.cid,
      idx: '0',
      status: 'busy',
      body: withBody.body,
      tries: '0',
      firstAt: '1772352000000',
      lastAt: '1772352000000',
      lastError: 'HTTP 502',
    });
    expect(await redis.zscore(nk.retry, withBody.delivery)).toBe('1772352000000');
    expect(await counts(seed)).toEqual({ delivered: 0, retrying: 1, failed: 2 });
  });

  it('a letter given up while a resend runs stays in the list for the next resend; the script writes only delivery keys it was given', async () => {
    const { seed } = await setup(undefined, 'notify-resend-race');
    const nk = notifyKeys(seed.keys);
    const letter = (idx: number) => ({ delivery: `${seed.cid}-${idx}-busy`, campaignId: seed.cid, contact: idx, status: 'busy', tries: 3, firstAt: '2026-03-01T08:00:00.000Z', failedAt: '2026-03-01T09:00:00.000Z', reason: 'max_tries', lastError: 'HTTP 503', body: `{"n":${idx}}` });
    await redis.rpush(nk.dead(seed.cid), JSON.stringify(letter(0)));
    await redis.hset(nk.counts(seed.cid), 'failed', 1);
    // The resend reads the list; another letter is given up (as ENTRY_FAILED does) before its script runs.
    const racing = new Proxy(redis, {
      get(target, prop, receiver) {
        const v: unknown = Reflect.get(target, prop, receiver);
        if (prop === 'lrange') {
          return async (...args: Parameters<Redis['lrange']>) => {
            const read = await target.lrange(...args);
            await target.lpush(nk.dead(seed.cid), JSON.stringify(letter(1)));
            await target.hincrby(nk.counts(seed.cid), 'failed', 1);
            return read;
          };
        }
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    expect(await resendDeadLetters(racing, seed.keys, seed.cid, 1_772_352_000_000)).toEqual({ resent: 1, kept: 1 });
    expect(await redis.zrange(nk.retry, 0, -1)).toEqual([`${seed.cid}-0-busy`]);
    expect(await redis.exists(nk.delivery(`${seed.cid}-1-busy`))).toBe(0);
    expect(await redis.lrange(nk.dead(seed.cid), 0, -1)).toEqual([JSON.stringify(letter(1))]);
    expect(await counts(seed)).toEqual({ delivered: 0, retrying: 1, failed: 1 });
    // The next resend takes it.
    expect(await resendDeadLetters(redis, seed.keys, seed.cid, 1_772_352_000_000)).toEqual({ resent: 1, kept: 0 });
    expect((await redis.zrange(nk.retry, 0, -1)).sort()).toEqual([`${seed.cid}-0-busy`, `${seed.cid}-1-busy`]);
    expect(await counts(seed)).toEqual({ delivered: 0, retrying: 2, failed: 0 });
  });

  it('gives up at once on a webhook URL that can never be sent to', async () => {
    const prefix = testPrefix('notify-url');
    prefixes.push(prefix);
    const seed = await seedCampaign(redis, prefix, 'ftp://127.0.0.1/hook', ROWS);
    await seed.finalize(0, 'answered');
    const n = makeNotifier(deps(seed));
    cleanups.push(() => n.close());
    const failed = n.events.waitFor('notification:failed');
    await n.tick();
    expect((await failed)[0]).toMatchObject({ reason: 'permanent', tries: 1 });
    expect(await counts(seed)).toEqual({ delivered: 0, retrying: 0, failed: 1 });
    expect((await deadLetters(redis, seed.keys, seed.cid))[0]?.lastError).toMatch(/http or https/);
  });

  it("under privateAddresses 'deny', gives up at once on a webhook inside the dialer's network and never posts to it", async () => {
    const { rx, seed } = await setup(undefined, 'notify-private');
    await seed.finalize(0, 'answered');
    const n = makeNotifier(deps(seed, { options: { ...FAST, privateAddresses: 'deny' } }));
    cleanups.push(() => n.close());
    const failed = n.events.waitFor('notification:failed');
    await n.tick();
    expect((await failed)[0]).toMatchObject({ reason: 'permanent', tries: 1 });
    expect(rx.received).toHaveLength(0);
    expect(await counts(seed)).toEqual({ delivered: 0, retrying: 0, failed: 1 });
    expect((await deadLetters(redis, seed.keys, seed.cid))[0]?.lastError).toMatch(/^ERR_WEBHOOK_PRIVATE_ADDRESS: webhook address 127\.0\.0\.1 is loopback/);
  });

  it('keeps the retry schedule in Redis across a restart', async () => {
    const { rx, seed } = await setup((n, _req, res) => res.writeHead(n === 1 ? 502 : 200).end(), 'notify-restart');
    await seed.finalize(0, 'no_answer');
    const first = makeNotifier(deps(seed, { options: { ...FAST, backoffMs: [300] } }));
    const retrying = first.events.waitFor('notification:retrying');
    await first.tick();
    await retrying;
    await first.close();

    const nk = notifyKeys(seed.keys);
    const id = `${seed.cid}-0-no_answer`;
    expect(await redis.zscore(nk.retry, id)).not.toBeNull();
    expect(await redis.hget(nk.delivery(id), 'lastError')).toBe('HTTP 502');
    expect(await counts(seed)).toEqual({ delivered: 0, retrying: 1, failed: 0 });

    const second = run(deps(seed));
    const [done] = await second.events.waitFor('notification:delivered', () => true, 20_000);
    expect(done).toMatchObject({ delivery: id, tries: 2 });
    expect(rx.received.map((r) => r.headers['x-autodialer-attempt'])).toEqual(['1', '2']);
    expect(await counts(seed)).toEqual({ delivered: 1, retrying: 0, failed: 0 });
  });

  it('writes neither the webhook secret, nor phone numbers, nor the webhook path to its log', async () => {
    const { seed } = await setup((n, req, res) => (n === 1 ? req.socket.destroy() : res.writeHead(n === 2 ? 500 : 200).end('13800000002')), 'notify-log');
    await seed.finalize(1, 'answered');
    let text = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        text += chunk.toString('utf8');
        cb();
      },
    });
    const n = run(deps(seed, { log: createLogger({ level: 'trace', destination: sink }) }));
    await n.events.waitFor('notification:delivered', () => true, 20_000);
    expect(text).toMatch(/will retry/);
    expect(text).not.toContain(WEBHOOK_SECRET);
    expect(text).not.toContain('13800000002');
    expect(text).not.toContain('/hooks/dialer');
    expect(text).not.toContain('tenant=t1');
  });
});
