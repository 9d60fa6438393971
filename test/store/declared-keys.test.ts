/**
 * Scripts are given every key they touch (a Redis Cluster routes a script by
 * its declared keys): an import batch declares the row lists its rows may
 * fall in, and a take reads the rows of what it took in a second call given
 * their row lists. On real Redis; the connection records the scripts it runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { keys as makeKeys } from '../../src/store/keys.js';
import { encodeImportRecord, makeContactStore, ROW_BUCKET, type ImportRecord } from '../../src/store/contacts.js';
import { IMPORT_BATCH, ROWS, TAKE_DUE } from '../../src/store/scripts.js';
import { PackedBatch } from '../../src/store/import-batch.js';
import { packRow } from '../../src/store/row-codec.js';
import { luaScript, runScript } from '../../src/infra/lua.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';

const IMPORT_SHA = luaScript(IMPORT_BATCH, null).sha;
const TAKE_SHA = luaScript(TAKE_DUE, 5).sha;

interface ScriptCall {
  sha: string;
  keys: string[];
}

/**
 * The same connection, recording each EVALSHA it carries (sha and keys);
 * `after` runs once a call has been answered, before its caller sees it.
 */
function recording(redis: Redis, after?: (call: ScriptCall) => Promise<void>): { redis: Redis; calls: ScriptCall[] } {
  const calls: ScriptCall[] = [];
  const proxy = new Proxy(redis, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (prop === 'evalsha' && typeof v === 'function') {
        return async (...args: unknown[]) => {
          const call = { sha: String(args[0]), keys: args.slice(2, 2 + Number(args[1])).map(String) };
          calls.push(call);
          const reply: unknown = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (after) await after(call);
          return reply;
        };
      }
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { redis: proxy, calls };
}

const prefix = testPrefix('store-declared');
const k = makeKeys(prefix);
let base: Redis;
beforeAll(async () => {
  base = connectRedis();
  // Known to the server before any call is recorded: every call is one EVALSHA, never a NOSCRIPT and its EVAL.
  for (const source of [IMPORT_BATCH, TAKE_DUE, ROWS]) await base.script('LOAD', source);
});
afterAll(async () => {
  await cleanPrefix(base, prefix);
  base.disconnect();
});

const contact = (line: number): ImportRecord => {
  const e164 = `+86138${String(line).padStart(8, '0')}`;
  return { kind: 'contact', line, e164, row: { l: line, v: [e164], d: e164, e: e164 } };
};

function packed(lines: number[]): PackedBatch {
  const b = new PackedBatch(64 * 1024);
  for (const l of lines) b.add(encodeImportRecord(contact(l)));
  return b;
}

const lines = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

/** The bucket numbers of the row lists among some keys. */
const buckets = (cid: string, keyList: string[]): number[] => keyList.filter((key) => key.startsWith(`${k.rows(cid)}:`)).map((key) => Number(key.slice(k.rows(cid).length + 1)));

describe('import batches declare the row lists they write', () => {
  it('batches sent together each declare the few row lists their rows may fall in, and the rows land in line order', async () => {
    const cid = 'cmpimp01';
    const { redis, calls } = recording(base);
    const contacts = makeContactStore({ redis, keys: k });
    const cursor = await contacts.importCursor(cid);
    const results = await Promise.all([0, 1, 2, 3, 4].map((b) => contacts.importPacked(cid, 'up1', 0, [], packed(lines(2 + b * 700, 700)), cursor)));
    expect(results.reduce((n, r) => n + r.added, 0)).toBe(3500);
    expect(cursor).toEqual({ next: 3500, sent: 0 });
    const imports = calls.filter((c) => c.sha === IMPORT_SHA);
    expect(imports).toHaveLength(5);
    // All five were sent before any answer: each declares from bucket 0 to the last its rows and those sent before it may reach.
    expect(imports.map((c) => buckets(cid, c.keys))).toEqual([[0], [0, 1], [0, 1, 2], [0, 1, 2], [0, 1, 2, 3]]);
    const rows = await contacts.range(cid, 0, 3500);
    expect(rows.map((r) => r.row?.l)).toEqual(lines(2, 3500));
    expect(await base.llen(k.rowBucket(cid, 3))).toBe(3500 - 3 * ROW_BUCKET);
  });

  it('a batch whose cursor is behind the campaign\u2019s count (another import stored rows since) goes again from the count, once', async () => {
    const cid = 'cmpimp02';
    const { redis, calls } = recording(base);
    const contacts = makeContactStore({ redis, keys: k });
    const behind = await contacts.importCursor(cid);
    await contacts.importBatch(cid, 'up1', 0, [], lines(2, 1100).map(contact));
    const before = calls.length;
    expect(await contacts.importPacked(cid, 'up2', 0, [], packed(lines(5000, 10)), behind)).toEqual({ added: 10, duplicate: 0, dnc: 0, invalid: 0, already: 0 });
    expect(calls.slice(before).map((c) => [c.sha === IMPORT_SHA, buckets(cid, c.keys)])).toEqual([
      [true, [0]],
      [true, [1]],
    ]);
    expect(behind.next).toBe(1110);
    expect((await contacts.range(cid, 1098, 12)).map((r) => r.row?.l)).toEqual([1100, 1101, ...lines(5000, 10)]);
  });

  it('the script writes nothing when the row lists it is given cannot hold the batch, and says from where they must start', async () => {
    const cid = 'cmpimp03';
    const contacts = makeContactStore({ redis: base, keys: k });
    await contacts.importBatch(cid, 'up1', 0, [], lines(2, 1030).map(contact));
    const snapshot = async () => [await base.hget(k.campaign(cid), 'total'), await base.hlen(k.phones(cid)), await base.llen(k.fresh(cid)), await base.llen(k.rowBucket(cid, 0)), await base.llen(k.rowBucket(cid, 1))];
    const was = await snapshot();
    const head = [k.contactState(cid), k.phones(cid), k.fresh(cid), k.counts(cid), k.rejectSeen(cid), k.campaign(cid)];
    const batch = packed(lines(9000, 3));
    // Bucket 0 alone, where contact 1030 goes to bucket 1.
    const reply = await runScript(base, luaScript(IMPORT_BATCH, null), [...head, k.rowBucket(cid, 0)], ['up2', '0', String(ROW_BUCKET), '0', '1', String(batch.count), batch.bytes()]);
    expect(reply).toEqual(['rows', 1030]);
    expect(await snapshot()).toEqual(was);
  });

  it('an import into a campaign deleted under it stops with an error instead of writing its rows again', async () => {
    const cid = 'cmpimp04';
    const contacts = makeContactStore({ redis: base, keys: k });
    const cursor = await contacts.importCursor(cid);
    await contacts.importPacked(cid, 'up1', 0, [], packed(lines(2, 1100)), cursor);
    const own = [k.campaign(cid), k.phones(cid), k.fresh(cid), k.counts(cid), k.rowBucket(cid, 0), k.rowBucket(cid, 1)];
    await base.unlink(...own);
    await expect(contacts.importPacked(cid, 'up1', 0, [], packed(lines(2000, 5)), cursor)).rejects.toThrow(/row count went back from 1100 to 0/);
    expect(await base.exists(...own)).toBe(0);
  });
});

describe('a take reads the rows of what it took, given their row lists', () => {
  const seed = async (cid: string, idxs: number[]) => {
    for (const idx of idxs) {
      // Rows at their places in their lists (the lists padded up to them).
      const list = k.rowBucket(cid, Math.floor(idx / ROW_BUCKET));
      const at = idx % ROW_BUCKET;
      const len = await base.llen(list);
      for (let i = len; i < at; i++) await base.rpush(list, packRow({ l: 0, v: [] }));
      await base.rpush(list, packRow({ l: idx + 2, v: [`1380000${idx}`], d: `1380000${idx}`, e: `+861380000${idx}` }));
    }
    await base.rpush(k.fresh(cid), ...idxs.map(String));
    await base.hset(k.campaign(cid), { freshAt: '0' });
  };

  it('claims in one script call and reads the rows in a second, declaring each of their row lists', async () => {
    const cid = 'cmptake1';
    await seed(cid, [0, 1, 1024]);
    const { redis, calls } = recording(base);
    const contacts = makeContactStore({ redis, keys: k });
    const taken = await contacts.takeDue(cid, Date.now(), 10);
    expect(taken.map((t) => [t.idx, t.attempt, t.row.l, JSON.parse(t.stateRaw)])).toEqual([
      [0, 1, 2, { s: 'pending', n: 1, p: 0, ph: 'queued' }],
      [1, 1, 3, { s: 'pending', n: 1, p: 0, ph: 'queued' }],
      [1024, 1, 1026, { s: 'pending', n: 1, p: 0, ph: 'queued' }],
    ]);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.sha).toBe(TAKE_SHA);
    expect(calls[1]?.keys).toEqual([k.rowBucket(cid, 0), k.rowBucket(cid, 1)]);
    // Nothing taken: no second call.
    expect(await contacts.takeDue(cid, Date.now(), 10)).toEqual([]);
    expect(calls).toHaveLength(3);
  });

  it('a contact whose row is gone by the read (its campaign deleted in between) is left out, and stays taken in the feeding set', async () => {
    const cid = 'cmptake2';
    await seed(cid, [0, 1024]);
    // The row list of contact 1024 goes between the take and the read.
    const { redis } = recording(base, async (call) => {
      if (call.sha === TAKE_SHA) await base.unlink(k.rowBucket(cid, 1));
    });
    const contacts = makeContactStore({ redis, keys: k });
    const taken = await contacts.takeDue(cid, Date.now(), 10);
    expect(taken.map((t) => t.idx)).toEqual([0]);
    expect((await base.zrange(k.feeding(cid), 0, -1)).sort()).toEqual(['0', '1024']);
    expect((await contacts.state(cid, 1024)).state).toEqual({ s: 'pending', n: 1, p: 0, ph: 'queued' });
  });
});
