/**
 * The begin's last checks, made by the commit script itself on real Redis:
 * campaign state, calling window, DNC lists and frequency caps. A refusal
 * writes nothing; a begin that passes counts towards the number's caps and
 * the campaign's per-second begin counts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { makeAttemptStore, type BeginGuard, type CommitInput } from '../../src/store/attempts.js';
import { keys as makeKeys } from '../../src/store/keys.js';
import { makeDialRate } from '../../src/store/dial-rate.js';
import { nextAllowedAt, parseFrequencyCap } from '../../src/domain/frequency-cap.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';

const prefix = testPrefix('begin-guard');
const k = makeKeys(prefix);
let redis: Redis;
beforeAll(() => {
  redis = connectRedis();
});
afterAll(async () => {
  await cleanPrefix(redis, prefix);
  redis.disconnect();
});

const T0 = 1_800_000_000_000;
const E164 = '+8613800000001';

function begin(cid: string, idx: number, n: number, now: number, guard: Partial<BeginGuard> = {}): CommitInput & { guard: BeginGuard } {
  const id = `${cid}-${idx}-${n}`;
  return {
    cuuid: id,
    base: null,
    fields: { cid, idx, n, family: 'sipcall', number: '13800000001', state: 'dialing' },
    contact: { idx, expectedRaw: '', next: { s: 'pending', n, p: 0, ph: 'dialing', a: id }, oldStatus: 'pending', newStatus: 'pending' },
    dueAt: null,
    deadline: null,
    now,
    guard: { windowUntil: null, e164: E164, dnc: [], caps: [], keepMs: 86_400_000, ...guard },
  };
}

async function campaign(cid: string, state: string): Promise<void> {
  await redis.hset(k.campaign(cid), { state, total: '10', importDone: '1' });
}

/** Every key the campaign and the number have, with their values: to show a refusal wrote nothing. */
async function snapshot(cid: string): Promise<Record<string, unknown>> {
  return {
    st: await redis.hgetall(k.contactState(cid)),
    sends: await redis.hgetall(k.sends(cid)),
    freq: await redis.zrange(k.numberCalls(E164), 0, -1, 'WITHSCORES'),
    attempts: await redis.keys(`${prefix}:att:${cid}-*`),
  };
}

describe('begin guard', () => {
  it('refuses a begin when the campaign is not running, writing nothing', async () => {
    const store = makeAttemptStore({ redis, keys: k });
    for (const [cid, state] of [
      ['cmpstat1', 'paused'],
      ['cmpstat2', 'cancelled'],
    ] as const) {
      await campaign(cid, state);
      const before = await snapshot(cid);
      expect(await store.begin(begin(cid, 0, 1, T0))).toEqual({ refused: 'state', state });
      expect(await snapshot(cid)).toEqual(before);
    }
    expect(await store.begin(begin('cmpnohas', 0, 1, T0))).toEqual({ refused: 'state', state: 'gone' });
    await campaign('cmpstat3', 'importing');
    expect(await store.begin(begin('cmpstat3', 0, 1, T0))).toBe('ok');
  });

  it('refuses a begin at or after the instant its window closes', async () => {
    const store = makeAttemptStore({ redis, keys: k });
    await campaign('cmpwinaa', 'running');
    expect(await store.begin(begin('cmpwinaa', 0, 1, T0, { windowUntil: T0 }))).toEqual({ refused: 'window' });
    expect(await store.begin(begin('cmpwinaa', 0, 1, T0 + 5, { windowUntil: T0 }))).toEqual({ refused: 'window' });
    expect(await redis.hlen(k.contactState('cmpwinaa'))).toBe(0);
    expect(await store.begin(begin('cmpwinaa', 0, 1, T0 - 1, { windowUntil: T0 }))).toBe('ok');
  });

  it('refuses a number on any of the campaign’s DNC lists, naming them', async () => {
    const store = makeAttemptStore({ redis, keys: k });
    await campaign('cmpdncaa', 'running');
    await redis.sadd(k.dnc('national'), '+8613999999999');
    await redis.sadd(k.dnc('internal'), E164);
    await redis.sadd(k.dnc('optout'), E164);
    expect(await store.begin(begin('cmpdncaa', 0, 1, T0, { dnc: ['national', 'internal', 'optout'] }))).toEqual({ refused: 'dnc', lists: ['internal', 'optout'] });
    expect(await store.get('cmpdncaa-0-1')).toBeNull();
    expect(await store.begin(begin('cmpdncaa', 0, 1, T0, { dnc: ['national'] }))).toBe('ok');
  });

  it('counts attempts to a number across campaigns and refuses one over a cap until the cap allows it', async () => {
    const store = makeAttemptStore({ redis, keys: k });
    const caps = parseFrequencyCap('2/1h,3/1d');
    const CAPPED = '+8613500000000';
    await campaign('cmpcapaa', 'running');
    await campaign('cmpcapbb', 'running');
    const times: number[] = [];
    // Two attempts in campaign A, ten minutes apart: the hourly cap is reached.
    for (const [i, t] of [T0, T0 + 600_000].entries()) {
      expect(await store.begin(begin('cmpcapaa', i, 1, t, { caps, e164: CAPPED }))).toBe('ok');
      times.push(t);
    }
    // Campaign B, same number, 20 minutes later: refused until an hour after the first attempt.
    const t = T0 + 1_200_000;
    const r = await store.begin(begin('cmpcapbb', 0, 1, t, { caps, e164: CAPPED }));
    expect(r).toEqual({ refused: 'cap', retryAt: T0 + 3_600_000 });
    expect(r).toEqual({ refused: 'cap', retryAt: nextAllowedAt(caps, times, t) });
    // At that instant it passes; the daily cap (3) then holds the fourth until a day after the first.
    expect(await store.begin(begin('cmpcapbb', 0, 1, T0 + 3_600_000, { caps, e164: CAPPED }))).toBe('ok');
    times.push(T0 + 3_600_000);
    const later = T0 + 5 * 3_600_000;
    const r2 = await store.begin(begin('cmpcapbb', 1, 1, later, { caps, e164: CAPPED }));
    expect(r2).toEqual({ refused: 'cap', retryAt: T0 + 86_400_000 });
    expect(r2).toEqual({ refused: 'cap', retryAt: nextAllowedAt(caps, times, later) });
    // A campaign with no cap of its own still counts: its attempt is recorded for the others' caps.
    expect(await store.begin(begin('cmpcapbb', 2, 1, later, { e164: CAPPED }))).toBe('ok');
    expect(await redis.zcard(k.numberCalls(CAPPED))).toBe(4);
  });

  it('keeps a number’s attempts only as long as asked, and expires the key', async () => {
    const store = makeAttemptStore({ redis, keys: k });
    const number = '+8613700000000';
    await campaign('cmpkeepa', 'running');
    expect(await store.begin(begin('cmpkeepa', 0, 1, T0, { e164: number, keepMs: 3_600_000 }))).toBe('ok');
    expect(await store.begin(begin('cmpkeepa', 1, 1, T0 + 2 * 3_600_000, { e164: number, keepMs: 3_600_000 }))).toBe('ok');
    // The first attempt is older than the hour kept: gone.
    expect(await redis.zrange(k.numberCalls(number), 0, -1)).toEqual(['cmpkeepa-1-1']);
    const ttl = await redis.pttl(k.numberCalls(number));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
    // keepMs 0: nothing kept at all.
    const other = '+8613700000001';
    expect(await store.begin(begin('cmpkeepa', 2, 1, T0, { e164: other, keepMs: 0 }))).toBe('ok');
    expect(await redis.exists(k.numberCalls(other))).toBe(0);
  });

  it('counts begins per second for the campaign’s recent rate, keeping only the last seconds', async () => {
    const store = makeAttemptStore({ redis, keys: k });
    await campaign('cmpratea', 'running');
    const base = Math.floor(Date.now() / 1000) * 1000 - 40_000;
    // 3 begins a second for 30 seconds.
    let idx = 0;
    for (let s = 0; s < 30; s++) {
      await Promise.all([0, 1, 2].map((j) => store.begin(begin('cmpratea', idx + j, 1, base + s * 1000 + j * 10, { e164: `+86137${String(idx + j).padStart(8, '0')}` }))));
      idx += 3;
    }
    const fields = (await redis.hkeys(k.sends('cmpratea'))).map(Number).sort((a, b) => a - b);
    // Buckets older than 20 s before the newest are gone.
    expect(fields[0]).toBeGreaterThanOrEqual(fields[fields.length - 1]! - 20);
    const rate = makeDialRate({ redis, keys: k });
    expect(await rate.recent('cmpratea', base + 30_000)).toBe(3);
    expect(await rate.recent('cmpratea', base + 35_000)).toBe(1.5);
    expect(await redis.pttl(k.sends('cmpratea'))).toBeGreaterThan(0);
  });

  it('a begin whose contact changed meanwhile conflicts before any check writes', async () => {
    const store = makeAttemptStore({ redis, keys: k });
    await campaign('cmpcasaa', 'running');
    await redis.hset(k.contactState('cmpcasaa'), '0', '{"s":"pending","n":0,"p":0}');
    expect(await store.begin(begin('cmpcasaa', 0, 1, T0, { e164: '+8613600000000' }))).toBe('conflict');
    expect(await redis.exists(k.numberCalls('+8613600000000'))).toBe(0);
  });
});
