/**
 * Bulk writes: rows in PostgreSQL's COPY text format, streamed with
 * pg-copy-streams.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

export type Cell = string | number | boolean | null;

/** Characters COPY's text format escapes; NUL, which no text value can hold, becomes U+FFFD. */
const SPECIAL = /[\\\t\n\r\0]/;
const SPECIALS = /[\\\t\n\r\0]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\uFFFD' };

/** One cell in COPY text format (null: `\N`). */
export function copyCell(v: Cell): string {
  if (v === null) return '\\N';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '\\N';
  return SPECIAL.test(v) ? v.replace(SPECIALS, (c) => ESCAPES[c]!) : v;
}

/** One row (its cells tab-separated, ending in a newline). */
export function copyLine(cells: readonly Cell[]): string {
  let out = '';
  for (let i = 0; i < cells.length; i++) out += (i === 0 ? '' : '\t') + copyCell(cells[i]!);
  return `${out}\n`;
}

const BACKSLASH = 0x5c;
const ESCAPED_BYTES: Record<number, Buffer> = {
  0x5c: Buffer.from('\\\\'),
  0x09: Buffer.from('\\t'),
  0x0a: Buffer.from('\\n'),
  0x0d: Buffer.from('\\r'),
  0x00: Buffer.from('\uFFFD'),
};

/** A text cell given as UTF-8 bytes (a raw body as Redis keeps it), escaped as copyCell escapes text; mostly the bytes themselves. */
export function copyBytes(b: Buffer): Buffer {
  if (b.indexOf(BACKSLASH) < 0 && b.indexOf(0x09) < 0 && b.indexOf(0x0a) < 0 && b.indexOf(0x0d) < 0 && b.indexOf(0x00) < 0) return b;
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < b.length; i++) {
    const esc = ESCAPED_BYTES[b[i]!];
    if (!esc) continue;
    parts.push(b.subarray(from, i), esc);
    from = i + 1;
  }
  parts.push(b.subarray(from));
  return Buffer.concat(parts);
}

/** Lines gathered into chunks of about 64 KiB: fewer, larger writes to the socket. */
function* chunks(lines: readonly (string | Buffer)[]): Generator<Buffer> {
  let parts: Buffer[] = [];
  let text = '';
  let size = 0;
  for (const l of lines) {
    if (typeof l === 'string') {
      text += l;
      size += l.length;
    } else {
      if (text !== '') parts.push(Buffer.from(text));
      text = '';
      parts.push(l);
      size += l.length;
    }
    if (size >= 65_536) {
      if (text !== '') parts.push(Buffer.from(text));
      yield parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      parts = [];
      text = '';
      size = 0;
    }
  }
  if (text !== '') parts.push(Buffer.from(text));
  if (parts.length > 0) yield Buffer.concat(parts);
}

/** COPYs the lines into `table (columns)` on this client (inside its transaction, if one is open). */
export async function copyInto(client: PoolClient, table: string, columns: readonly string[], lines: readonly (string | Buffer)[]): Promise<void> {
  if (lines.length === 0) return;
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  await pipeline(Readable.from(chunks(lines)), stream);
}
