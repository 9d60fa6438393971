/**
 * The history store on PostgreSQL. Writes are idempotent: rows already
 * stored are COPYed into temporary tables and inserted from there, a row
 * replaced only by a newer version of itself (an attempt by a higher record
 * version, a contact or a callback when what it says changed), so writing a
 * batch twice changes nothing; rows written for the first time are COPYed
 * straight in (the primary keys refuse them if they were there after all,
 * and they take the first way). The only place that writes SQL.
 */
import type { PoolClient } from 'pg';
import { campaignDefinitionSchema } from '../campaign/definition.js';
import { CAMPAIGN_STATES, type CampaignState } from '../domain/types.js';
import type { HistoryDatabase } from './pg.js';
import { copyInto, type CopyRows } from './copy.js';
import { HISTORY_SCHEMA as S } from './migrate.js';
import {
  ATTEMPT_COLUMNS,
  CALLBACK_COLUMNS,
  CONTACT_COLUMNS,
  attemptFromRow,
  attemptRows,
  callbackRows,
  contactFromRow,
  contactRows,
  type ArchivedAttempt,
  type ArchivedCallback,
  type ArchivedCampaign,
  type ArchivedContact,
  type CampaignSummary,
} from './records.js';

export interface HistoryBatch {
  campaigns?: readonly ArchivedCampaign[];
  contacts?: readonly ArchivedContact[];
  attempts?: readonly ArchivedAttempt[];
  callbacks?: readonly ArchivedCallback[];
}

/** A batch already encoded as COPY text; within each table no key twice (a page read once gives that). */
export interface EncodedBatch {
  campaigns?: readonly ArchivedCampaign[];
  contacts?: CopyRows;
  attempts?: CopyRows;
  callbacks?: CopyRows;
}

/** Rows each write inserted or changed (a row written again unchanged counts 0). */
export interface WriteCounts {
  contacts: number;
  attempts: number;
  callbacks: number;
}

/** An attempt of a number's history, with its campaign's name. */
export interface NumberAttempt extends ArchivedAttempt {
  campaignName: string | null;
}

const set = (cols: readonly string[], skip: readonly string[]) =>
  cols
    .filter((c) => !skip.includes(c))
    .map((c) => `${c} = EXCLUDED.${c}`)
    .join(', ');

/** What makes a contact row different (its cells never change). */
const CONTACT_CHANGED = ['status', 'attempts', 'customuuid', 'provider_call_id', 'billsec', 'userkey', 'answered_at', 'ended_at', 'hangupcause', 'error', 'late', 'dials', 'reason'];
/**
 * A contact row is never replaced by one that says less: fewer dials, no
 * longer final, or without its last attempt (a read of a contact that was
 * leaving Redis at that moment).
 */
const CONTACT_NOT_LESS = `EXCLUDED.dials >= t.dials AND NOT (EXCLUDED.status = 'pending' AND t.status <> 'pending') AND (EXCLUDED.customuuid IS NOT NULL OR t.customuuid IS NULL)`;

const UPSERT_CONTACTS = `INSERT INTO ${S}.contacts AS t (${CONTACT_COLUMNS.join(', ')}) SELECT ${CONTACT_COLUMNS.join(', ')} FROM h_contacts
ON CONFLICT (campaign_id, idx) DO UPDATE SET ${set(CONTACT_COLUMNS, ['campaign_id', 'idx'])}, archived_at = now()
WHERE (${CONTACT_CHANGED.map((c) => `t.${c}`).join(', ')}) IS DISTINCT FROM (${CONTACT_CHANGED.map((c) => `EXCLUDED.${c}`).join(', ')}) AND ${CONTACT_NOT_LESS}`;

const UPSERT_ATTEMPTS = `INSERT INTO ${S}.attempts AS t (${ATTEMPT_COLUMNS.join(', ')}) SELECT ${ATTEMPT_COLUMNS.join(', ')} FROM h_attempts
ON CONFLICT (id) DO UPDATE SET ${set(ATTEMPT_COLUMNS, ['id'])}, archived_at = now() WHERE t.ver < EXCLUDED.ver`;

const SETTLEMENT = ['counter', 'settled_as', 'attempt_id', 'campaign_id'];
const UPSERT_CALLBACKS = `INSERT INTO ${S}.callbacks AS t (${CALLBACK_COLUMNS.join(', ')}) SELECT ${CALLBACK_COLUMNS.join(', ')} FROM h_callbacks
ON CONFLICT (id) DO UPDATE SET ${SETTLEMENT.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}, archived_at = now()
WHERE (${SETTLEMENT.map((c) => `t.${c}`).join(', ')}) IS DISTINCT FROM (${SETTLEMENT.map((c) => `EXCLUDED.${c}`).join(', ')})`;

const CONTACTS = { table: 'contacts', tmp: 'h_contacts', columns: CONTACT_COLUMNS, upsert: UPSERT_CONTACTS };
const ATTEMPTS = { table: 'attempts', tmp: 'h_attempts', columns: ATTEMPT_COLUMNS, upsert: UPSERT_ATTEMPTS };
const CALLBACKS = { table: 'callbacks', tmp: 'h_callbacks', columns: CALLBACK_COLUMNS, upsert: UPSERT_CALLBACKS };
/** PostgreSQL's SQLSTATE for a duplicate key. */
const UNIQUE_VIOLATION = '23505';

const CAMPAIGN_COLUMNS = ['id', 'name', 'provider', 'action', 'definition', 'state', 'created_at', 'started_at', 'finished_at', 'header', 'total', 'import_summary', 'schedule', 'tick', 'summary', 'archived_at', 'purged_at'];
const UPSERT_CAMPAIGN = `INSERT INTO ${S}.campaigns AS t (${CAMPAIGN_COLUMNS.join(', ')}) VALUES (${CAMPAIGN_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
ON CONFLICT (id) DO UPDATE SET ${set(CAMPAIGN_COLUMNS, ['id', 'archived_at', 'purged_at'])},
  archived_at = COALESCE(EXCLUDED.archived_at, t.archived_at), purged_at = COALESCE(EXCLUDED.purged_at, t.purged_at), updated_at = now()`;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function campaignParams(c: ArchivedCampaign): unknown[] {
  const r = c.record;
  return [
    r.id,
    r.definition.name,
    r.definition.provider,
    r.definition.action,
    JSON.stringify(r.definition),
    r.state,
    r.createdAt,
    r.startedAt,
    r.finishedAt,
    JSON.stringify(r.header),
    r.total,
    r.importSummary ? JSON.stringify(r.importSummary) : null,
    r.schedule?.name ?? null,
    r.schedule?.tick ?? null,
    JSON.stringify(c.summary),
    iso(c.archivedAt),
    iso(c.purgedAt),
  ];
}

/** The last of each key wins (an insert may not touch one row twice). */
function lastByKey<T>(rows: readonly T[], key: (r: T) => string): T[] {
  const m = new Map<string, T>();
  for (const r of rows) m.set(key(r), r);
  return [...m.values()];
}

export class HistoryStoreError extends Error {
  readonly code = 'ERR_HISTORY_STORE';
}

function campaignFromRow(r: Record<string, unknown>): ArchivedCampaign {
  const def = campaignDefinitionSchema.safeParse(r.definition);
  if (!def.success) throw new HistoryStoreError(`campaign ${String(r.id)} in the history store has a definition this version cannot read: ${def.error.issues[0]?.message ?? ''}`);
  const state = String(r.state);
  if (!(CAMPAIGN_STATES as readonly string[]).includes(state)) throw new HistoryStoreError(`campaign ${String(r.id)} in the history store has an unknown state ${state}`);
  const time = (v: unknown) => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : null);
  const ms = (v: unknown) => (v instanceof Date ? v.getTime() : null);
  return {
    record: {
      id: String(r.id),
      definition: def.data,
      state: state as CampaignState,
      createdAt: time(r.created_at) ?? '',
      startedAt: time(r.started_at),
      finishedAt: time(r.finished_at),
      pausedReason: null,
      header: Array.isArray(r.header) ? r.header.map(String) : [],
      total: Number(r.total),
      importDone: true,
      importSummary: r.import_summary && typeof r.import_summary === 'object' ? (r.import_summary as Record<string, unknown>) : null,
      ...(typeof r.schedule === 'string' && typeof r.tick === 'string' ? { schedule: { name: r.schedule, tick: r.tick } } : {}),
    },
    summary: r.summary as CampaignSummary,
    archivedAt: ms(r.archived_at),
    purgedAt: ms(r.purged_at),
  };
}

export function makePgHistoryStore(db: HistoryDatabase) {
  const { pool } = db;

  /** Connections whose temporary tables are made (once per connection; emptied at each commit). */
  const prepared = new WeakSet<PoolClient>();
  async function tempTables(client: PoolClient): Promise<void> {
    if (prepared.has(client)) return;
    await client.query(
      [
        'SET client_min_messages = warning',
        ...[['h_contacts', 'contacts'], ['h_attempts', 'attempts'], ['h_callbacks', 'callbacks']].map(
          ([tmp, table]) => `CREATE TEMP TABLE IF NOT EXISTS ${tmp} (LIKE ${S}.${table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`,
        ),
      ].join(';\n'),
    );
    prepared.add(client);
  }

  /**
   * Inserts rows into `table`. Rows seen for the first time (`fresh`, the
   * usual case) are COPYed straight into it; when one is there already (a
   * batch written again after a crash) the attempt is undone and the rows
   * go through the temporary table and the upsert, as rows written again
   * always do. Returns how many rows were inserted or changed.
   */
  async function insertRows(client: PoolClient, t: { table: string; tmp: string; columns: readonly string[]; upsert: string }, rows: CopyRows, fresh: boolean): Promise<number> {
    if (fresh) {
      await client.query('SAVEPOINT direct');
      try {
        await copyInto(client, `${S}.${t.table}`, t.columns, rows.data);
        await client.query('RELEASE SAVEPOINT direct');
        return rows.rows;
      } catch (err) {
        if ((err as { code?: unknown }).code !== UNIQUE_VIOLATION) throw err;
        await client.query('ROLLBACK TO SAVEPOINT direct');
      }
    }
    await copyInto(client, t.tmp, t.columns, rows.data);
    return (await client.query(t.upsert)).rowCount ?? 0;
  }

  /**
   * Writes an encoded batch in one transaction; written again, it changes
   * nothing. `fresh`: its rows are most likely not stored yet (first written).
   */
  async function writeRows(batch: EncodedBatch, options: { fresh?: boolean } = {}): Promise<WriteCounts> {
    await db.ready();
    const fresh = options.fresh === true;
    const counts: WriteCounts = { contacts: 0, attempts: 0, callbacks: 0 };
    const client = await pool.connect();
    try {
      await tempTables(client);
      await client.query('BEGIN');
      for (const c of lastByKey(batch.campaigns ?? [], (c) => c.record.id)) await client.query(UPSERT_CAMPAIGN, campaignParams(c));
      if (batch.contacts && batch.contacts.rows > 0) counts.contacts = await insertRows(client, CONTACTS, batch.contacts, fresh);
      if (batch.attempts && batch.attempts.rows > 0) counts.attempts = await insertRows(client, ATTEMPTS, batch.attempts, fresh);
      if (batch.callbacks && batch.callbacks.rows > 0) counts.callbacks = await insertRows(client, CALLBACKS, batch.callbacks, fresh);
      await client.query('COMMIT');
      return counts;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Writes records (the last of each key wins) in one transaction; see writeRows. */
  async function write(batch: HistoryBatch, options: { fresh?: boolean } = {}): Promise<WriteCounts> {
    const attempts = lastByKey(
      [...(batch.attempts ?? [])].sort((a, b) => a.ver - b.ver),
      (a) => a.id,
    );
    return writeRows(
      {
        campaigns: batch.campaigns ?? [],
        contacts: contactRows(lastByKey(batch.contacts ?? [], (c) => `${c.campaignId}/${c.idx}`)),
        attempts: attemptRows(attempts),
        callbacks: callbackRows(lastByKey(batch.callbacks ?? [], (c) => c.id)),
      },
      options,
    );
  }

  async function campaign(id: string): Promise<ArchivedCampaign | null> {
    await db.ready();
    const { rows } = await pool.query(`SELECT * FROM ${S}.campaigns WHERE id = $1`, [id]);
    return rows[0] ? campaignFromRow(rows[0] as Record<string, unknown>) : null;
  }

  /** Contacts with `from <= idx < from + count`, in order (those archived). */
  async function contacts(campaignId: string, from: number, count: number): Promise<ArchivedContact[]> {
    await db.ready();
    const { rows } = await pool.query(`SELECT * FROM ${S}.contacts WHERE campaign_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx`, [campaignId, from, from + count]);
    return rows.map((r) => contactFromRow(r as Record<string, unknown>));
  }

  /** Attempts of contacts `fromIdx <= idx < toIdx`, contact by contact, in attempt order. */
  async function attempts(campaignId: string, fromIdx: number, toIdx: number): Promise<ArchivedAttempt[]> {
    await db.ready();
    const { rows } = await pool.query(`SELECT * FROM ${S}.attempts WHERE campaign_id = $1 AND contact_idx >= $2 AND contact_idx < $3 ORDER BY contact_idx, n`, [
      campaignId,
      fromIdx,
      toIdx,
    ]);
    return rows.map((r) => attemptFromRow(r as Record<string, unknown>));
  }

  /** Every attempt to a number (its E.164 key, or the number as dialed), newest first. */
  async function numberHistory(keys: readonly string[], limit: number): Promise<NumberAttempt[]> {
    await db.ready();
    const { rows } = await pool.query(
      `SELECT a.*, c.name AS campaign_name FROM ${S}.attempts a LEFT JOIN ${S}.campaigns c ON c.id = a.campaign_id
       WHERE a.e164 = ANY($1::text[]) OR a.number = ANY($1::text[])
       ORDER BY a.dialing_at DESC NULLS LAST, a.id DESC LIMIT $2`,
      [keys, limit],
    );
    return rows.map((r) => ({ ...attemptFromRow(r as Record<string, unknown>), campaignName: typeof r.campaign_name === 'string' ? r.campaign_name : null }));
  }

  /** Rows the store holds, for operators and tests. */
  async function counts(campaignId?: string): Promise<{ campaigns: number; contacts: number; attempts: number; callbacks: number }> {
    await db.ready();
    const where = campaignId === undefined ? '' : ' WHERE campaign_id = $1';
    const args = campaignId === undefined ? [] : [campaignId];
    const one = async (sql: string, a: unknown[]) => Number((await pool.query<{ n: string }>(sql, a)).rows[0]?.n ?? 0);
    const [campaigns, contacts, attempts, callbacks] = await Promise.all([
      one(`SELECT count(*) AS n FROM ${S}.campaigns${campaignId === undefined ? '' : ' WHERE id = $1'}`, args),
      one(`SELECT count(*) AS n FROM ${S}.contacts${where}`, args),
      one(`SELECT count(*) AS n FROM ${S}.attempts${where}`, args),
      one(`SELECT count(*) AS n FROM ${S}.callbacks${where}`, args),
    ]);
    return { campaigns, contacts, attempts, callbacks };
  }

  return { ready: () => db.ready(), write, writeRows, campaign, contacts, attempts, numberHistory, counts };
}

export type HistoryStore = ReturnType<typeof makePgHistoryStore>;
