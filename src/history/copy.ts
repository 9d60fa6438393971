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

/**
 * Rows already in COPY text format: buffers of whole lines and how many
 * lines they hold. The archiver encodes a page as soon as it is read, so
 * that a batch waiting for its write holds a few buffers, not the decoded
 * records (which the garbage collector would otherwise copy and promote).
 */
export interface CopyRows {
  readonly data: readonly Buffer[];
  readonly rows: number;
}

export const NO_ROWS: CopyRows = { data: [], rows: 0 };

/** Rows of several pages as one. */
export function joinRows(parts: readonly CopyRows[]): CopyRows {
  return { data: parts.flatMap((p) => p.data), rows: parts.reduce((n, p) => n + p.rows, 0) };
}

/** Builds one buffer of COPY lines: text appended as it comes, bytes (a raw body) copied in between. */
export class CopyWriter {
  private parts: Buffer[] = [];
  private text = '';
  private count = 0;

  /** A whole line (ending in a newline). */
  line(l: string): void {
    this.text += l;
    this.count++;
    // Text made of many small strings is turned into bytes every few KiB: the pieces die young instead of being
    // copied by each garbage collection that comes while a page is encoded.
    if (this.text.length >= 8192) {
      this.parts.push(Buffer.from(this.text));
      this.text = '';
    }
  }

  /** A line whose middle is bytes (already escaped with copyBytes): head and tail as text, the tail ending in a newline. */
  lineWithBytes(head: string, bytes: Buffer, tail: string): void {
    if (this.text !== '') this.parts.push(Buffer.from(this.text + head));
    else this.parts.push(Buffer.from(head));
    this.parts.push(bytes);
    this.text = tail;
    this.count++;
  }

  end(): CopyRows {
    if (this.text !== '') this.parts.push(Buffer.from(this.text));
    const data = this.count === 0 ? [] : [this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts)];
    const out = { data, rows: this.count };
    this.parts = [];
    this.text = '';
    this.count = 0;
    return out;
  }
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
