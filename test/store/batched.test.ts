/**
 * Calls gathered in one turn of the event loop: one script call for all of
 * them, each caller still answered with its own result (and its own failure).
 * On real Redis; the connection only counts the script calls it carries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { makeTurnBatcher } from '../../src/infra/turn-batch.js';
import { makeAttemptStore, type CommitInput } from '../../src/store/attempts.js';
import { makeContactStore } from '../../src/store/contacts.js';
import { keys as makeKeys } from '../../src/store/keys.js';
import { COMMIT_MANY } from '../../src/store/commit-script.js';
import { packRow } from '../../src/store/row-codec.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';

/**
 * The same connection, counting the script calls it carries: each is one
 * EVALSHA (the EVAL that follows a NOSCRIPT, when Redis has not seen the
 * script yet, is the same call again and is not counted).
 */
function counting(redis: Redis): { redis: Redis; scripts: () => number } {
  let n = 0;
  const proxy = new Proxy(redis, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (prop === 'evalsha' && typeof v === 'function') {
        return (...args: unknown[]) => {
          n++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { redis: proxy, scripts: () => n };
}

/** One key prefix and one connection for the whole file (the turn batcher's tests use neither). */
const prefix = testPrefix('store-batched');
const k = makeKeys(prefix);
let base: Redis;
beforeAll(() => {
  base = connectRedis();
});
afterAll(async () => {
  await cleanPrefix(base, prefix);
  base.disconnect();
});

describe('turn batcher', () => {
  it('runs the calls of one turn as one batch, in order, and answers each with its own outcome', async () => {
    const runs: number[][] = [];
    const double = makeTurnBatcher<number, number>({
      max: 10,
      run: async (items) => {
        runs.push([...items]);
        return items.map((x) => (x === 3 ? new Error('three refused') : x * 2));
      },
    });
    const answers = await Promise.allSettled([1, 2, 3, 4].map((x) => double(x)));
    expect(runs).toEqual([[1, 2, 3, 4]]);
    expect(answers.map((a) => (a.status === 'fulfilled' ? a.value : (a.reason as Error).message))).toEqual([2, 4, 'three refused', 8]);
    // A later turn is a new batch.
    expect(await double(5)).toBe(10);
    expect(runs).toEqual([[1, 2, 3, 4], [5]]);
  });

  it('splits a turn into batches of at most max, and a failed batch fails its own callers only', async () => {
    const runs: number[][] = [];
    const echo = makeTurnBatcher<number, number>({
      max: 2,
      run: async (items) => {
        runs.push([...items]);
        if (items.includes(3)) throw new Error('batch lost');
        return items;
      },
    });
    const answers = await Promise.allSettled([1, 2, 3, 4, 5].map((x) => echo(x)));
    expect(runs).toEqual([[1, 2], [3, 4], [5]]);
    expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
  });

  it('a run that throws at once fails its batch, not the process', async () => {
    const boom = makeTurnBatcher<number, number>({
      max: 4,
      run: () => {
        throw new Error('no connection');
      },
    });
    await expect(boom(1)).rejects.toThrow('no connection');
  });
});

describe('attempt store: batched commits and reads', () => {

  const first = (cid: string, idx: number): CommitInput => ({
    cuuid: `${cid}-${idx}-1`,
    base: null,
    fields: { cid, idx, n: 1, family: 'sipcall', number: `1380000000${idx}`, state: 'dialing' },
    contact: { idx, expectedRaw: '', next: { s: 'pending', n: 1, p: 0, ph: 'dialing', a: `${cid}-${idx}-1` }, oldStatus: 'pending', newStatus: 'pending' },
    dueAt: null,
    deadline: null,
    now: 1_700_000_000_000,
  });

  it('commits of one turn go as one script call, each its own compare-and-set', async () => {
    const { redis, scripts } = counting(base);
    const store = makeAttemptStore({ redis, keys: k });
    const before = scripts();
    // Three new attempts, and a second first commit of the same attempt: it conflicts, the others do not.
    const results = await Promise.all([first('cmpaaaaa', 0), first('cmpaaaaa', 1), first('cmpaaaaa', 2), first('cmpaaaaa', 0)].map((c) => store.commit(c)));
    expect(results).toEqual(['ok', 'ok', 'ok', 'conflict']);
    expect(scripts() - before).toBe(1);
    expect(await base.get(k.attempt('cmpaaaaa-1-1'))).toBe('1|~d-s----13800000001');
    expect(JSON.parse((await base.hget(k.contactState('cmpaaaaa'), '2')) ?? '{}')).toMatchObject({ ph: 'dialing', a: 'cmpaaaaa-2-1' });
  });

  it('reads of one turn go as one script call: attempt with its contact state, null for a missing one', async () => {
    const { redis, scripts } = counting(base);
    const store = makeAttemptStore({ redis, keys: k });
    await store.commit(first('cmpbbbbb', 0));
    const before = scripts();
    const [a, missing, other] = await Promise.all(['cmpbbbbb-0-1', 'cmpbbbbb-5-1', 'cmpaaaaa-1-1'].map((id) => store.readWithState(id)));
    expect(scripts() - before).toBe(1);
    expect(a?.a).toMatchObject({ id: 'cmpbbbbb-0-1', cid: 'cmpbbbbb', idx: 0, ver: 1, state: 'dialing' });
    expect(JSON.parse(a?.raw ?? '{}')).toMatchObject({ a: 'cmpbbbbb-0-1' });
    expect(missing).toBeNull();
    expect(other?.a.cid).toBe('cmpaaaaa');
  });

  it('a damaged record fails its own read only', async () => {
    const store = makeAttemptStore({ redis: base, keys: k });
    await base.set(k.attempt('cmpccccc-0-1'), '1|{"cid":"cmpccccc","idx":"seven"}');
    await base.set(k.attempt('cmpccccc-2-1'), 'no version');
    await base.set(k.attempt('cmpccccc-3-1'), '1|{"cid":"cmpccccc","idx":3}');
    await base.hset(k.attempt('cmpccccc-4-1'), { ver: '1', cid: 'cmpccccc' });
    await store.commit(first('cmpccccc', 1));
    const ids = ['cmpccccc-0-1', 'cmpccccc-1-1', 'cmpccccc-2-1', 'cmpccccc-3-1', 'cmpccccc-4-1'];
    const [bad, good, noVersion, notText, wrongType] = await Promise.allSettled(ids.map((id) => store.readWithState(id)));
    const reason = (r: PromiseSettledResult<unknown> | undefined): string => (r?.status === 'rejected' ? String(r.reason) : 'not rejected');
    expect(reason(bad)).toMatch(/attempt cmpccccc-0-1 record is damaged: .*idx/);
    expect(good?.status === 'fulfilled' && good.value?.a.idx).toBe(1);
    expect(reason(noVersion)).toMatch(/attempt cmpccccc-2-1 record is damaged: no version/);
    expect(reason(notText)).toMatch(/attempt cmpccccc-3-1 record is damaged: idx: not text/);
    expect(reason(wrongType)).toMatch(/attempt cmpccccc-4-1 record is damaged: no version/);
    // A commit over a damaged record is refused as a conflict (the next read names the damage), never written blind.
    expect(await store.commit({ ...first('cmpccccc', 2), base: null })).toBe('conflict');
    expect(await base.get(k.attempt('cmpccccc-2-1'))).toBe('no version');
  });

  it('a batch adds its counter moves up and completes the campaign once its last contact is final', async () => {
    const cid = 'cmpeeeee';
    // Three contacts, imported and begun; the campaign runs and notifies.
    await base.hset(k.campaign(cid), { total: '3', importDone: '1', state: 'running', notify: '1' });
    await base.hset(k.counts(cid), { pending: '3', _final: '0' });
    await base.sadd(k.active, cid);
    const store = makeAttemptStore({ redis: base, keys: k });
    expect(await Promise.all([0, 1, 2].map((i) => store.commit(first(cid, i))))).toEqual(['ok', 'ok', 'ok']);
    const begun = await Promise.all([0, 1, 2].map((i) => store.get(`${cid}-${i}-1`)));
    const end = (idx: number, status: 'answered' | 'busy', stats: Record<string, number>): CommitInput => ({
      cuuid: `${cid}-${idx}-1`,
      base: begun[idx] ?? null,
      fields: { state: 'final', outcome: status },
      contact: {
        idx,
        expectedRaw: JSON.stringify({ s: 'pending', n: 1, p: 0, ph: 'dialing', a: `${cid}-${idx}-1` }),
        next: { s: status, n: 1, p: 1 },
        oldStatus: 'pending',
        newStatus: status,
      },
      dueAt: null,
      deadline: 'del',
      now: 1_700_000_001_000,
      stats,
    });
    // Two end in one batch: counts and sums move, the campaign is not complete yet.
    const firstTwo = await Promise.all([store.commit(end(0, 'answered', { answered: 1, billsec: 20 })), store.commit(end(1, 'answered', { answered: 1, billsec: 7 }))]);
    expect(firstTwo).toEqual(['ok', 'ok']);
    expect(await base.hgetall(k.counts(cid))).toMatchObject({ pending: '1', answered: '2', _final: '2' });
    expect(await base.hgetall(k.stats(cid))).toEqual({ answered: '2', billsec: '27' });
    expect(await base.hget(k.campaign(cid), 'state')).toBe('running');
    // The last one, with a conflicting one in the same batch: only the commit that ends the campaign answers 'completed'.
    const last = await Promise.all([store.commit(end(2, 'busy', {})), store.commit(end(0, 'busy', {}))]);
    expect(last).toEqual(['completed', 'conflict']);
    expect(await base.hgetall(k.counts(cid))).toMatchObject({ pending: '0', answered: '2', busy: '1', _final: '3' });
    expect(await base.hget(k.campaign(cid), 'state')).toBe('completed');
    expect(await base.sismember(k.active, cid)).toBe(0);
    // The record keeps what the begin wrote, with the end's fields over it.
    expect(await store.get(`${cid}-2-1`)).toMatchObject({ ver: 2, number: '13800000002', state: 'final', outcome: 'busy' });
    // Each final contact was announced to the outbox once.
    const outbox = await base.xrange(k.outbox, '-', '+');
    expect(outbox.filter(([, f]) => f[1] === cid).map(([, f]) => f[3])).toEqual(['0', '1', '2']);
  });

  it('a commit over a state the feeder took takes the contact out of the feeding set; later commits leave that set alone', async () => {
    const cid = 'cmpfffff';
    await base.rpush(k.rowBucket(cid, 0), packRow({ l: 2, v: ['138 0000 0000'], d: '13800000000', e: '+8613800000000' }));
    await base.rpush(k.fresh(cid), '0');
    await base.hset(k.campaign(cid), { freshAt: '0' });
    const contacts = makeContactStore({ redis: base, keys: k });
    const [taken] = await contacts.takeDue(cid, Date.now(), 10);
    expect(taken?.stateRaw).toBeDefined();
    expect(await base.zscore(k.feeding(cid), '0')).not.toBeNull();
    const store = makeAttemptStore({ redis: base, keys: k });
    const begin = first(cid, 0);
    expect(await store.commit({ ...begin, contact: { ...begin.contact, expectedRaw: taken?.stateRaw ?? '' } })).toBe('ok');
    expect(await base.zscore(k.feeding(cid), '0')).toBeNull();
    // Written back by hand (as a feeder that had not yet marked it done would leave it): a commit past the queued phase does not look.
    await base.zadd(k.feeding(cid), 1, '0');
    const a = await store.get(`${cid}-0-1`);
    const state = await contacts.state(cid, 0);
    expect(await store.commit({ ...begin, base: a, fields: { state: 'accepted' }, contact: { ...begin.contact, expectedRaw: state.raw, next: { ...state.state, ph: 'waiting' } } })).toBe('ok');
    expect(await base.zscore(k.feeding(cid), '0')).toBe('1');
  });

  it('an error inside one commit of a batch is that commit\u2019s answer; the others are applied', async () => {
    // Straight to the script: the store never sends unreadable stats, so one is written by hand here.
    const call = (cid: string, idx: number, stats: string[]): { keys: string[]; args: string[] } => ({
      keys: [k.attempt(`${cid}-${idx}-1`), k.campaign(cid), k.deadlines, k.active, k.outbox, k.contactState(cid), k.counts(cid), k.due(cid), k.feeding(cid), k.stats(cid)],
      args: ['0', '1|{"state":"dialing"}', String(idx), '', '', 'pending', 'pending', '', '', `${cid}-${idx}-1`, new Date(0).toISOString(), cid, String(stats.length / 2), '', '', '', '1', '', ...stats],
    });
    const batch = [call('cmpddddd', 0, []), call('cmpddddd', 1, ['talk', 'not a number']), call('cmpddddd', 2, ['talk', '3'])];
    // Each key named once in KEYS; each commit passes its keys as places in KEYS.
    const keyList = [...new Set(batch.flatMap((c) => c.keys))];
    const place = (key: string): string => String(keyList.indexOf(key) + 1);
    const args = [String(batch.length), ...batch.flatMap((c) => [String(c.keys.length), String(c.args.length), ...c.keys.map(place), ...c.args])];
    const replies = (await base.eval(COMMIT_MANY, keyList.length, ...keyList, ...args)) as string[];
    expect(replies[0]).toBe('ok');
    expect(replies[1]).toMatch(/^error: .*talk.*not a number/);
    expect(replies[2]).toBe('ok');
    expect(await base.get(k.attempt('cmpddddd-2-1'))).toBe('1|{"state":"dialing"}');
    expect(await base.hget(k.stats('cmpddddd'), 'talk')).toBe('3');
  });

  it('a commit that leaves its campaign keys undeclared is an error and writes nothing', async () => {
    // Every key the script touches is declared (a Redis Cluster routes by them): none is named from the campaign's hash key.
    const cid = 'cmpggggg';
    const keyList = [k.attempt(`${cid}-0-1`), k.campaign(cid), k.deadlines, k.active, k.outbox];
    const args = ['0', '1|{"state":"dialing"}', '0', '', '{"s":"pending","n":1,"p":0}', 'pending', 'pending', '', '', `${cid}-0-1`, new Date(0).toISOString(), cid, '', '', '', '', '1', ''];
    const many = [String(1), String(keyList.length), String(args.length), ...keyList.map((_, i) => String(i + 1)), ...args];
    expect(await base.eval(COMMIT_MANY, keyList.length, ...keyList, ...many)).toEqual([expect.stringMatching(/^error: .*campaign keys .* are missing/)]);
    expect(await base.exists(k.attempt(`${cid}-0-1`), k.contactState(cid))).toBe(0);
  });
});

describe('contact store: rows with states, batched', () => {

  it('reads each contact\u2019s row and state in one script call per turn', async () => {
    const { redis, scripts } = counting(base);
    const contacts = makeContactStore({ redis, keys: k });
    await base.rpush(k.rowBucket('cmprrrrr', 0), packRow({ l: 2, v: ['138 0000 0000'], d: '13800000000', e: '+8613800000000' }), packRow({ l: 3, v: ['138 0000 0001'], d: '13800000001', e: '+8613800000001' }));
    await base.hset(k.contactState('cmprrrrr'), '1', JSON.stringify({ s: 'pending', n: 1, p: 0, ph: 'queued' }));
    const before = scripts();
    const [r0, r1, r9] = await Promise.all([contacts.rowAndState('cmprrrrr', 0), contacts.rowAndState('cmprrrrr', 1), contacts.rowAndState('cmprrrrr', 9)]);
    expect(scripts() - before).toBe(1);
    expect(r0).toEqual({ row: expect.objectContaining({ d: '13800000000' }), raw: '', state: { s: 'pending', n: 0, p: 0 } });
    expect(r1.row?.d).toBe('13800000001');
    expect(r1.state).toEqual({ s: 'pending', n: 1, p: 0, ph: 'queued' });
    expect(r9.row).toBeNull();
  });
});
