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
import { IngestError } from './errors.js';
import { resolveReadOptions } from './options.js';
import type { ReadOptions } from './options.js';
import { planText } from './plan.js';
import type { TextPlan } from './plan.js';
import { peek, sourceReader } from './source.js';
import type { ByteSource } from './source.js';
import { utf8Chunks } from './text-stream.js';
import type { IngestRecord, ListHeader, ReadSummary } from './types.js';

export interface ContactList {
  /** Known before the first record. */
  header: ListHeader;
  /** The data rows, once. Read to the end, or call `records.return()` to release the source. */
  records: AsyncGenerator<IngestRecord, void, undefined>;
  /** Counts so far; final once `done` is true. */
  summary(): ReadSummary;
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
