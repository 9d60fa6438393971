/**
 * The field delimiter: Excel's `sep=;` first line when present, else the
 * candidate (`,` `;` tab `|`) that splits the sampled lines into the most
 * consistent number of columns.
 */
import { parse } from 'csv-parse/sync';

export const DELIMITER_CANDIDATES = [',', ';', '\t', '|'] as const;

/** Record delimiters the reader accepts, in the order they are tried. */
export const RECORD_DELIMITERS = ['\r\n', '\n', '\r'];

const SEP_LINE = /^"?sep=([^\r\n"])"?[ \t]*(\r\n|\n|\r|$)/i;

/** Excel's `sep=X` first line: the delimiter and the length of the line (with its line break). */
export function readSepLine(text: string): { delimiter: string; length: number } | null {
  const m = SEP_LINE.exec(text);
  if (!m || m[1] === undefined) return null;
  return { delimiter: m[1], length: m[0].length };
}

/** The sample cut after its last line break (a partial last line would skew the counts). */
export function completeLines(text: string, complete: boolean): string {
  if (complete) return text;
  const cut = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
  return cut < 0 ? '' : text.slice(0, cut + 1);
}

function splitSample(text: string, delimiter: string, limit: number): { record: string[]; info: { bytes: number } }[] {
  if (text === '') return [];
  return parse(text, {
    delimiter,
    record_delimiter: RECORD_DELIMITERS,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    info: true,
    to: limit,
  }) as unknown as { record: string[]; info: { bytes: number } }[];
}

const isBlank = (r: string[]) => r.every((f) => f.trim() === '');

/** Rows of a sample split with one delimiter (blank rows left out), at most `limit`. */
export function sampleRows(text: string, delimiter: string, limit = 200): string[][] {
  return splitSample(text, delimiter, limit)
    .map((r) => r.record)
    .filter((r) => !isBlank(r));
}

/**
 * Data rows in the first `limit` rows of a sample, and the share of the
 * sample's UTF-8 bytes they span (from the end of the header row).
 */
export function measureSample(text: string, delimiter: string, limit = 1000): { rows: number; share: number; all: boolean } {
  const split = splitSample(text, delimiter, limit + 1);
  const total = Buffer.byteLength(text, 'utf8');
  const rows = split.filter((r) => !isBlank(r.record));
  const header = rows[0];
  const last = rows[rows.length - 1];
  if (header === undefined || last === undefined || total === 0) return { rows: 0, share: 0, all: true };
  return { rows: rows.length - 1, share: (last.info.bytes - header.info.bytes) / total, all: split.length <= limit };
}

interface Score {
  delimiter: string;
  consistency: number;
  headerAgrees: boolean;
  columns: number;
}

function score(rows: string[][], delimiter: string): Score | null {
  if (rows.length === 0) return null;
  const freq = new Map<number, number>();
  for (const r of rows) freq.set(r.length, (freq.get(r.length) ?? 0) + 1);
  let mode = 0;
  let modeCount = 0;
  for (const [len, count] of freq) {
    if (count > modeCount || (count === modeCount && len > mode)) {
      mode = len;
      modeCount = count;
    }
  }
  if (mode < 2) return null;
  return { delimiter, consistency: modeCount / rows.length, headerAgrees: rows[0]?.length === mode, columns: mode };
}

function better(a: Score, b: Score): boolean {
  if (a.consistency !== b.consistency) return a.consistency > b.consistency;
  if (a.headerAgrees !== b.headerAgrees) return a.headerAgrees;
  return a.columns > b.columns;
}

/**
 * Picks the delimiter whose rows most often have the same column count (two
 * columns at least); ties go to the row count agreeing with the header, then
 * to more columns, then to the order `,` `;` tab `|`. Null when no candidate
 * splits the sample (a one-column file).
 */
export function detectDelimiter(sample: string): string | null {
  let best: Score | null = null;
  for (const d of DELIMITER_CANDIDATES) {
    const s = score(sampleRows(sample, d), d);
    if (s !== null && (best === null || better(s, best))) best = s;
  }
  return best?.delimiter ?? null;
}
