/**
 * UTF-8 bytes → rows with the physical line where each starts, driven through
 * csv-parse (quoted fields with line breaks, `""` escapes, any mix of CRLF,
 * LF and CR) and kept safe from runaway rows.
 *
 * The reader keeps the bytes of the row in progress (never more than
 * `maxRowBytes`), in one buffer it reuses. Line numbers are counted on those bytes (a CRLF, LF or CR
 * is one line break, inside quotes too), because csv-parse's own `info.lines`
 * counts a CRLF inside a quoted field twice. Each row's end offset is the
 * parser's `info.bytes` when it hands the row over (the same figure its
 * `on_record` context and `info: true` carry, without building a context
 * object per row: those objects, cloned with spreads, are promoted to the old
 * generation on a long list and make the heap balloon).
 *
 * A row that grows past `maxRowBytes` (a quote that is never closed, a line
 * with no line break) or whose quote is still open at the end of the file
 * becomes a `broken` row at the line where it starts; reading starts again on
 * the next line, from the bytes kept, with a fresh parser, so one stray quote
 * costs one row. (Quotes are relaxed: any lone quote closes a quoted field,
 * so the bytes read again hold no quote that can open another runaway, and
 * each byte is read again at most once.) As a safety net, replays are capped
 * at `replayBudget` bytes per file (32 × `maxRowBytes` by default); past
 * that, a broken row takes the lines it swallowed with it.
 */
import { Parser } from 'csv-parse';
import type { Options } from 'csv-parse';
import { RECORD_DELIMITERS } from './delimiter.js';

export type RawRow =
  | { kind: 'row'; line: number; fields: string[] }
  | { kind: 'broken'; line: number; reason: 'row_too_long' | 'malformed_row'; message: string }
  | { kind: 'blank'; lines: number };

export interface CsvRowOptions {
  delimiter: string;
  maxRowBytes: number;
  /** Physical line number of the first byte given. */
  firstLine: number;
  /** Bytes that may be read again after broken rows (default 32 × maxRowBytes). */
  replayBudget?: number;
}

const PIECE = 64 * 1024;
const CR = 0x0d;
const LF = 0x0a;
const EMPTY = Buffer.alloc(0);

/** Line breaks in bytes [from, to): CRLF, LF and CR count one each. */
function countBreaks(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const b = buf[i];
    if (b === LF) n++;
    else if (b === CR) {
      n++;
      if (buf[i + 1] === LF && i + 1 < to) i++;
    }
  }
  return n;
}

/**
 * The bytes of the rows in progress, in one buffer reused from slice to
 * slice (bytes are appended at its end and dropped from its start): a long
 * list makes no new buffer per slice.
 */
class ByteWindow {
  private buf: Buffer = Buffer.allocUnsafe(2 * 8 * 1024);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  /** The bytes held (a view: valid until the next append or clear). */
  view(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  append(bytes: Buffer): void {
    if (this.end + bytes.length > this.buf.length) {
      const held = this.length;
      const target = held + bytes.length <= this.buf.length ? this.buf : Buffer.allocUnsafe(Math.max(2 * this.buf.length, held + bytes.length));
      this.buf.copy(target, 0, this.start, this.end);
      this.buf = target;
      this.start = 0;
      this.end = held;
    }
    this.end += bytes.copy(this.buf, this.end);
  }

  drop(n: number): void {
    this.start += n;
    if (this.start >= this.end) this.start = this.end = 0;
  }

  clear(): void {
    this.start = this.end = 0;
  }
}

/** csv-parse handing each row over with its end offset, synchronously, instead of into its readable side. */
class RowParser extends Parser {
  constructor(
    options: Options,
    private readonly onRow: (fields: string[], end: number) => void,
  ) {
    super(options);
  }

  override push(chunk: unknown): boolean {
    if (chunk === null) return super.push(null);
    this.onRow(chunk as string[], this.info.bytes);
    return true;
  }
}

export class CsvRowReader {
  private parser!: Parser;
  private finished: { fields: string[]; end: number }[] = [];
  private failure: string | null = null;
  /** Bytes given to the current parser and not yet part of a finished row. */
  private pending = new ByteWindow();
  /** Offset of pending[0] in the current parser's input. */
  private pendingAt = 0;
  /** Physical line of pending[0]. */
  private line: number;
  /** Dropping the rest of a broken row's first line ('line'), or an LF right after its CR ('cr'). */
  private skip: 'none' | 'line' | 'cr' = 'none';
  private replayBudget: number;
  private out: RawRow[] = [];

  constructor(private readonly options: CsvRowOptions) {
    this.line = options.firstLine;
    this.replayBudget = options.replayBudget ?? 32 * options.maxRowBytes;
    this.startParser();
  }

  /** Feeds bytes; returns the rows they completed. */
  write(chunk: Buffer): RawRow[] {
    const work: Buffer[] = [chunk];
    while (work.length > 0) {
      let buf = work.shift() as Buffer;
      if (this.skip !== 'none') buf = this.skipBrokenLine(buf);
      if (buf.length === 0) continue;
      if (buf.length > PIECE) {
        work.unshift(buf.subarray(0, PIECE), buf.subarray(PIECE));
        continue;
      }
      this.pending.append(buf);
      this.parser.write(buf);
      const tooLong = this.takeFinished();
      if (!tooLong) this.trimBlankLines(false);
      if (tooLong || this.pending.length > this.options.maxRowBytes) {
        work.unshift(this.fail('row_too_long'));
      } else if (this.failure !== null) {
        work.unshift(this.fail('malformed_row'));
      }
    }
    return this.drain();
  }

  /** Ends the input; returns the last rows. */
  async end(): Promise<RawRow[]> {
    for (;;) {
      await this.endParser();
      const tooLong = this.takeFinished();
      if (!tooLong && this.failure === null) break;
      const replay = this.fail(tooLong ? 'row_too_long' : 'malformed_row');
      if (replay.length > 0) {
        const rows = this.write(replay);
        this.out.push(...rows);
      }
    }
    this.trimBlankLines(true);
    return this.drain();
  }

  private drain(): RawRow[] {
    const rows = this.out;
    this.out = [];
    return rows;
  }

  private startParser(): void {
    this.finished = [];
    this.failure = null;
    this.pending.clear();
    this.pendingAt = 0;
    this.parser = new RowParser(
      {
        delimiter: this.options.delimiter,
        record_delimiter: RECORD_DELIMITERS,
        encoding: 'utf8',
        bom: true,
        relax_column_count: true,
        relax_quotes: true,
        skip_empty_lines: true,
        skip_records_with_error: true,
        on_skip: (err) => {
          this.failure ??= err?.code ?? 'CSV_ERROR';
          return undefined;
        },
      },
      (fields, end) => this.finished.push({ fields, end }),
    );
    this.parser.on('error', (err: Error & { code?: string }) => {
      this.failure ??= err.code ?? 'CSV_ERROR';
    });
  }

  private endParser(): Promise<void> {
    const parser = this.parser;
    return new Promise((resolve) => {
      parser.once('error', () => resolve());
      parser.end(() => resolve());
    });
  }

  /**
   * Turns the rows csv-parse finished into output and drops their bytes.
   * Stops at a finished row longer than maxRowBytes and returns true: the
   * caller reports it and reads again from its next line.
   */
  private takeFinished(): boolean {
    const finished = this.finished;
    this.finished = [];
    for (const { fields, end } of finished) {
      const len = end - this.pendingAt;
      const buf = this.pending.view();
      let i = 0;
      let blank = 0;
      while (i < len && (buf[i] === CR || buf[i] === LF)) {
        i += buf[i] === CR && buf[i + 1] === LF && i + 1 < len ? 2 : 1;
        blank++;
      }
      if (len - i > this.options.maxRowBytes) {
        if (blank > 0) this.out.push({ kind: 'blank', lines: blank });
        this.line += blank;
        this.pending.drop(i);
        this.pendingAt += i;
        return true;
      }
      const start = this.line + blank;
      const breaks = countBreaks(buf, i, len);
      const last = buf[len - 1];
      const inner = breaks - (last === LF || last === CR ? 1 : 0);
      if (fields.every((f) => f.trim() === '')) blank += inner + 1;
      else this.out.push({ kind: 'row', line: start, fields });
      if (blank > 0) this.out.push({ kind: 'blank', lines: blank });
      this.line = start + breaks;
      this.pending.drop(len);
      this.pendingAt = end;
    }
    return false;
  }

  /** Drops the empty lines at the head of pending; a final CR waits for a possible LF unless the input ended. */
  private trimBlankLines(final: boolean): void {
    const buf = this.pending.view();
    let i = 0;
    let blank = 0;
    while (i < buf.length) {
      const b = buf[i];
      if (b === LF) i++;
      else if (b === CR) {
        if (i + 1 < buf.length) i += buf[i + 1] === LF ? 2 : 1;
        else if (final) i++;
        else break;
      } else break;
      blank++;
    }
    if (i === 0) return;
    this.pending.drop(i);
    this.pendingAt += i;
    this.line += blank;
    this.out.push({ kind: 'blank', lines: blank });
  }

  /** Reports the row in progress as broken, restarts the parser, and returns the bytes to read again. */
  private fail(reason: 'row_too_long' | 'malformed_row'): Buffer {
    this.trimBlankLines(false);
    const line = this.line;
    // A copy: the window is reused by the parser started below.
    const kept = Buffer.from(this.pending.view());
    this.startParser();
    const tooLong = `the row is longer than ${this.options.maxRowBytes} bytes (a quote that is never closed, or no line break)`;
    const unclosed = 'a quoted field opened on this row is still open at the end of the file';
    if (kept.length > this.replayBudget) {
      const breaks = countBreaks(kept, 0, kept.length);
      const lastByte = kept[kept.length - 1];
      this.skip = lastByte === LF ? 'none' : lastByte === CR ? 'cr' : 'line';
      this.line = line + breaks + (this.skip === 'line' ? 1 : 0);
      const swallowed = breaks + (this.skip === 'line' ? 1 : 0);
      const message = `${reason === 'row_too_long' ? tooLong : unclosed}; its ${swallowed} line(s) were skipped`;
      this.out.push({ kind: 'broken', line, reason, message });
      return EMPTY;
    }
    this.out.push({ kind: 'broken', line, reason, message: `${reason === 'row_too_long' ? tooLong : unclosed}; reading goes on at the next line` });
    let at = -1;
    for (let i = 0; i < kept.length; i++) {
      if (kept[i] === LF || kept[i] === CR) {
        at = i;
        break;
      }
    }
    this.line = line + 1;
    if (at < 0) {
      this.skip = 'line';
      return EMPTY;
    }
    let next = at + 1;
    if (kept[at] === CR) {
      if (at + 1 < kept.length) next += kept[at + 1] === LF ? 1 : 0;
      else this.skip = 'cr';
    }
    const replay = kept.subarray(next);
    this.replayBudget -= replay.length;
    return replay;
  }

  private skipBrokenLine(buf: Buffer): Buffer {
    let i = 0;
    if (this.skip === 'line') {
      while (i < buf.length && buf[i] !== LF && buf[i] !== CR) i++;
      if (i === buf.length) return EMPTY;
      this.skip = buf[i] === CR ? 'cr' : 'none';
      i++;
    }
    if (this.skip === 'cr' && i < buf.length) {
      if (buf[i] === LF) i++;
      this.skip = 'none';
    }
    return buf.subarray(i);
  }
}

/**
 * Bytes parsed at a time: the rows of one slice wait until they are
 * consumed, so a slice holds a hundred rows or so, which die young, rather
 * than a whole 64 KB read, whose rows outlive a scavenge or two and end up
 * in the old generation.
 */
const SLICE = 8 * 1024;

/** Rows of a stream of UTF-8 chunks, pulled one chunk at a time. */
export async function* readCsvRows(chunks: AsyncIterable<Buffer>, options: CsvRowOptions): AsyncGenerator<RawRow> {
  const reader = new CsvRowReader(options);
  for await (const chunk of chunks) {
    for (let at = 0; at < chunk.length; at += SLICE) yield* reader.write(chunk.subarray(at, at + SLICE));
  }
  yield* await reader.end();
}
