/**
 * Streams a contact list into a campaign: the reader (src/ingest) yields
 * validated rows, a few batches at a time go to Redis (dedupe, DNC, compact
 * storage, due set), and the summary says what became of every row.
 */
import { createHash, randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { openContactList, type ContactList, type IngestProgress, type IngestRecord, type ReadSummary } from '../ingest/index.js';
import type { ByteSource } from '../ingest/source.js';
import { inferTimezone } from '../domain/timezone.js';
import type { CampaignDefinition } from './definition.js';
import type { CampaignStore } from '../store/campaigns.js';
import { encodeImportRecord, type BatchResult, type ContactRow, type ContactStore, type ImportRecord } from '../store/contacts.js';
import { PackedBatch } from '../store/import-batch.js';
import type { Keys } from '../store/keys.js';
import { DRY_RUN_BATCH } from '../store/scripts.js';
import { luaScript, runScript } from '../infra/lua.js';

const DRY_RUN_SCRIPT = luaScript(DRY_RUN_BATCH, null);

export interface ImportSummary {
  fileName: string;
  encoding: string;
  delimiter: string;
  header: string[];
  rowsRead: number;
  blankLines: number;
  /** Contacts that will be dialed. */
  added: number;
  duplicate: number;
  dnc: number;
  invalid: number;
  invalidByReason: Record<string, number>;
  /** Rows already in the campaign from an earlier upload (nothing added twice). */
  alreadyInCampaign: number;
}

export interface DryRunSummary extends ImportSummary {
  dryRun: true;
  /** Seconds to dial what would be added at the campaign's pace (calling windows aside). */
  estimatedSeconds: number | null;
}

export interface ImportProgress extends IngestProgress {
  added: number;
}

export interface ImportDeps {
  redis: Redis;
  keys: Keys;
  campaigns: CampaignStore;
  contacts: ContactStore;
  now: () => number;
  log: Logger;
  /** A full garbage collection, asked for every GC_EVERY records (default: V8's own, see fullGc). */
  collectGarbage?: () => void;
}

const BATCH = 1000;
const IN_FLIGHT = 3;

/**
 * Records between two full garbage collections during an import. Reading
 * a list makes about 10 KB of short-lived garbage a row (most of it phone
 * number parsing), so young collections come every millisecond or so, and
 * what is alive at two of them moves to the old generation: the source's
 * chunks (64 KB each, with their buffers) and the batches waiting on Redis.
 * V8 collects the old generation only once it has grown by about as much
 * again as it held, so a long list would end with 60–70 MB more RSS; a full
 * collection every 100,000 rows (a few milliseconds each) keeps it flat.
 */
export const GC_EVERY = 100_000;

let v8Gc: (() => void) | null = null;

/** V8's full collection, as `--expose-gc` would give it, taken once (the flag is set back at once). */
export function fullGc(): void {
  if (v8Gc === null) {
    setFlagsFromString('--expose-gc');
    v8Gc = runInNewContext('gc') as () => void;
    setFlagsFromString('--no-expose-gc');
  }
  v8Gc();
}

function readOptions(def: CampaignDefinition, fileName: string, onProgress?: (p: IngestProgress) => void) {
  return {
    fileName,
    ...(def.ingest.encoding ? { encoding: def.ingest.encoding } : {}),
    ...(def.ingest.delimiter ? { delimiter: def.ingest.delimiter } : {}),
    ...(def.ingest.phoneColumn ? { phoneColumn: def.ingest.phoneColumn } : {}),
    ...(def.window.timezoneColumn ? { timezoneColumn: def.window.timezoneColumn } : {}),
    region: def.ingest.region,
    numberFormat: def.ingest.numberFormat,
    allowExtensions: def.provider === 'pbx',
    ...(onProgress ? { onProgress } : {}),
  };
}

function toImportRecord(r: IngestRecord): ImportRecord {
  if (r.kind === 'contact') {
    const row: ContactRow = { l: r.line, v: r.values, d: r.phone.dial, e: r.phone.e164, z: r.timezone ?? inferTimezone(r.phone.e164) };
    if (Object.keys(r.custom).length > 0) row.c = r.custom;
    return { kind: 'contact', line: r.line, row, e164: r.phone.e164 };
  }
  const hash = createHash('sha1')
    .update(JSON.stringify(r.values ?? [r.line, r.reason]))
    .digest('base64url')
    .slice(0, 16);
  return { kind: 'reject', line: r.line, row: { l: r.line, v: r.values ?? [] }, hash, message: `line ${r.line}: ${r.message}` };
}

function baseSummary(s: ReadSummary): Omit<ImportSummary, 'added' | 'duplicate' | 'dnc' | 'alreadyInCampaign'> {
  return {
    fileName: s.fileName,
    encoding: s.encoding,
    delimiter: s.delimiter,
    header: s.header,
    rowsRead: s.rowsRead,
    blankLines: s.blankLines,
    invalid: s.rejects,
    invalidByReason: { ...s.rejectsByReason } as Record<string, number>,
  };
}

/** What a batch holds: records turned into what the batch's work needs as soon as they are read. */
interface BatchKind<B> {
  open(): B;
  add(batch: B, rec: IngestRecord): void;
  /** Called once the batch's work is over; the batch may be reused. */
  release(batch: B): void;
}

/**
 * Runs `work` on batches of records with a few batches in flight
 * (backpressure on the reader). Records are packed into their batch as they
 * are read, so the reader's objects die young and only compact batches wait
 * on Redis.
 */
async function inBatches<B>(list: ContactList, kind: BatchKind<B>, work: (batch: B) => Promise<void>, collectGarbage: () => void): Promise<void> {
  const inflight = new Set<Promise<void>>();
  let failure: unknown = null;
  let batch = kind.open();
  let records = 0;
  let sinceGc = 0;
  const launch = (b: B) => {
    const p = work(b)
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => kind.release(b));
    const tracked = p.finally(() => inflight.delete(tracked));
    inflight.add(tracked);
  };
  for await (const rec of list.records) {
    kind.add(batch, rec);
    if (++sinceGc >= GC_EVERY) {
      sinceGc = 0;
      collectGarbage();
    }
    if (++records >= BATCH) {
      launch(batch);
      batch = kind.open();
      records = 0;
      if (inflight.size >= IN_FLIGHT) await Promise.race(inflight);
      if (failure) break;
    }
  }
  if (!failure && records > 0) launch(batch);
  await Promise.all(inflight);
  if (failure) {
    await list.records.return(undefined);
    throw failure;
  }
}

/**
 * Imports a list into an existing campaign. Safe to run again with the same
 * file: numbers already in the campaign and rejects already reported are not
 * added twice.
 */
export async function importContactList(
  deps: ImportDeps,
  campaignId: string,
  source: ByteSource,
  fileName: string,
  options: { onProgress?: (p: ImportProgress) => void } = {},
): Promise<ImportSummary> {
  const campaign = await deps.campaigns.require(campaignId);
  const def = campaign.definition;
  const totals: BatchResult = { added: 0, duplicate: 0, dnc: 0, invalid: 0, already: 0 };
  const onProgress = options.onProgress;
  const list = await openContactList(source, readOptions(def, fileName, onProgress ? (p) => onProgress({ ...p, added: totals.added }) : undefined));
  if (campaign.header.length === 0) await deps.campaigns.setHeader(campaignId, list.header.columns);
  else if (campaign.header.join('\u0000') !== list.header.columns.join('\u0000')) {
    deps.log.warn({ campaignId, fileName }, 'this list has other columns than the campaign\'s first list: values are kept by position');
  }
  await deps.campaigns.beginImport(campaignId);
  const uploadId = randomBytes(3).toString('hex');
  const dueAt = def.window.startsAt ? Math.max(deps.now(), Date.parse(def.window.startsAt)) : deps.now();
  const cursor = await deps.contacts.importCursor(campaignId);
  const spare: PackedBatch[] = [];
  const packed: BatchKind<PackedBatch> = {
    open: () => spare.pop() ?? new PackedBatch(),
    add: (b, rec) => b.add(encodeImportRecord(toImportRecord(rec))),
    release: (b) => {
      b.reset();
      spare.push(b);
    },
  };
  await inBatches(
    list,
    packed,
    async (batch) => {
      const r = await deps.contacts.importPacked(campaignId, uploadId, dueAt, def.dnc, batch, cursor);
      totals.added += r.added;
      totals.duplicate += r.duplicate;
      totals.dnc += r.dnc;
      totals.invalid += r.invalid;
      totals.already += r.already;
    },
    deps.collectGarbage ?? fullGc,
  );
  const s = list.summary();
  const summary: ImportSummary = {
    ...baseSummary(s),
    added: totals.added,
    duplicate: totals.duplicate,
    dnc: totals.dnc,
    alreadyInCampaign: totals.already,
  };
  await deps.campaigns.finishImport(campaignId, { ...summary }, campaign.state === 'paused' ? 'paused' : 'running');
  deps.log.info({ campaignId, fileName, added: summary.added, invalid: summary.invalid, duplicate: summary.duplicate, dnc: summary.dnc }, 'contact list imported');
  return summary;
}

/** Reads and checks a whole list against a definition; stores nothing. */
export async function dryRunContactList(
  deps: Pick<ImportDeps, 'redis' | 'keys' | 'collectGarbage'>,
  def: CampaignDefinition,
  source: ByteSource,
  fileName: string,
  existingCampaignId: string | null = null,
): Promise<DryRunSummary> {
  const list = await openContactList(source, readOptions(def, fileName));
  const scratch = `${deps.keys.campaigns}:dry:${randomBytes(6).toString('hex')}`;
  const phones = existingCampaignId ? deps.keys.phones(existingCampaignId) : `${scratch}:none`;
  const dncKeys = def.dnc.map((l) => deps.keys.dnc(l));
  const t = { dial: 0, dup: 0, dnc: 0, already: 0 };
  try {
    const numbers: BatchKind<string[]> = {
      open: () => [],
      add: (b, rec) => {
        if (rec.kind === 'contact') b.push(rec.phone.e164);
      },
      release: () => undefined,
    };
    await inBatches(
      list,
      numbers,
      async (numbers) => {
        if (numbers.length === 0) return;
        const [dial = 0, dup = 0, dnc = 0, already = 0] = (await runScript(deps.redis, DRY_RUN_SCRIPT, [scratch, phones, ...dncKeys], ['3600', ...numbers])) as number[];
        t.dial += dial;
        t.dup += dup;
        t.dnc += dnc;
        t.already += already;
      },
      deps.collectGarbage ?? fullGc,
    );
  } finally {
    await deps.redis.unlink(scratch);
  }
  const s = list.summary();
  return {
    ...baseSummary(s),
    added: t.dial,
    duplicate: t.dup,
    dnc: t.dnc,
    alreadyInCampaign: t.already,
    dryRun: true,
    estimatedSeconds: def.cps > 0 ? Math.ceil(t.dial / def.cps) : null,
  };
}
