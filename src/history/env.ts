/**
 * What is kept, where and for how long, as the environment says: the history
 * store (DATABASE_URL, AUTODIALER_REDIS_KEEP, AUTODIALER_ARCHIVER_THREAD) and, without one, the
 * retentions of stored callbacks and finished campaigns in Redis
 * (AUTODIALER_CALLBACK_RETENTION, AUTODIALER_HISTORY_RETENTION). config.ts,
 * the only reader of the environment, passes its reader in; every problem
 * names its variable.
 */
import { DurationError, parseDuration } from '../domain/duration.js';
import type { EnvGet } from '../infra/env-values.js';

export interface HistoryConfig {
  /** PostgreSQL (null: none, Redis alone holds everything). */
  databaseUrl: string | null;
  /** How long a finished campaign's contacts and attempts stay in Redis once archived (default 1h). */
  redisKeepMs: number;
  /** Raw callbacks, and a share of each pass's contacts, archived in a worker thread (AUTODIALER_ARCHIVER_THREAD, default on). */
  callbackThread: boolean;
}

export interface RetentionConfig {
  /** How long stored callbacks are kept (ms; null: for ever; default 1h). */
  callbackRetentionMs: number | null;
  /** Without a history store: how long a finished campaign stays in Redis (ms; null: until deleted; default 30d). */
  historyRetentionMs: number | null;
}

/** DATABASE_URL, AUTODIALER_REDIS_KEEP and AUTODIALER_ARCHIVER_THREAD, checked. */
export function historyFromEnv(get: EnvGet, problems: string[]): HistoryConfig {
  const databaseUrl = get('DATABASE_URL') ?? null;
  if (databaseUrl !== null && !/^postgres(ql)?:\/\/[^\s]+$/.test(databaseUrl)) {
    problems.push('DATABASE_URL: must be a PostgreSQL URL such as postgres://user:password@127.0.0.1:5432/autodialer (or unset: Redis alone)');
  }
  let redisKeepMs = 3_600_000;
  const keep = get('AUTODIALER_REDIS_KEEP');
  if (keep !== undefined) {
    try {
      redisKeepMs = parseDuration(keep);
    } catch (err) {
      if (!(err instanceof DurationError)) throw err;
      problems.push(`AUTODIALER_REDIS_KEEP: ${err.message}`);
    }
  }
  const thread = get('AUTODIALER_ARCHIVER_THREAD') ?? 'on';
  if (!['on', 'off'].includes(thread)) problems.push(`AUTODIALER_ARCHIVER_THREAD: must be on or off, got ${JSON.stringify(thread)}`);
  return { databaseUrl, redisKeepMs, callbackThread: thread !== 'off' };
}

/** AUTODIALER_CALLBACK_RETENTION (default 1h) and AUTODIALER_HISTORY_RETENTION (default 30d), checked. */
export function retentionsFromEnv(get: EnvGet, problems: string[]): RetentionConfig {
  // What callbacks did is in the attempts (the history); the raw ones are kept a while for replay and inspection.
  const callbackRetentionMs = retentionFromEnv(get, problems, 'AUTODIALER_CALLBACK_RETENTION', 3_600_000, 'keep callbacks');
  const historyRetentionMs = retentionFromEnv(get, problems, 'AUTODIALER_HISTORY_RETENTION', 30 * 86_400_000, 'keep finished campaigns');
  return { callbackRetentionMs, historyRetentionMs };
}

/** A retention (at least 1h; 0: for ever, null), or its default when unset. */
function retentionFromEnv(get: EnvGet, problems: string[], name: string, fallback: number, what: string): number | null {
  const raw = get(name);
  if (raw === undefined) return fallback;
  try {
    const ms = parseDuration(raw);
    if (ms !== 0 && ms < 3_600_000) problems.push(`${name}: ${what} at least 1h (0 keeps them for ever), got ${JSON.stringify(raw)}`);
    return ms === 0 ? null : ms;
  } catch (err) {
    if (!(err instanceof DurationError)) throw err;
    problems.push(`${name}: ${err.message}`);
    return fallback;
  }
}
