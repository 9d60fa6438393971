/**
 * Versioned migrations of the history schema: `.sql` files beside this
 * module (`migrations/NNN_name.sql`), applied in order at start-up, each in
 * a transaction with its version recorded. Idempotent: what is recorded is
 * never run again, and processes that start together take turns (an
 * advisory lock), so exactly one of them applies a new migration.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Pool } from 'pg';

export const HISTORY_SCHEMA = 'autodialer';

/** The advisory lock the migrating process holds (any constant of our own). */
const MIGRATION_LOCK = 0x6175_7464;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export class MigrationError extends Error {
  readonly code = 'ERR_HISTORY_MIGRATION';
}

const FILE = /^(\d+)_([a-z0-9_-]+)\.sql$/;

/** The migrations shipped with this code, in version order. */
export function loadMigrations(dir: string = fileURLToPath(new URL('./migrations/', import.meta.url))): Migration[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (err) {
    throw new MigrationError(`the history migrations are missing (${dir}): ${(err as Error).message}; rebuild with "npm run build"`);
  }
  const out: Migration[] = [];
  for (const f of files) {
    const m = FILE.exec(f);
    if (!m) continue;
    out.push({ version: Number(m[1]), name: m[2]!, sql: readFileSync(`${dir}/${f}`, 'utf8') });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.version === out[i - 1]!.version) throw new MigrationError(`two history migrations have version ${out[i]!.version}`);
  }
  return out;
}

/** Applies the migrations not recorded yet; returns the versions applied now, and any newer one the database has. */
export async function migrate(pool: Pool, migrations: readonly Migration[] = loadMigrations()): Promise<{ applied: number[]; unknown: number[] }> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${HISTORY_SCHEMA}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${HISTORY_SCHEMA}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const done = new Set((await client.query<{ version: number }>(`SELECT version FROM ${HISTORY_SCHEMA}.migrations`)).rows.map((r) => r.version));
      const applied: number[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        try {
          await client.query('BEGIN');
          await client.query(m.sql);
          await client.query(`INSERT INTO ${HISTORY_SCHEMA}.migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new MigrationError(`history migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
        }
        applied.push(m.version);
      }
      const known = new Set(migrations.map((m) => m.version));
      return { applied, unknown: [...done].filter((v) => !known.has(v)).sort((a, b) => a - b) };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}
