import { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { INGEST_ERROR_CODES, IngestError, openContactList, REJECT_REASONS } from '../../src/ingest/index.js';
import type { IngestRecord, ReadOptions } from '../../src/ingest/index.js';
import { randomBytes, randomInt, seeded } from './random.js';

const CASES = 400;
const NAMES = ['Wang Wei', '张三', 'علي رضايي', 'Smith, John', 'O"Brien', '', 'x'];
const NUMBERS = ['13333333333', '+86 133 3333 3334', '09121234567', '557', '12', 'n/a', '', '۰۹۱۲۱۲۳۴۵۶۷'];
const ZONES = ['Asia/Shanghai', 'Asia/Tehran', '', 'Mars/Base', 'utc'];
const JUNK = ['"', '""', ',', ';', '\t', '|', '\0', '\r', '\n', '\r\n', '\x1b', '\ufffd', ' '];

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)] as T;
}

function plausibleCsv(rand: () => number): string {
  const d = pick(rand, [',', ';', '\t', '|']);
  const quote = (s: string) => (s.includes(d) || s.includes('"') || rand() < 0.2 ? `"${s.replace(/"/g, '""')}"` : s);
  const header = pick(rand, [['name', 'phone', 'tz'], ['姓名', '电话', '时区'], ['نام', 'موبایل', 'tz'], ['id', 'mobile']]);
  const nl = pick(rand, ['\n', '\r\n', '\r']);
  let s = rand() < 0.1 ? `sep=${d}${nl}` : '';
  s += header.join(d) + nl;
  const rows = randomInt(rand, 0, 60);
  for (let i = 0; i < rows; i++) {
    s += [pick(rand, NAMES), pick(rand, NUMBERS), pick(rand, ZONES)].map(quote).join(d) + nl;
  }
  return s;
}

function mangle(rand: () => number, text: string): Buffer {
  let s = text;
  const edits = randomInt(rand, 0, 12);
  for (let i = 0; i < edits; i++) {
    const at = randomInt(rand, 0, s.length);
    const what = rand();
    if (what < 0.6) s = s.slice(0, at) + pick(rand, JUNK) + s.slice(at);
    else if (what < 0.8) s = s.slice(0, at) + s.slice(at + randomInt(rand, 1, 20));
    else if (what < 0.9) s = s.slice(0, at) + '"' + 'y'.repeat(randomInt(rand, 100, 6000)) + s.slice(at);
    else s = s.slice(0, at) + 'z'.repeat(randomInt(rand, 100, 6000)) + s.slice(at);
  }
  const encoding = pick(rand, ['utf8', 'utf8', 'utf8', 'gb18030', 'windows-1256', 'utf16le']);
  let bytes = iconv.encode(s, encoding, { addBOM: rand() < 0.3 });
  if (rand() < 0.3) bytes = bytes.subarray(0, randomInt(rand, 0, bytes.length));
  if (rand() < 0.2) {
    const flips = randomInt(rand, 1, 20);
    bytes = Buffer.from(bytes);
    for (let i = 0; i < flips && bytes.length > 0; i++) bytes[randomInt(rand, 0, bytes.length - 1)] = randomInt(rand, 0, 255);
  }
  return bytes;
}

function chunked(rand: () => number, bytes: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = randomInt(rand, 1, 4096);
    chunks.push(bytes.subarray(at, at + n));
    at += n;
  }
  return Readable.from(chunks);
}

function randomOptions(rand: () => number, seed: number): ReadOptions {
  return {
    fileName: `fuzz-${seed}.csv`,
    region: pick(rand, ['CN', 'IR', null]),
    numberFormat: pick(rand, ['e164', 'national', 'as_written'] as const),
    allowExtensions: rand() < 0.5,
    maxRowBytes: pick(rand, [256, 1024, 4096]),
    ...(rand() < 0.1 ? { encoding: pick(rand, ['utf8', 'gb18030', 'windows-1256']) } : {}),
    ...(rand() < 0.1 ? { delimiter: pick(rand, [',', ';']) } : {}),
  };
}

type Outcome = { kind: 'read'; records: IngestRecord[] } | { kind: 'refused'; err: IngestError };

async function run(bytes: Buffer, source: Readable, options: ReadOptions): Promise<Outcome> {
  let list;
  try {
    list = await openContactList(source, options);
  } catch (err) {
    if (err instanceof IngestError) return { kind: 'refused', err };
    throw err;
  }
  const records: IngestRecord[] = [];
  try {
    for await (const r of list.records) records.push(r);
  } catch (err) {
    if (err instanceof IngestError) return { kind: 'refused', err };
    throw err;
  }
  const s = list.summary();
  expect(s.done).toBe(true);
  expect(s.bytesRead).toBe(bytes.length);
  expect(s.rowsRead).toBe(records.length);
  expect(s.contacts + s.rejects).toBe(s.rowsRead);
  expect(Object.values(s.rejectsByReason).reduce((a, b) => a + (b ?? 0), 0)).toBe(s.rejects);
  let last = list.header.line;
  for (const r of records) {
    expect(r.line).toBeGreaterThan(last);
    last = r.line;
    if (r.kind === 'contact') {
      expect(r.phone.e164).toMatch(/^(\+?\d{3,15}|ext:\d{2,6})$/);
      expect(r.phone.dial.length).toBeGreaterThan(0);
    } else {
      expect(REJECT_REASONS).toContain(r.reason);
      expect(r.message.length).toBeGreaterThan(0);
    }
  }
  return { kind: 'read', records };
}

describe('fuzz: any input ends in a clean summary or a clean IngestError', () => {
  it(`${CASES} seeded cases of mangled CSV and random bytes`, async () => {
    const tally = { read: 0, refused: 0, rejects: 0, contacts: 0 };
    const codes = new Set<string>();
    for (let seed = 1; seed <= CASES; seed++) {
      const rand = seeded(seed);
      const bytes = rand() < 0.15 ? randomBytes(rand, randomInt(rand, 0, 20_000)) : mangle(rand, plausibleCsv(rand));
      const outcome = await run(bytes, chunked(rand, bytes), randomOptions(rand, seed)).catch((err: unknown) => {
        throw new Error(`seed ${seed}: crashed with ${String(err)}`, { cause: err });
      });
      if (outcome.kind === 'refused') {
        tally.refused++;
        codes.add(outcome.err.code);
        expect(INGEST_ERROR_CODES, `seed ${seed}`).toContain(outcome.err.code);
        expect(outcome.err.message, `seed ${seed}`).toContain(`fuzz-${seed}.csv`);
      } else {
        tally.read++;
        for (const r of outcome.records) tally[r.kind === 'contact' ? 'contacts' : 'rejects']++;
      }
    }
    // the generator reaches both ends: lists read through, and files refused
    expect(tally.read).toBeGreaterThan(CASES / 4);
    expect(tally.refused).toBeGreaterThan(CASES / 20);
    expect(tally.contacts).toBeGreaterThan(0);
    expect(tally.rejects).toBeGreaterThan(0);
    expect(codes.has('binary_file')).toBe(true);
  });

  it('huge fields and unclosed quotes stay bounded by maxRowBytes', async () => {
    const rand = seeded(7);
    for (let i = 0; i < 20; i++) {
      const parts = ['name,phone\n'];
      for (let j = 0; j < 50; j++) {
        const r = rand();
        if (r < 0.1) parts.push(`"${'q'.repeat(randomInt(rand, 10_000, 100_000))}\n`);
        else if (r < 0.2) parts.push(`${'w'.repeat(randomInt(rand, 10_000, 100_000))},13333333333\n`);
        else parts.push(`n${j},1333333${String(1000 + j)}\n`);
      }
      const bytes = Buffer.from(parts.join(''));
      const outcome = await run(bytes, chunked(rand, bytes), { fileName: 'huge.csv', region: 'CN', maxRowBytes: 4096 });
      expect(outcome.kind).toBe('read');
      if (outcome.kind === 'read') {
        expect(outcome.records.some((r) => r.kind === 'contact')).toBe(true);
        for (const r of outcome.records) if (r.kind === 'contact') expect(r.values.join(',').length).toBeLessThanOrEqual(4096);
      }
    }
  });
});
