/**
 * A PostgreSQL database of its own for one test file (created on the real
 * server, dropped afterwards), and helpers the history tests share.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import pg from 'pg';
import type { Container } from '../../src/app/container.js';
import { exportResults, type ExportFormat } from '../../src/reports/export.js';
import { exportAttempts } from '../../src/reports/attempts-export.js';
import { exportRejects } from '../../src/reports/rejects.js';
import { sipcallCdr } from '../callbacks/support.js';
import { acceptEvery } from '../support/accepted.js';

/** The server's maintenance database: databases are created and dropped through it. */
export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  /** A pool on the test database, for the checks. */
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function createDatabase(name: string): Promise<TestDatabase> {
  const db = `adtest_${name.replace(/[^a-z0-9]/g, '_')}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL does not answer at ${PG_ADMIN_URL} (${(err as Error).message}): start it (.ci/run does) or set TEST_PG_ADMIN_URL`);
  }
  await admin.query(`CREATE DATABASE ${db}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${db}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  // The drop ends its idle connections.
  pool.on('error', () => undefined);
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      const a = new pg.Client({ connectionString: PG_ADMIN_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await a.end();
    },
  };
}

/** Every export of a campaign (results, attempts, rejects; CSV and JSONL), as the CLI and the API stream them. */
export async function exportsOf(c: Container, id: string, pageSize = 2): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const kinds = { results: exportResults, attempts: exportAttempts, rejects: exportRejects };
  for (const [kind, fn] of Object.entries(kinds)) {
    for (const format of ['csv', 'jsonl'] as ExportFormat[]) {
      let text = '';
      for await (const line of fn(c, id, format, pageSize)) text += line;
      out[`${kind}.${format}`] = text;
    }
  }
  return out;
}

/** Runs archiver passes until `done` holds (each pass is a bounded amount of work; no clock involved). */
export async function passUntil(c: Container, done: () => Promise<boolean>, maxPasses = 200): Promise<void> {
  const archiver = c.history.archiver;
  if (!archiver) throw new Error('no archiver: the container has no DATABASE_URL');
  for (let i = 0; i < maxPasses; i++) {
    if (await done()) return;
    await archiver.pass();
  }
  if (!(await done())) throw new Error(`still not done after ${maxPasses} archiver passes`);
}

/** Every Redis key under a pattern (SCAN). */
export async function keysMatching(c: Container, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await c.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

const OUTCOMES = ['answered', 'answered', 'no_answer', 'busy', 'failed'] as const;

/**
 * A completed PlayVoice campaign of `n` contacts, each with one call ended
 * by its CDR (received and correlated), made through the attempt service
 * and the callback receiver directly (acceptEvery): no dial worker, no
 * HTTP, so that a large campaign is quick to make.
 */
export async function finishedCampaign(c: Container, n: number): Promise<string> {
  const def = c.definition({
    action: 'playvoice',
    params: { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' },
    maxAttempts: 1,
    resultTimeout: '1h',
    ingest: { numberFormat: 'as_written' },
  });
  const csv = ['phone,name,memberid', ...Array.from({ length: n }, (_, i) => `138${String(i).padStart(8, '0')},Contact ${i},m${i}`)].join('\n');
  const { id: cid } = await c.createCampaign(def, Readable.from([Buffer.from(csv)]), 'history.csv');
  const at = Date.now() - 60_000;
  await acceptEvery(c, cid, async (t, id) => {
    const outcome = OUTCOMES[t.idx % OUTCOMES.length]!;
    const cdr = sipcallCdr({ customuuid: id, uuid: `hist-${t.idx.toString(16).padStart(8, '0')}`, destnumber: t.row.d ?? '', outcome, at });
    await c.receiver.accept({ kind: 'sipcall-cdr', receivedAt: Date.now(), remoteIp: '127.0.0.1', contentType: 'application/json', body: JSON.stringify(cdr) });
  });
  await c.receiver.idle();
  const state = (await c.campaigns.get(cid))?.state;
  if (state !== 'completed') throw new Error(`campaign ${cid} is ${state}, not completed`);
  return cid;
}
