/**
 * Connections through Sentinel and begins held by a replica, on a primary, a
 * replica and three sentinels of this file's own. The tests run in order:
 * some take the replica away and bring it back, the last fails the primary
 * over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { connectRedis, RedisUnavailableError, type Redis, type RedisTarget } from '../../src/infra/redis.js';
import { makeAttemptStore, type CommitInput, type BeginGuard } from '../../src/store/attempts.js';
import { makeReplicaAcks } from '../../src/store/replica-acks.js';
import { keys as makeKeys } from '../../src/store/keys.js';
import { cleanPrefix, testPrefix } from '../support/redis.js';
import { startSentinelSet, until, type SentinelSet } from './fixtures/sentinel-set.js';
import { startSentinelDialer, type SentinelDialer } from './fixtures/dialer.js';

const prefix = testPrefix('ha-acks');
const k = makeKeys(prefix);
let set: SentinelSet;
let target: RedisTarget;
let redis: Redis;
let replica: Redis;

beforeAll(async () => {
  set = await startSentinelSet();
  await set.untilPrimary(set.ports.primary, 1);
  target = loadConfig(set.env, null).redis;
  redis = await connectRedis(target);
  // The last test fails the primary over: this check connection follows it, its connection errors meanwhile expected.
  redis.on('error', () => undefined);
  replica = await connectRedis(`redis://127.0.0.1:${set.ports.replica}`);
}, 60_000);

afterAll(async () => {
  await cleanPrefix(redis, prefix).catch(() => undefined);
  redis?.disconnect();
  replica?.disconnect();
  await set?.stop();
  expect(set.pids()).toEqual([]);
}, 60_000);

function begin(cid: string, idx: number): CommitInput & { guard: BeginGuard } {
  const id = `${cid}-${idx}-1`;
  return {
    cuuid: id,
    base: null,
    fields: { cid, idx, n: 1, family: 'sipcall', number: '13800000001', state: 'dialing' },
    contact: { idx, expectedRaw: '', next: { s: 'pending', n: 1, p: 0, ph: 'dialing', a: id }, oldStatus: 'pending', newStatus: 'pending' },
    dueAt: null,
    deadline: null,
    now: Date.now(),
    guard: { windowUntil: null, e164: `+86138${String(idx).padStart(8, '0')}`, dnc: [], caps: [], keepMs: 0 },
  };
}

describe('through Sentinel', () => {
  it('connects to the primary the sentinels name', async () => {
    expect(target).toMatchObject({ kind: 'sentinel', name: set.name, sentinels: set.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })) });
    expect(await redis.info('server')).toContain(`tcp_port:${set.ports.primary}`);
    expect(await redis.info('replication')).toContain('role:master');
  });

  it('says which sentinels and name it tried when none answers for that name', async () => {
    const err = await connectRedis({ ...(target as Extract<RedisTarget, { kind: 'sentinel' }>), name: 'nosuchprimary' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toContain('the primary "nosuchprimary" of Sentinel 127.0.0.1:');
    expect((err as Error).message).toContain('REDIS_SENTINEL_NAME');
  });
});

describe('replica acks', () => {
  it('a begin returns once the replica holds it', async () => {
    const conn = redis.duplicate();
    const store = makeAttemptStore({ redis, keys: k, acks: makeReplicaAcks({ redis: conn, replicas: 1, timeoutMs: 5000 }) });
    await redis.hset(k.campaign('cmpacked'), { state: 'running', total: '40', importDone: '1' });
    // One turn's begins: each answered ok, and the replica has every one of them when they return.
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => store.begin(begin('cmpacked', i))));
    expect(results).toEqual(Array(40).fill('ok'));
    const held = await Promise.all(Array.from({ length: 40 }, (_, i) => replica.exists(k.attempt(`cmpacked-${i}-1`))));
    expect(held).toEqual(Array(40).fill(1));
    conn.disconnect();
  });

  it('a write whose connection was lost before the WAIT is not held, whatever the WAIT says', async () => {
    const conn = redis.duplicate();
    const acks = makeReplicaAcks({ redis: conn, replicas: 1, timeoutMs: 5000 });
    await conn.set(`${prefix}:probe`, '1');
    const mark = acks.mark();
    const closed = new Promise((r) => conn.once('close', r));
    conn.disconnect(true);
    await closed;
    // The WAIT goes over the new connection, where nothing was written: it says nothing of the write.
    expect(await acks.held(mark)).toBe(false);
    await conn.set(`${prefix}:probe`, '2');
    expect(await acks.held(acks.mark())).toBe(true);
    conn.disconnect();
  });

  it('without the replica, a begin is written but unacknowledged', async () => {
    replica.disconnect();
    await set.kill(set.ports.replica);
    await until('the primary to lose its replica', async () => /connected_slaves:0/.test(await redis.info('replication')));
    const conn = redis.duplicate();
    const store = makeAttemptStore({ redis, keys: k, acks: makeReplicaAcks({ redis: conn, replicas: 1, timeoutMs: 200 }) });
    await redis.hset(k.campaign('cmpnoack'), { state: 'running', total: '3', importDone: '1' });
    expect(await Promise.all([0, 1, 2].map((i) => store.begin(begin('cmpnoack', i))))).toEqual(Array(3).fill('unacknowledged'));
    expect(await redis.exists(k.attempt('cmpnoack-0-1'))).toBe(1);
    // A refusal wrote nothing: no WAIT, its answer as it is.
    await redis.hset(k.campaign('cmpnoack'), 'state', 'paused');
    expect(await store.begin(begin('cmpnoack', 3))).toEqual({ refused: 'state', state: 'paused' });
    conn.disconnect();
  });

  it('without the replica, a campaign dials nobody: every contact ends in doubt', async () => {
    await withDialer('ha-noack', 200, async (d) => {
      expect(d.config.replicaAcks).toEqual({ replicas: 1, timeoutMs: 200 });
      d.container.startWorker({ concurrency: 10, feedEveryMs: 50, sweepEveryMs: 100 });
      const { id } = await d.campaign({ contacts: 8, cps: 0 });
      const finals: string[] = [];
      d.container.events.on('contact:final', (e) => {
        if (e.campaignId === id) finals.push(e.status);
      });
      await until('every contact to end', async () => (await d.contacts(id, 8)).every((c) => c.status !== 'pending'));
      const contacts = await d.contacts(id, 8);
      expect(contacts.map((c) => c.status)).toEqual(Array(8).fill('in_doubt'));
      expect(contacts.every((c) => c.error?.includes('AUTODIALER_REPLICA_ACKS'))).toBe(true);
      expect(d.ledgerOf(id)).toEqual([]);
      const attempt = await d.container.attempts.get(`${id}-0-1`);
      expect(attempt).toMatchObject({ state: 'final', outcome: 'in_doubt', inDoubt: true });
    });
  }, 60_000);

  it('a begin a failover lost before a replica held it: its contact goes back and is dialed, once', async () => {
    await withDialer('ha-lost', 200, async (d) => {
      // The first begin is written and not held (no replica yet); then Redis loses it, as a failover to a
      // replica that never had it does: every key of the deployment back to what it was before the begin.
      // The replica comes back meanwhile, so that the next begin is held.
      const service = d.container.service;
      const realBegin = service.begin;
      let lost = 0;
      service.begin = async (...args) => {
        const before = await snapshot(d.config.prefix);
        const r = await realBegin(...args);
        if (lost === 0 && r.result === 'unacknowledged') {
          lost++;
          await rollBack(d.config.prefix, before);
          await set.restartAsReplica(set.ports.replica, set.ports.primary);
          await set.untilPrimary(set.ports.primary, 1);
        }
        return r;
      };
      d.container.startWorker({ concurrency: 1, feedEveryMs: 50, sweepEveryMs: 100 });
      const { id, numbers } = await d.campaign({ contacts: 1, cps: 0 });
      await until('the contact to end', async () => (await d.contacts(id, 1)).every((c) => c.status !== 'pending'), 60_000);
      expect(lost).toBe(1);
      // Dialed once, under the attempt id the lost begin had: nothing of it was left to be in doubt about.
      expect(d.ledgerOf(id).map((e) => [e.number, e.customuuid])).toEqual([[numbers[0], `${id}-0-1`]]);
      const [contact] = await d.contacts(id, 1);
      expect(['answered', 'no_answer', 'busy', 'failed']).toContain(contact!.status);
      expect(await d.container.attempts.get(`${id}-0-1`)).toMatchObject({ state: 'final', inDoubt: false });
    });
  }, 90_000);

  it('after a failover, a contact left queued with no dial job gets one again, and is dialed once', async () => {
    await withDialer('ha-jobless', 500, async (d) => {
      const { id, numbers } = await d.campaign({ contacts: 2, cps: 0 });
      // What a lost write leaves behind (its contact's change gone, its job completed on the new server): contact 0
      // taken for its first attempt, no feeder holding it, no job. Contact 1 is dialed as usual.
      const [taken] = await d.container.contacts.takeDue(id, Date.now(), 1);
      expect(taken?.idx).toBe(0);
      await d.container.contacts.doneFeeding(id, [0]);
      d.container.startWorker({ concurrency: 2, feedEveryMs: 50, sweepEveryMs: 100 });
      await until('contact 1 to end', async () => (await d.contacts(id, 2))[1]?.status !== 'pending', 30_000);
      expect((await d.contacts(id, 2))[0]).toMatchObject({ status: 'pending' });
      expect(d.ledgerOf(id).map((e) => e.number)).toEqual([numbers[1]]);

      // The primary dies; the replica takes over (the old primary back as its replica), and the worker's feeder,
      // seeing another server, gives contact 0 its job again.
      const before = await set.primaryPort();
      const after = before === set.ports.primary ? set.ports.replica : set.ports.primary;
      await set.kill(before!);
      await until('the sentinels to promote the replica', async () => (await set.primaryPort()) === after, 60_000);
      await set.restartAsReplica(before!, after);
      await until('contact 0 to end', async () => (await d.contacts(id, 2))[0]?.status !== 'pending', 60_000);
      expect(d.ledgerOf(id).map((e) => e.number).sort()).toEqual([...numbers].sort());
      expect(d.ledgerOf(id).map((e) => e.customuuid).sort()).toEqual([`${id}-0-1`, `${id}-1-1`]);
    });
  }, 150_000);
});

/** A dialer of this set (its replica acks waiting `ackTimeoutMs`), closed after `run`. */
async function withDialer(name: string, ackTimeoutMs: number, run: (d: SentinelDialer) => Promise<void>): Promise<void> {
  const d = await startSentinelDialer(name, set.env, {}, { AUTODIALER_REPLICA_ACKS_TIMEOUT_MS: String(ackTimeoutMs) });
  try {
    await run(d);
  } finally {
    await d.close();
  }
}

/** Every key under `prefix` as DUMP gives it, with its time to live. */
async function snapshot(prefix: string): Promise<Map<string, { value: Buffer; ttl: number }>> {
  const out = new Map<string, { value: Buffer; ttl: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const [value, ttl] = await Promise.all([redis.dumpBuffer(key), redis.pttl(key)]);
      if (value) out.set(key, { value, ttl });
    }
  } while (cursor !== '0');
  return out;
}

/** Every key under `prefix` as it was in `before`: keys written since removed, the others restored. */
async function rollBack(prefix: string, before: Map<string, { value: Buffer; ttl: number }>): Promise<void> {
  await cleanPrefix(redis, prefix);
  for (const [key, { value, ttl }] of before) await redis.restore(key, ttl > 0 ? ttl : 0, value, 'REPLACE');
}
