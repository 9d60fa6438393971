/**
 * Callback log retention on real Redis: settled entries received before the
 * cut-off go with their recorded results, pending ones stay whatever their
 * age, and the log keeps working for what is left.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Keys } from '../../src/store/keys.js';
import { callbackLogKeys, makeCallbackLog } from '../../src/store/callback-log.js';
import { makeCallbackRetention } from '../../src/store/callback-retention.js';
import { redisKeySets } from '../support/redis.js';
import { sipcallCdr, startRig, type Rig } from '../callbacks/support.js';
import { loadConfig } from '../../src/config.js';

describe('callback log retention', () => {
  const sets = redisKeySets();
  const fresh = sets.fresh;
  let redis: Redis;
  beforeAll(() => {
    redis = sets.redis();
  });

  /** An entry written at a chosen id (its receipt time), settled or pending. */
  async function entry(k: Keys, ms: number, pending: boolean): Promise<string> {
    const { log, pending: pendingKey, results } = callbackLogKeys(k);
    const id = `${ms}-0`;
    await redis.xadd(log, id, 'kind', 'sipcall-cdr', 'at', String(ms), 'ip', '127.0.0.1', 'ct', 'application/json', 'body', `{"n":${ms}}`);
    if (pending) await redis.zadd(pendingKey, ms, id);
    else await redis.hset(results, id, 'correlated|final|abcdefgh-1-1|abcdefgh');
    return id;
  }

  it('removes the settled entries received before the cut-off with their results, page after page, and keeps pending ones', async () => {
    const k = fresh('cb-retention');
    const { log, results } = callbackLogKeys(k);
    // 1000 … 12000 ms: every third one still pending.
    const ids: { id: string; ms: number; pending: boolean }[] = [];
    for (let i = 1; i <= 12; i++) ids.push({ id: await entry(k, i * 1000, i % 3 === 0), ms: i * 1000, pending: i % 3 === 0 });

    const r = await makeCallbackRetention({ redis, keys: k }).prune(9_500, 2);
    const old = ids.filter((e) => e.ms < 9_500);
    expect(r).toEqual({ removed: old.filter((e) => !e.pending).length, keptPending: old.filter((e) => e.pending).length });
    const left = (await redis.xrange(log, '-', '+')).map(([id]) => id);
    expect(left).toEqual(ids.filter((e) => e.pending || e.ms >= 9_500).map((e) => e.id));
    for (const e of old.filter((x) => !x.pending)) expect(await redis.hexists(results, e.id)).toBe(0);
    for (const e of ids.filter((x) => x.ms >= 9_500 && !x.pending)) expect(await redis.hexists(results, e.id)).toBe(1);

    // Again: nothing more to remove, the pending ones are still kept.
    expect(await makeCallbackRetention({ redis, keys: k }).prune(9_500, 2)).toEqual({ removed: 0, keptPending: 3 });
  });

  it('leaves the live log readable: appended and settled entries go once old enough, pending ones stay', async () => {
    const k = fresh('cb-retention-live');
    const cbLog = makeCallbackLog({ redis, keys: k });
    const raw = { kind: 'sipcall-cdr' as const, receivedAt: Date.now(), remoteIp: '127.0.0.1', contentType: 'application/json', body: '{"customuuid":"x"}' };
    const [a, b] = await Promise.all([cbLog.append(raw), cbLog.append({ ...raw, body: '{"customuuid":"y"}' })]);
    await cbLog.settle([{ settlement: { id: a, counter: 'orphan', kind: 'orphan', attemptId: null, campaignId: null } }]);
    const r = await makeCallbackRetention({ redis, keys: k }).prune(Date.now() + 1_000);
    expect(r).toEqual({ removed: 1, keptPending: 1 });
    expect(await cbLog.get(a)).toBeNull();
    expect(await cbLog.results([a])).toEqual([null]);
    expect((await cbLog.get(b))?.body).toBe('{"customuuid":"y"}');
    expect(await cbLog.pendingCount()).toBe(1);
    // The counters are totals: they stay.
    expect((await cbLog.counters(null)).received).toBe(2);
    expect((await cbLog.counters(null)).orphan).toBe(1);
  });
});

describe('callback log retention in a running server', () => {
  let rig: Rig | null = null;
  afterAll(async () => {
    await rig?.close();
  });

  it('prunes what is older than AUTODIALER_CALLBACK_RETENTION on its own, and logs what it did', async () => {
    // The server's clock runs three hours ahead: with a retention of 1h, every callback stored now is old enough.
    rig = await startRig('cb-retention-server', { AUTODIALER_CALLBACK_RETENTION: '1h' }, { now: () => Date.now() + 3 * 3_600_000, retentionEveryMs: 20 });
    const orphan = await rig.post('/callbacks/sipcall/cdr', JSON.stringify(sipcallCdr({ customuuid: 'zzzzzzzz-1-1', uuid: 'u-old', destnumber: '13800000000', outcome: 'busy' })));
    expect(orphan.status).toBe(200);
    const stored = String(orphan.json.stored);
    await rig.c.receiver.idle();
    for (let i = 0; i < 200 && (await rig.c.callbackLog.get(stored)) !== null; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await rig.c.callbackLog.get(stored)).toBeNull();
    expect(await rig.c.callbackLog.length()).toBe(0);
    expect(rig.logs()).toMatch(/"removed":1,"keptPending":0,"retentionMs":3600000,"msg":"callback log pruned to its retention"/);
  });
});

describe('callback log retention by default', () => {
  let rig: Rig | null = null;
  afterAll(async () => {
    await rig?.close();
  });

  it('keeps settled callbacks an hour (what they did is in the attempts), finished campaigns 30 days', async () => {
    const config = loadConfig({}, null);
    expect(config.callbackRetentionMs).toBe(3_600_000);
    expect(config.historyRetentionMs).toBe(30 * 86_400_000);
    expect(loadConfig({ AUTODIALER_HISTORY_RETENTION: '0' }, null).historyRetentionMs).toBeNull();
    expect(() => loadConfig({ AUTODIALER_HISTORY_RETENTION: '10m' }, null)).toThrow(/AUTODIALER_HISTORY_RETENTION: keep finished campaigns at least 1h \(0 keeps them for ever\), got "10m"/);

    // No variable set; the server's clock runs two hours ahead.
    rig = await startRig('cb-retention-default', {}, { now: () => Date.now() + 2 * 3_600_000, retentionEveryMs: 20 });
    const res = await rig.post('/callbacks/sipcall/cdr', JSON.stringify(sipcallCdr({ customuuid: 'zzzzzzzz-1-1', uuid: 'u-default', destnumber: '13800000000', outcome: 'busy' })));
    const stored = String(res.json.stored);
    await rig.c.receiver.idle();
    for (let i = 0; i < 200 && (await rig.c.callbackLog.get(stored)) !== null; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await rig.c.callbackLog.get(stored)).toBeNull();
    expect(rig.logs()).toMatch(/"retentionMs":3600000,"msg":"callback log pruned to its retention"/);
  });
});
