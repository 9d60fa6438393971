/**
 * A UTF-8 list is parsed from its bytes as they are (no decoding to text and
 * back): the rows must be what decoding the whole file gives, byte order
 * mark and `sep=` line dropped, bytes that are not UTF-8 read as U+FFFD,
 * whatever the chunk boundaries.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { openContactList, type IngestRecord } from '../../src/ingest/index.js';
import { seeded } from './random.js';

/** The rows of a list given in chunks of `size` bytes. */
async function rowsOf(bytes: Buffer, size: number, options: { encoding?: string } = {}): Promise<{ line: number; values: string[] | null }[]> {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  const list = await openContactList(Readable.from(chunks), { fileName: 'list.csv', region: null, ...options });
  const out: { line: number; values: string[] | null }[] = [];
  for await (const r of list.records as AsyncIterable<IngestRecord>) out.push({ line: r.line, values: r.kind === 'contact' ? r.values : r.values });
  return out;
}

describe('a UTF-8 list read from its bytes', () => {
  const body = ['name,phone,city', 'Zhāng Wěi,13800000001,北京', '"Li, Na",13800000002,"上海\n浦东"', 'Ана,13800000003,Москва', 'رضا,13800000004,تهران', '😀 emoji,13800000005,∞'].join('\r\n');

  it('gives the rows decoding it gave, at any chunk size', async () => {
    const bytes = Buffer.from(`${body}\r\n`, 'utf8');
    const expected = await rowsOf(bytes, bytes.length);
    expect(expected.map((r) => r.values?.[2])).toEqual(['北京', '上海\n浦东', 'Москва', 'تهران', '∞']);
    for (const size of [1, 2, 3, 5, 7, 64]) expect(await rowsOf(bytes, size), `chunks of ${size}`).toEqual(expected);
  });

  it('drops the byte order mark and a sep= line whose delimiter takes three bytes', async () => {
    const withSep = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`sep=；\n${body.replace(/,/g, '；').replace('"Li； Na"', '"Li, Na"')}\n`, 'utf8')]);
    for (const size of [1, 4, 1000]) {
      const rows = await rowsOf(withSep, size);
      expect(rows[0], `chunks of ${size}`).toEqual({ line: 3, values: ['Zhāng Wěi', '13800000001', '北京'] });
      expect(rows.map((r) => r.values?.[0])).toEqual(['Zhāng Wěi', 'Li, Na', 'Ана', 'رضا', '😀 emoji']);
    }
  });

  it('reads bytes that are not UTF-8 as U+FFFD, as decoding the whole file did', async () => {
    const rand = seeded(7);
    // Long enough that three stray bytes stay under the 1 % of replacements that makes a list undecodable.
    const good = Buffer.from(`${body}\n${body.split('\r\n').slice(1).join('\n').repeat(20)}\n`, 'utf8');
    for (let round = 0; round < 20; round++) {
      // A few stray bytes in the cells after the header (a sample that is mostly valid is still read as UTF-8).
      const bytes = Buffer.from(good);
      for (let k = 0; k < 3; k++) {
        const at = 20 + Math.floor(rand() * (bytes.length - 21));
        if (bytes[at] !== 0x0a && bytes[at] !== 0x2c && bytes[at] !== 0x22) bytes[at] = 0x80 + Math.floor(rand() * 0x7f);
      }
      const text = new TextDecoder('utf-8').decode(bytes);
      const fromText = await rowsOf(Buffer.from(text, 'utf8'), 1 << 20, { encoding: 'utf8' });
      for (const size of [1, 3, 1 << 20]) expect(await rowsOf(bytes, size, { encoding: 'utf8' }), `round ${round}, chunks of ${size}`).toEqual(fromText);
    }
  });
});
