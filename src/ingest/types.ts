/**
 * What reading a contact list produces: records (contacts or rejects), the
 * header known before the first record, and a running summary.
 */

/** Short codes for a row that cannot become a contact. */
export const REJECT_REASONS = [
  'missing_phone',
  'invalid_phone',
  'bad_timezone',
  'row_too_long',
  'malformed_row',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export const NUMBER_FORMATS = ['e164', 'national', 'as_written'] as const;
/** How a number is sent to the provider. */
export type NumberFormat = (typeof NUMBER_FORMATS)[number];

export interface ContactPhone {
  /** Dedupe key: E.164 (`+8613333333333`), the digits in loose mode, or `ext:557` for an extension. */
  e164: string;
  /** What is sent to the provider, in the requested format. */
  dial: string;
}

export interface ContactRecord {
  kind: 'contact';
  /** 1-based physical line where the row starts. */
  line: number;
  /** The row's columns, as read (extra columns kept). */
  values: string[];
  phone: ContactPhone;
  /** Validated IANA zone from the time zone column, or null when there is none. */
  timezone: string | null;
  /** Provider field → value (non-empty cells only). */
  custom: Record<string, string>;
}

export interface RejectRecord {
  kind: 'reject';
  line: number;
  /** The row's columns, or null when the row could not be split into columns. */
  values: string[] | null;
  reason: RejectReason;
  /** What is wrong, naming the column. */
  message: string;
}

export type IngestRecord = ContactRecord | RejectRecord;

export interface ColumnRef {
  /** 0-based position in the row. */
  index: number;
  /** The header cell, as read. */
  name: string;
}

export type EncodingSource = 'named' | 'bom' | 'utf8' | 'utf16-pattern' | 'heuristic';
export type DelimiterSource = 'named' | 'sep_line' | 'detected' | 'default';

export interface ListHeader {
  fileName: string;
  /** The original column names, as read. */
  columns: string[];
  /** Physical line of the header row. */
  line: number;
  /** iconv-lite name of the encoding used (`utf8`, `utf16le`, `gb18030`, `windows-1256`, …). */
  encoding: string;
  encodingSource: EncodingSource;
  delimiter: string;
  delimiterSource: DelimiterSource;
  phone: ColumnRef;
  timezone: ColumnRef | null;
  /** Provider field → column. */
  custom: Record<string, ColumnRef>;
  /**
   * For `estimateRows(fileSize, sample.bytes, sample.rows)`: data rows counted
   * at the start of the file and the bytes they span; `complete` when those
   * are all the rows of the file (then `rows` is exact and `bytes` the file size).
   */
  sample: { bytes: number; rows: number; complete: boolean };
}

export interface ReadSummary {
  fileName: string;
  encoding: string;
  delimiter: string;
  header: string[];
  /** Data rows read (contacts + rejects; the header and blank lines are not rows). */
  rowsRead: number;
  contacts: number;
  rejects: number;
  rejectsByReason: Partial<Record<RejectReason, number>>;
  blankLines: number;
  bytesRead: number;
  /** True once the whole file has been read. */
  done: boolean;
}

export interface IngestProgress {
  rowsRead: number;
  contacts: number;
  rejects: number;
  bytesRead: number;
  done: boolean;
}
