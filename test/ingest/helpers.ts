import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { openContactList } from '../../src/ingest/index.js';
import type { IngestRecord, ListHeader, ReadOptions, ReadSummary } from '../../src/ingest/index.js';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/csv/', import.meta.url));

export function fixture(name: string): Readable {
  return createReadStream(`${FIXTURES}${name}`, { highWaterMark: 16 * 1024 });
}

export interface ReadResult {
  header: ListHeader;
  records: IngestRecord[];
  summary: ReadSummary;
}

/** Reads a whole list (a fixture name, bytes or text). */
export async function readAll(input: string | Buffer | Readable, options: Partial<ReadOptions> = {}): Promise<ReadResult> {
  const source =
    input instanceof Readable ? input : Buffer.isBuffer(input) ? Readable.from([input]) : Readable.from([Buffer.from(input, 'utf8')]);
  const list = await openContactList(source, { fileName: 'list.csv', ...options });
  const records: IngestRecord[] = [];
  for await (const r of list.records) records.push(r);
  return { header: list.header, records, summary: list.summary() };
}

export function readFixture(name: string, options: Partial<ReadOptions> = {}): Promise<ReadResult> {
  return readAll(fixture(name), { fileName: name, ...options });
}

/** Compact views for assertions. */
export const contacts = (r: ReadResult) =>
  r.records.flatMap((x) => (x.kind === 'contact' ? [{ line: x.line, e164: x.phone.e164, dial: x.phone.dial }] : []));
export const rejects = (r: ReadResult) =>
  r.records.flatMap((x) => (x.kind === 'reject' ? [{ line: x.line, reason: x.reason }] : []));
