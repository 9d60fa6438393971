/**
 * Connections through Sentinel and begins held by a replica, on a primary, a
 * replica and three sentinels of this file's own. The tests run in order:
 * the last ones take the replica away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { connectRedis, RedisUnavailableError, type Redis, type RedisTarget } from '../../src/infra/redis.js';
import { makeAttemptStore, type CommitInput, type BeginGuard } from '../../src/store/attempts.js';
import { makeReplicaAcks } from '../../src/store/replica-acks.js';
import { keys as makeKeys } from '../../src/store/keys.js';
import { cleanPrefix, testPrefix } from '../support/redis.js';
import { startSentinelSet, until, type SentinelSet } from './fixtures/sentinel-set.js';
import { startSentinelDialer } from './fixtures/dialer.js';

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
    const d = await startSentinelDialer('ha-noack', set.env, {}, { AUTODIALER_REPLICA_ACKS_TIMEOUT_MS: '200' });
    try {
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
    } finally {
      await d.close();
    }
  }, 60_000);
});
