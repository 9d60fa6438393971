/**
 * Versioned migrations of the history schema (migrations/), applied in
 * order at start-up, each in a transaction with its version recorded.
 * Idempotent: what is recorded is never run again, and processes that start
 * together take turns (an advisory lock), so exactly one of them applies a
 * new migration.
 */
import type { Pool } from 'pg';
import { MIGRATIONS, type Migration } from './migrations/index.js';

export type { Migration } from './migrations/index.js';

export const HISTORY_SCHEMA = 'autodialer';

/** The advisory lock the migrating process holds (any constant of our own). */
const MIGRATION_LOCK = 0x6175_7464;

export class MigrationError extends Error {
  readonly code = 'ERR_HISTORY_MIGRATION';
}

/** Applies the migrations not recorded yet; returns the versions applied now, and any newer one the database has. */
export async function migrate(pool: Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<{ applied: number[]; unknown: number[] }> {
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
