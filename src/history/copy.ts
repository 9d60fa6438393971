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

/** Lines gathered into chunks of about 64 KiB: fewer, larger writes to the socket. */
function* chunks(lines: readonly string[]): Generator<string> {
  let buf = '';
  for (const l of lines) {
    buf += l;
    if (buf.length >= 65_536) {
      yield buf;
      buf = '';
    }
  }
  if (buf !== '') yield buf;
}

/** COPYs the lines into `table (columns)` on this client (inside its transaction, if one is open). */
export async function copyInto(client: PoolClient, table: string, columns: readonly string[], lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  await pipeline(Readable.from(chunks(lines)), stream);
}
