/**
 * The connection to the history store: one pool per process, its schema
 * brought up to date once, on first use (start-up for the roles that write).
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { migrate, MigrationError } from './migrate.js';

export class HistoryUnavailableError extends Error {
  readonly code = 'ERR_HISTORY_UNAVAILABLE';
}

export interface HistoryDatabase {
  readonly pool: pg.Pool;
  /** Resolves once the schema is up to date (migrations run the first time); a failure is retried at the next call. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** The URL without its password, for messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'DATABASE_URL';
  }
}

export function openHistoryDatabase(url: string, log: Logger, options: { max?: number } = {}): HistoryDatabase {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 4,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    application_name: 'autodialer',
  });
  // An idle connection the server dropped: the pool makes a new one at the next query.
  pool.on('error', (err) => log.warn({ err: err.message }, 'history store connection lost'));
  let migrated: Promise<void> | null = null;
  return {
    pool,
    ready() {
      migrated ??= migrate(pool).then(
        ({ applied, unknown }) => {
          if (applied.length > 0) log.info({ applied }, 'history store schema migrated');
          if (unknown.length > 0) log.warn({ unknown }, 'the history store has migrations this version does not know (a newer version ran): reading and writing what this one knows');
        },
        (err: unknown) => {
          migrated = null;
          if (err instanceof MigrationError) throw err;
          throw new HistoryUnavailableError(`the history store at ${safeUrl(url)} cannot be used: ${(err as Error).message} (check DATABASE_URL, or unset it to keep everything in Redis)`);
        },
      );
      return migrated;
    },
    async close() {
      await pool.end();
    },
  };
}
