import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { keys as makeKeys } from '../../src/store/keys.js';
import { makeCampaignStore } from '../../src/store/campaigns.js';
import { makeContactStore, ROW_BUCKET, type ContactRow, type ImportRecord } from '../../src/store/contacts.js';
import { packRow, unpackRow, RowCodecError } from '../../src/store/row-codec.js';
import { PackedBatch } from '../../src/store/import-batch.js';
import { parseCampaignDefinition } from '../../src/campaign/definition.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';

const definition = parseCampaignDefinition(
  { action: 'playvoice', params: { voicetype: '2', voicefile: 'http://example.invalid/a.mp3', chengshudu: '1', userid: '1@extGroup-1' } },
  { timezone: 'Asia/Shanghai', region: null },
);

describe('row codec', () => {
  it('writes what the cells already say as cell indexes and reads the same row back', () => {
    const row: ContactRow = {
      l: 7,
      v: ['  13800000001 ', 'Ann', 'Asia/Shanghai', '7@extGroup-1', ''],
      d: '13800000001',
      e: '+8613800000001',
      z: 'Asia/Shanghai',
      c: { userid: '7@extGroup-1', memberid: 'm-not-a-cell' },
    };
    const packed = packRow(row);
    expect(JSON.parse(packed)).toEqual({ l: 7, v: row.v, e: '+8613800000001', d: 0, z: 2, c: { userid: 3, memberid: 'm-not-a-cell' } });
    expect(unpackRow(JSON.parse(packed))).toEqual(row);
  });

  it('leaves the dial form out when it is the dedupe key, and keeps a reject row as it is', () => {
    const row: ContactRow = { l: 2, v: ['+86 138 0000 0002'], d: '+8613800000002', e: '+8613800000002' };
    expect(JSON.parse(packRow(row))).toEqual({ l: 2, v: ['+86 138 0000 0002'], e: '+8613800000002' });
    expect(unpackRow(JSON.parse(packRow(row)))).toEqual(row);
    const reject: ContactRow = { l: 9, v: ['Bob', ''] };
    expect(unpackRow(JSON.parse(packRow(reject)))).toEqual(reject);
  });

  it('reads rows written before the codec, and names what is wrong with a damaged one', () => {
    const old = { l: 3, v: ['a', '138'], d: '138', e: '138', z: null, c: { userid: 'u' } };
    expect(unpackRow(old)).toEqual({ l: 3, v: ['a', '138'], d: '138', e: '138', c: { userid: 'u' } });
    expect(() => unpackRow({ l: 3, v: ['a'], e: '1', z: 4 })).toThrow(RowCodecError);
    expect(() => unpackRow({ l: 3, v: ['a'], e: '1', z: 4 })).toThrow(/z names cell 4, but the row has 1/);
    expect(() => unpackRow({ l: 'x', v: [] })).toThrow(/l:/);
    expect(() => unpackRow({ l: 1, v: [1], d: -1, e: 2, c: [] })).toThrow('v.0: not text; d: not text or a cell index; e: not text; c: not an object');
    expect(() => unpackRow({ l: 1, v: [], c: { userid: true } })).toThrow('c.userid: not text or a cell index');
    expect(() => unpackRow(['not', 'a', 'row'])).toThrow('row: not an object');
  });
});

describe('packed import batches', () => {
  it('ends fields with US and records with RS, growing past its first size', () => {
    const b = new PackedBatch(8);
    b.add(['c', '2', '+861', '{"l":2}', '']);
    b.add(['r', '3', 'hash', '{"l":3,"v":["é"]}', '{"s":"invalid"}']);
    expect(b.count).toBe(2);
    expect(b.bytes().toString('utf8')).toBe('c\x1f2\x1f+861\x1f{"l":2}\x1f\x1er\x1f3\x1fhash\x1f{"l":3,"v":["é"]}\x1f{"s":"invalid"}\x1e');
    b.reset();
    expect(b.count).toBe(0);
    expect(b.bytes().length).toBe(0);
  });
});

describe('contact store: rows in lists, fresh contacts in a list', () => {
  let redis: Redis;
  const prefix = testPrefix('import-store');
  const k = makeKeys(prefix);
  let now = Date.parse('2026-03-02T02:00:00Z');
  const campaigns = () => makeCampaignStore({ redis, keys: k, now: () => now });
  const contacts = () => makeContactStore({ redis, keys: k });

  beforeAll(() => {
    redis = connectRedis();
  });
  afterAll(async () => {
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  const contact = (line: number, values: string[], e164: string): ImportRecord => ({ kind: 'contact', line, e164, row: { l: line, v: values, d: values[0] ?? '', e: e164, c: { userid: values[1] ?? '' } } });

  it('stores any cell text intact and reads rows back across row lists', async () => {
    const cid = await campaigns().create(definition);
    const odd = ['13800000000', 'quote " comma , and\nline break', 'ünï©ødé 号码 شماره', 'control \x1e\x1f\x00 bytes', 'x'.repeat(5000)];
    const records: ImportRecord[] = [contact(2, odd, '13800000000')];
    for (let i = 1; i < ROW_BUCKET + 10; i++) records.push(contact(i + 2, [`1380000${String(i).padStart(4, '0')}`, `u${i}`], `1380000${String(i).padStart(4, '0')}`));
    records.push({ kind: 'reject', line: ROW_BUCKET + 12, hash: 'h1', message: `line ${ROW_BUCKET + 12}: the phone column "phone" is empty`, row: { l: ROW_BUCKET + 12, v: ['', 'nobody'] } });
    const r = await contacts().importBatch(cid, 'up1', now, [], records);
    expect(r).toEqual({ added: ROW_BUCKET + 10, duplicate: 0, dnc: 0, invalid: 1, already: 0 });
    expect((await campaigns().get(cid))?.total).toBe(ROW_BUCKET + 11);

    const first = await contacts().row(cid, 0);
    expect(first).toEqual({ l: 2, v: odd, d: '13800000000', e: '13800000000', c: { userid: odd[1] } });
    for (const idx of [ROW_BUCKET - 1, ROW_BUCKET, ROW_BUCKET + 1]) {
      expect((await contacts().row(cid, idx))?.l).toBe(idx + 2);
    }
    const page = await contacts().range(cid, ROW_BUCKET - 3, 20);
    expect(page.map((p) => p.idx)).toEqual(Array.from({ length: 20 }, (_, i) => ROW_BUCKET - 3 + i));
    expect(page.slice(0, 14).map((p) => p.row?.l)).toEqual(Array.from({ length: 14 }, (_, i) => ROW_BUCKET - 1 + i));
    // Past the last contact: no row, never a shifted one.
    expect(page.slice(14).every((p) => p.row === null)).toBe(true);
    const rejected = page[13]!;
    expect(rejected.state).toMatchObject({ s: 'invalid', e: `line ${ROW_BUCKET + 12}: the phone column "phone" is empty` });
    expect(await redis.exists(`${k.rows(cid)}:0`, `${k.rows(cid)}:1`)).toBe(2);
  });

  it('keeps fresh contacts waiting until freshAt, then hands them out in list order after the due set', async () => {
    const cid = await campaigns().create(definition);
    const startsAt = now + 60_000;
    await contacts().importBatch(cid, 'up1', startsAt, [], [contact(2, ['111'], '111'), contact(3, ['222'], '222'), contact(4, ['333'], '333')]);
    expect(await contacts().dueCount(cid, now)).toEqual({ due: 3, ready: 0, feeding: 0, nextDueAt: startsAt });
    expect(await contacts().takeDue(cid, now, 10)).toEqual([]);

    // A contact put back in the due set (a retry, say) goes before fresh ones once both are due.
    await contacts().reschedule(cid, [{ idx: 2, at: startsAt - 1 }]);
    await redis.lrem(k.fresh(cid), 0, '2');
    now = startsAt;
    expect(await contacts().dueCount(cid, now)).toMatchObject({ due: 3, ready: 3 });
    const taken = await contacts().takeDue(cid, now, 2);
    expect(taken.map((t) => [t.idx, t.attempt, t.row.v[0]])).toEqual([
      [2, 1, '333'],
      [0, 1, '111'],
    ]);
    expect(await contacts().dueCount(cid, now)).toEqual({ due: 1, ready: 1, feeding: 2, nextDueAt: null });
    expect((await contacts().state(cid, 0)).state).toMatchObject({ s: 'pending', n: 1, ph: 'queued' });
  });

  it('adds nothing twice when the same list comes again, and keeps the earliest fresh time', async () => {
    const cid = await campaigns().create(definition);
    const list = [contact(2, ['444'], '444'), contact(3, ['555'], '555'), contact(4, ['444'], '444')];
    expect(await contacts().importBatch(cid, 'up1', now + 5000, [], list)).toEqual({ added: 2, duplicate: 1, dnc: 0, invalid: 0, already: 0 });
    expect(await contacts().importBatch(cid, 'up2', now + 9000, [], list)).toEqual({ added: 0, duplicate: 0, dnc: 0, invalid: 0, already: 3 });
    expect((await campaigns().get(cid))?.total).toBe(3);
    expect(await redis.hget(k.campaign(cid), 'freshAt')).toBe(String(now + 5000));
    expect((await contacts().state(cid, 2)).state).toMatchObject({ s: 'duplicate', e: 'same number as line 2' });
    expect(await campaigns().counts(cid)).toMatchObject({ byStatus: { pending: 2, duplicate: 1 }, final: 1 });
  });
});
