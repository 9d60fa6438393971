/**
 * Reading a contact list: bytes → decoded text → CSV rows → validated
 * contacts and rejects, pulled one chunk at a time (memory stays flat
 * whatever the file size). Nothing here touches Redis: dedupe across uploads
 * and do-not-call lists are the storage side's.
 */
import { resolveColumns } from './columns.js';
import type { ColumnLayout } from './columns.js';
import { makeZoneCheck, toRecord } from './contact-row.js';
import { readCsvRows } from './csv-rows.js';
import type { RawRow } from './csv-rows.js';
import { completeLines, detectDelimiter, measureSample, readSepLine } from './delimiter.js';
import { canonicalEncoding, decodeSample, detectEncoding, makeDecoder } from './encoding.js';
import { IngestError } from './errors.js';
import { resolveReadOptions } from './options.js';
import type { ReadOptions, ResolvedReadOptions } from './options.js';
import { binarySignature, looksBinary, looksUndecodable, textQuality } from './sniff.js';
import { peek, sourceReader } from './source.js';
import type { ByteSource, Peeked, SourceReader } from './source.js';
import type { DelimiterSource, EncodingSource, IngestRecord, ListHeader, ReadSummary } from './types.js';

export interface ContactList {
  /** Known before the first record. */
  header: ListHeader;
  /** The data rows, once. Read to the end, or call `records.return()` to release the source. */
  records: AsyncGenerator<IngestRecord, void, undefined>;
  /** Counts so far; final once `done` is true. */
  summary(): ReadSummary;
}

interface TextPlan {
  encoding: string;
  encodingSource: EncodingSource;
  delimiter: string;
  delimiterSource: DelimiterSource;
  /** Characters of Excel's `sep=` line to drop (0 when none). */
  sepLength: number;
  sample: ListHeader['sample'];
}

/** Decides encoding and delimiter from the peeked bytes, or refuses the file. */
function planText(peeked: Peeked, o: ResolvedReadOptions): TextPlan {
  const file = o.fileName;
  const { bytes, complete } = peeked;
  if (bytes.length === 0) {
    throw new IngestError('empty_file', `${file} is empty: a contact list needs a header row, then one row per contact`, file);
  }
  const signature = binarySignature(bytes);
  if (signature !== null) {
    throw new IngestError('binary_file', `${file} is ${signature.what}, not a CSV file: ${signature.fix}`, file);
  }
  const { encoding, source } =
    o.encoding !== null ? { encoding: canonicalEncoding(o.encoding), source: 'named' as const } : detectEncoding(bytes, complete);
  const text = decodeSample(bytes, encoding, complete);
  const quality = textQuality(text);
  if (looksBinary(quality)) {
    throw new IngestError(
      'binary_file',
      `${file} holds binary data (${quality.controls} control characters in its first ${text.length} characters), not CSV text: export the contacts as CSV`,
      file,
    );
  }
  if (looksUndecodable(quality)) {
    throw new IngestError(
      'undecodable',
      `${file} does not decode as ${encoding}: ${quality.replacements} of its first ${quality.chars} characters are invalid; ` +
        'name its encoding with --encoding (utf8, utf16le, gb18030, gbk, windows-1256)',
      file,
    );
  }
  if (complete && text.trim() === '') {
    throw new IngestError('empty_file', `${file} holds only blank lines: a contact list needs a header row, then one row per contact`, file);
  }
  const sep = readSepLine(text);
  const body = completeLines(sep === null ? text : text.slice(sep.length), complete);
  let delimiter: string;
  let delimiterSource: DelimiterSource;
  if (o.delimiter !== null) {
    delimiter = o.delimiter;
    delimiterSource = 'named';
  } else if (sep !== null) {
    delimiter = sep.delimiter;
    delimiterSource = 'sep_line';
  } else {
    const detected = detectDelimiter(body);
    delimiter = detected ?? ',';
    delimiterSource = detected === null ? 'default' : 'detected';
  }
  const measured = measureSample(body, delimiter);
  const bodyShare = Buffer.byteLength(body, 'utf8') / Math.max(1, Buffer.byteLength(text, 'utf8'));
  return {
    encoding,
    encodingSource: source,
    delimiter,
    delimiterSource,
    sepLength: sep?.length ?? 0,
    sample: {
      bytes: complete && measured.all ? bytes.length : Math.round(bytes.length * bodyShare * measured.share),
      rows: measured.rows,
      complete: complete && measured.all,
    },
  };
}

const BATCH_BYTES = 16 * 1024;

/** Small source chunks (one row per chunk, say) gathered up to 16 KB, so parsing costs stay per batch. */
async function readBatch(reader: SourceReader): Promise<Buffer | null> {
  const first = await reader.next();
  if (first === null || first.length >= BATCH_BYTES) return first;
  const parts = [first];
  let size = first.length;
  while (size < BATCH_BYTES) {
    const next = await reader.next();
    if (next === null) break;
    parts.push(next);
    size += next.length;
  }
  return Buffer.concat(parts);
}

/** The file's text as UTF-8 chunks: peeked chunks first, then the rest of the source. */
async function* utf8Chunks(reader: SourceReader, peeked: Peeked, plan: TextPlan): AsyncGenerator<Buffer> {
  const decoder = makeDecoder(plan.encoding);
  let skip = plan.sepLength;
  const utf8 = (text: string): Buffer | null => {
    if (skip > 0) {
      const k = Math.min(skip, text.length);
      text = text.slice(k);
      skip -= k;
    }
    return text === '' ? null : Buffer.from(text, 'utf8');
  };
  try {
    for (const chunk of peeked.chunks) {
      const out = utf8(decoder.write(chunk));
      if (out !== null) yield out;
    }
    for (;;) {
      const batch = await readBatch(reader);
      if (batch === null) break;
      const out = utf8(decoder.write(batch));
      if (out !== null) yield out;
    }
    const out = utf8(decoder.end());
    if (out !== null) yield out;
  } finally {
    await reader.close();
  }
}

async function readHeader(rows: AsyncGenerator<RawRow>, file: string): Promise<{ columns: string[]; line: number; blankLines: number }> {
  let blankLines = 0;
  for (;;) {
    const next = await rows.next();
    if (next.done === true) {
      throw new IngestError('no_header', `${file} has no header row: the first row must name the columns (phone, name, …)`, file);
    }
    const row = next.value;
    if (row.kind === 'blank') blankLines += row.lines;
    else if (row.kind === 'broken') {
      throw new IngestError('no_header', `the header row of ${file} (line ${row.line}) cannot be read: ${row.message}`, file);
    } else return { columns: row.fields, line: row.line, blankLines };
  }
}

/**
 * Opens a contact list: reads up to the header (encoding, delimiter and
 * columns decided, or an IngestError), and hands back the records to pull.
 */
export async function openContactList(source: ByteSource, options: ReadOptions): Promise<ContactList> {
  const o = resolveReadOptions(options);
  const file = o.fileName;
  const reader = sourceReader(source, file);
  let rows: AsyncGenerator<RawRow> | null = null;
  let plan: TextPlan;
  let head: { columns: string[]; line: number; blankLines: number };
  let layout: ColumnLayout;
  try {
    const peeked = await peek(reader);
    plan = planText(peeked, o);
    rows = readCsvRows(utf8Chunks(reader, peeked, plan), {
      delimiter: plan.delimiter,
      maxRowBytes: o.maxRowBytes,
      firstLine: plan.sepLength > 0 ? 2 : 1,
    });
    head = await readHeader(rows, file);
    layout = resolveColumns(head.columns, o, file);
  } catch (err) {
    await rows?.return(undefined);
    await reader.close();
    throw err;
  }
  const header: ListHeader = {
    fileName: file,
    columns: head.columns,
    line: head.line,
    encoding: plan.encoding,
    encodingSource: plan.encodingSource,
    delimiter: plan.delimiter,
    delimiterSource: plan.delimiterSource,
    phone: layout.phone,
    timezone: layout.timezone,
    custom: layout.custom,
    sample: plan.sample,
  };
  const counts: ReadSummary = {
    fileName: file,
    encoding: plan.encoding,
    delimiter: plan.delimiter,
    header: head.columns,
    rowsRead: 0,
    contacts: 0,
    rejects: 0,
    rejectsByReason: {},
    blankLines: head.blankLines,
    bytesRead: reader.bytesRead,
    done: false,
  };
  const checks = {
    phone: { region: o.region, numberFormat: o.numberFormat, allowExtensions: o.allowExtensions },
    zone: makeZoneCheck(),
  };
  const progress = (): void => {
    o.onProgress?.({ rowsRead: counts.rowsRead, contacts: counts.contacts, rejects: counts.rejects, bytesRead: counts.bytesRead, done: counts.done });
  };
  const rowSource = rows;

  async function* records(): AsyncGenerator<IngestRecord, void, undefined> {
    try {
      for await (const row of rowSource) {
        counts.bytesRead = reader.bytesRead;
        if (row.kind === 'blank') {
          counts.blankLines += row.lines;
          continue;
        }
        const record: IngestRecord =
          row.kind === 'broken'
            ? { kind: 'reject', line: row.line, values: null, reason: row.reason, message: row.message }
            : toRecord(row.fields, row.line, layout, checks);
        counts.rowsRead++;
        if (record.kind === 'contact') counts.contacts++;
        else {
          counts.rejects++;
          counts.rejectsByReason[record.reason] = (counts.rejectsByReason[record.reason] ?? 0) + 1;
        }
        if (counts.rowsRead % o.progressEvery === 0) progress();
        yield record;
      }
      counts.bytesRead = reader.bytesRead;
      counts.done = true;
      progress();
    } finally {
      await rowSource.return(undefined);
    }
  }

  return {
    header,
    records: records(),
    summary: () => ({ ...counts, header: [...counts.header], rejectsByReason: { ...counts.rejectsByReason } }),
  };
}

/** The records of a contact list; an IngestError from the first `next()` when the file cannot be read. */
export async function* readContactList(source: ByteSource, options: ReadOptions): AsyncGenerator<IngestRecord, void, undefined> {
  const list = await openContactList(source, options);
  yield* list.records;
}
