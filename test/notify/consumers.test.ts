import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { createLogger } from '../../src/infra/logger.js';
import { startNotifier, type NotifierDeps, type RunningNotifier } from '../../src/notify/notifier.js';
import { notificationCounts } from '../../src/notify/deliveries.js';
import { notifyKeys, NOTIFIER_GROUP } from '../../src/notify/keys.js';
import type { NotificationPayload } from '../../src/notify/payload.js';
import type { NotifierOptionsInput } from '../../src/notify/policy.js';
import { seedCampaign, startReceiver, until, verifySignature, WEBHOOK_SECRET, type Seeded } from './support.js';

const ROWS = Array.from({ length: 24 }, (_, i) => [`Name ${i}`, `139${String(i).padStart(8, '0')}`, i % 2 ? 'Wuhan' : 'Xian']);
const STATUSES = ['answered', 'no_answer', 'busy', 'failed'] as const;

describe('notifier consumers on one outbox', () => {
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

  function start(seed: Seeded, consumer: string, options: NotifierOptionsInput): RunningNotifier {
    const deps: NotifierDeps = {
      redis,
      keys: seed.keys,
      campaigns: seed.campaigns,
      contacts: seed.contacts,
      attempts: seed.attempts,
      now: () => Date.now(),
      random: Math.random,
      log: createLogger({ level: 'silent' }),
      options: { pollMs: 10, connectTimeoutMs: 1_000, requestTimeoutMs: 2_000, claimAfterMs: 10_000, leaseMs: 10_000, consumer, ...options },
    };
    const n = startNotifier(deps);
    cleanups.push(() => n.stop());
    return n;
  }

  it('two instances share the entries: none lost, each sent once, under its stable delivery id', async () => {
    const prefix = testPrefix('notify-two');
    prefixes.push(prefix);
    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    const seed = await seedCampaign(redis, prefix, rx.url, ROWS);
    const expected = new Set<string>();
    for (let i = 0; i < ROWS.length; i++) {
      const status = STATUSES[i % STATUSES.length]!;
      await seed.finalize(i, status);
      expected.add(`${seed.cid}-${i}-${status}`);
    }
    const byConsumer = { a: 0, b: 0 };
    const a = start(seed, 'worker-a', { batch: 4 });
    const b = start(seed, 'worker-b', { batch: 4 });
    a.events.on('notification:delivered', () => byConsumer.a++);
    b.events.on('notification:delivered', () => byConsumer.b++);
    await until(() => byConsumer.a + byConsumer.b >= ROWS.length, 'every delivery');

    const ids = rx.received.map((r) => String(r.headers['x-autodialer-delivery']));
    // None lost; any repeat would carry the same id and the same body.
    expect(new Set(ids)).toEqual(expected);
    const bodies = new Map<string, Set<string>>();
    for (const r of rx.received) bodies.set(String(r.headers['x-autodialer-delivery']), (bodies.get(String(r.headers['x-autodialer-delivery'])) ?? new Set()).add(r.body));
    expect([...bodies.values()].every((b) => b.size === 1)).toBe(true);
    // Under normal conditions (no consumer silent for claimAfterMs), each one exactly once.
    expect(ids).toHaveLength(ROWS.length);
    for (const r of rx.received) {
      expect(verifySignature(WEBHOOK_SECRET, r.headers, r.body)).toBe(true);
      const p = JSON.parse(r.body) as NotificationPayload;
      expect(p.delivery_id).toBe(r.headers['x-autodialer-delivery']);
      expect(p.contact.columns).toEqual({ name: ROWS[p.contact.index]![0], phone: ROWS[p.contact.index]![1], city: ROWS[p.contact.index]![2] });
    }
    expect(await notificationCounts(redis, seed.keys, seed.cid)).toEqual({ delivered: ROWS.length, retrying: 0, failed: 0 });
    expect(await redis.xlen(notifyKeys(seed.keys).outbox)).toBe(0);
  });

  it('takes over entries left pending by a consumer that died, and sends them again under the same id', async () => {
    const prefix = testPrefix('notify-claim');
    prefixes.push(prefix);
    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    const seed = await seedCampaign(redis, prefix, rx.url, ROWS.slice(0, 3));
    for (let i = 0; i < 3; i++) await seed.finalize(i, 'answered');
    const nk = notifyKeys(seed.keys);
    // A consumer reads every entry and dies before settling any.
    await redis.xgroup('CREATE', nk.outbox, NOTIFIER_GROUP, '0', 'MKSTREAM');
    const taken = (await redis.xreadgroup('GROUP', NOTIFIER_GROUP, 'ghost', 'COUNT', 10, 'STREAMS', nk.outbox, '>')) as [string, unknown[]][];
    expect(taken[0]![1]).toHaveLength(3);

    const survivor = start(seed, 'survivor', { connectTimeoutMs: 50, requestTimeoutMs: 100, claimAfterMs: 300, leaseMs: 300 });
    let delivered = 0;
    survivor.events.on('notification:delivered', () => delivered++);
    await until(() => delivered >= 3, 'the claimed entries to be delivered');

    expect(new Set(rx.received.map((r) => r.headers['x-autodialer-delivery']))).toEqual(new Set([0, 1, 2].map((i) => `${seed.cid}-${i}-answered`)));
    expect(rx.received).toHaveLength(3);
    const pending = (await redis.xpending(nk.outbox, NOTIFIER_GROUP)) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
    expect(await notificationCounts(redis, seed.keys, seed.cid)).toEqual({ delivered: 3, retrying: 0, failed: 0 });
  });

  it('a stopping instance leaves the group only when it holds nothing', async () => {
    const prefix = testPrefix('notify-leave');
    prefixes.push(prefix);
    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    const seed = await seedCampaign(redis, prefix, rx.url, ROWS.slice(0, 1));
    await seed.finalize(0, 'busy');
    const n = start(seed, 'short-lived', {});
    await n.events.waitFor('notification:delivered');
    await n.stop();
    const consumers = (await redis.xinfo('CONSUMERS', notifyKeys(seed.keys).outbox, NOTIFIER_GROUP)) as unknown[];
    expect(consumers).toHaveLength(0);
  });
});
