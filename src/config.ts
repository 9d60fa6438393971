/**
 * The only reader of the environment. Validated once at start-up; every
 * message says what to change.
 */
import { existsSync, readFileSync } from 'node:fs';
import { IANAZone } from 'luxon';
import { z } from 'zod';
import type { ProviderFamily } from './domain/types.js';
import { parseSipcallOutcomeTable, type SipcallOutcomeTable } from './providers/sipcall/outcomes.js';
import { parsePbxDispositionTable, type PbxDispositionTable } from './providers/pbx/outcomes.js';
import { notifierOptionsFromEnv } from './notify/env.js';
import type { NotifierOptionsInput } from './notify/policy.js';
import { intIn, pick } from './infra/env-values.js';
import { redisFromEnv, type ReplicaAcksConfig } from './infra/redis-env.js';
import { frequencyFromEnv, type FrequencyConfig } from './domain/frequency-env.js';
import { historyFromEnv, retentionsFromEnv, type HistoryConfig } from './history/env.js';
import { accountLimitsFromEnv } from './pacing/env.js';
import type { AccountLimitsEnv } from './pacing/account-limits.js';
import type { RedisTarget } from './infra/redis.js';

export interface SipcallConfig {
  apiUrl: string;
  token: string;
  /** Zone of the provider's wall-clock CDR times. */
  timezone: string;
  bodyEncoding: 'multipart' | 'urlencoded';
  connectTimeoutMs: number;
  responseTimeoutMs: number;
}

export interface PbxConfig {
  baseUrl: string;
  apiKey: string;
  username: string;
  password: string;
  /** Zone of the PBX's `calldate`. */
  timezone: string;
  /** Field of the PBX CDR that carries the originated call id. */
  callIdField: string;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
}

export interface Config {
  /** REDIS_URL (its default when unset; not used under Sentinel). */
  redisUrl: string;
  /** Where Redis is: REDIS_URL, the primary that Sentinel names (REDIS_SENTINELS, REDIS_SENTINEL_NAME), or a Redis Cluster (REDIS_CLUSTER_NODES). */
  redis: RedisTarget;
  /**
   * How many replicas must hold an attempt's begin before its request leaves
   * (AUTODIALER_REPLICA_ACKS: default 1 under Sentinel, else 0: no wait), and
   * how long a begin waits for them (AUTODIALER_REPLICA_ACKS_TIMEOUT_MS). A
   * begin not acknowledged in time is in doubt and never dialed.
   */
  replicaAcks: ReplicaAcksConfig;
  /**
   * The base of every key (AUTODIALER_PREFIX). On a Redis Cluster it is the
   * hash tag `{AUTODIALER_PREFIX}`: all of a deployment's keys share one slot.
   */
  prefix: string;
  httpPort: number;
  httpHost: string;
  publicUrl: string | null;
  callbackSecret: string | null;
  /** `none`: callbacks are taken without a key when no secret is set (otherwise they are refused). */
  callbackAuth: 'key' | 'none';
  /**
   * Bearer tokens accepted by every route but callbacks and health (several during a rotation).
   * Empty: the server makes one at its first start and keeps it in Redis.
   */
  apiTokens: string[];
  /** Largest contact list an upload may carry, in bytes. */
  uploadMaxBytes: number;
  /** Trust X-Forwarded-For for the caller's address (only behind your own proxy). */
  trustProxy: boolean;
  /** Optional IP allow-lists for callbacks, per provider family (empty: any address). */
  callbackAllowIps: Record<ProviderFamily, string[]>;
  defaultRegion: string | null;
  logLevel: string;
  workerConcurrency: number;
  /** Extra spacing per second of pacing (ms): absorbs jitter between send and arrival on a loaded host. */
  pacingMarginMs: number;
  /**
   * Where stored callbacks are interpreted: 'server' (the process that
   * received them, off the request path) or 'worker' (worker and correlator
   * processes claim them from the log; the server only stores and answers).
   */
  correlateIn: 'server' | 'worker';
  shutdownGraceMs: number;
  /**
   * Nice value an `autodialer correlator` process gives itself (0–19; 0 keeps
   * the normal priority): on a shared host, HTTP answers and Redis come first
   * and interpretation takes the CPU they leave.
   */
  correlatorNice: number;
  providers: { sipcall: SipcallConfig | null; pbx: PbxConfig | null };
  /** Why a provider is unavailable: the variables that are missing. */
  missing: Record<ProviderFamily, string[]>;
  /** Overrides of the outcome tables (merged over the defaults). */
  outcomeTables: { sipcall: SipcallOutcomeTable | null; pbx: PbxDispositionTable | null };
  /** How long stored callbacks are kept (ms; null: for ever). Pending ones are kept until settled. */
  callbackRetentionMs: number | null;
  /**
   * Without a history store: how long a finished campaign (its contacts,
   * attempts and counters) stays in Redis before it is deleted
   * (AUTODIALER_HISTORY_RETENTION, default 30d; null: until deleted).
   */
  historyRetentionMs: number | null;
  /** Outbound notification options set by AUTODIALER_NOTIFY_* and AUTODIALER_WEBHOOK_PRIVATE_ADDRESSES (checked; unset ones keep their defaults). */
  notifier: NotifierOptionsInput;
  /** The folder of definition files that scheduled campaigns are synced from (AUTODIALER_JOBS_DIR, default jobs/). */
  jobsDir: string;
  /**
   * The history store: PostgreSQL at DATABASE_URL (null: none, Redis alone
   * holds everything), and how long a finished campaign's contacts and
   * attempts stay in Redis once archived (AUTODIALER_REDIS_KEEP, default 1h).
   */
  history: HistoryConfig;
  /**
   * Frequency caps of every campaign (AUTODIALER_FREQUENCY_CAP, none by
   * default), and how long each number's attempts are kept to count them
   * (AUTODIALER_FREQUENCY_HISTORY: default the longest cap period, at least 1d;
   * 0 keeps none, and then no cap may be set).
   */
  frequency: FrequencyConfig;
  /**
   * Provider account limits set in the environment (SIPCALL_MAX_CPS, SIPCALL_MAX_CHANNELS,
   * PBX_MAX_CPS, PBX_MAX_CHANNELS; 0 = no limit; null: not set, the built-in default applies).
   * Dialing roles put them in force at start-up, except limits an operator set (account pace).
   */
  accountLimits: Record<ProviderFamily, AccountLimitsEnv>;
}

export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

const SIPCALL_VARS = ['SIPCALL_API_URL', 'SIPCALL_TOKEN'] as const;
const PBX_VARS = ['PBX_BASE_URL', 'PBX_API_KEY', 'PBX_USERNAME', 'PBX_PASSWORD'] as const;

function zoneOk(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/** Reads `KEY=VALUE` lines; the real environment wins over the file. */
export function readDotEnv(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const out: Record<string, string> = {};
  for (const raw of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1);
    }
    out[line.slice(0, eq).trim()] = value;
  }
  return out;
}

const url = (name: string) =>
  z.string().refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, `${name} must be an http(s) URL, for example http://127.0.0.1:8090`);

function ipList(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** A table given inline (JSON) or as the path of a JSON file. */
function readTable<T>(problems: string[], name: string, value: string | undefined, parse: (raw: unknown, source: string) => T): T | null {
  if (value === undefined) return null;
  let text = value;
  let source = name;
  if (!value.trimStart().startsWith('{')) {
    if (!existsSync(value)) {
      problems.push(`${name}: no file ${value} (give inline JSON or the path of a JSON file)`);
      return null;
    }
    text = readFileSync(value, 'utf8');
    source = `${name} (${value})`;
  }
  try {
    return parse(JSON.parse(text) as unknown, source);
  } catch (err) {
    problems.push(`${name}: ${(err as Error).message}`);
    return null;
  }
}

/**
 * Parses the environment into a resolved Config, or throws a ConfigError
 * listing every problem at once.
 */
export function loadConfig(env: Env = process.env, dotEnvPath: string | null = '.env'): Config {
  const merged: Record<string, string | undefined> = { ...(dotEnvPath ? readDotEnv(dotEnvPath) : {}), ...env };
  const problems: string[] = [];
  const get = (k: string): string | undefined => {
    const v = merged[k];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };

  const { redisUrl, redis, replicaAcks } = redisFromEnv(get, problems);
  const basePrefix = pick(
    problems,
    'AUTODIALER_PREFIX',
    z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'AUTODIALER_PREFIX may hold letters, digits, _ . - (1 to 64)'),
    get('AUTODIALER_PREFIX'),
    'autodialer',
  );
  // On a Cluster every key of the deployment carries one hash tag: its scripts stay in one slot.
  const prefix = redis.kind === 'cluster' ? `{${basePrefix}}` : basePrefix;
  const httpPort = pick(problems, 'AUTODIALER_HTTP_PORT', intIn('AUTODIALER_HTTP_PORT', 0, 65535), get('AUTODIALER_HTTP_PORT'), 8080);
  const httpHost = get('AUTODIALER_HTTP_HOST') ?? '0.0.0.0';
  const publicUrl = pick(problems, 'AUTODIALER_PUBLIC_URL', url('AUTODIALER_PUBLIC_URL'), get('AUTODIALER_PUBLIC_URL')) ?? null;
  const callbackSecret =
    pick(
      problems,
      'AUTODIALER_CALLBACK_SECRET',
      z.string().min(16, 'AUTODIALER_CALLBACK_SECRET must be at least 16 characters'),
      get('AUTODIALER_CALLBACK_SECRET'),
    ) ?? null;
  const callbackAuth =
    pick(problems, 'AUTODIALER_CALLBACK_AUTH', z.enum(['key', 'none'], { message: "AUTODIALER_CALLBACK_AUTH must be 'key' or 'none'" }), get('AUTODIALER_CALLBACK_AUTH')) ?? 'key';
  if (callbackAuth === 'none' && callbackSecret !== null) {
    problems.push('AUTODIALER_CALLBACK_AUTH: none takes callbacks without a key, but AUTODIALER_CALLBACK_SECRET is set: remove one of them');
  }
  // Comma-separated: the new token and the old one during a rotation.
  const apiTokens = ipList(get('AUTODIALER_API_TOKEN'));
  for (const [i, t] of apiTokens.entries()) {
    if (t.length < 16) problems.push(`AUTODIALER_API_TOKEN: token ${i + 1} must be at least 16 characters, got ${t.length}`);
  }
  const uploadMaxBytes = 2 ** 20 * pick(problems, 'AUTODIALER_UPLOAD_MAX_MB', intIn('AUTODIALER_UPLOAD_MAX_MB', 1, 65_536), get('AUTODIALER_UPLOAD_MAX_MB'), 512);
  const trustProxy = pick(
    problems,
    'AUTODIALER_TRUST_PROXY',
    z.enum(['true', 'false', '1', '0'], { message: 'AUTODIALER_TRUST_PROXY must be true or false' }).transform((v) => v === 'true' || v === '1'),
    get('AUTODIALER_TRUST_PROXY'),
    false,
  );
  const defaultRegion =
    pick(
      problems,
      'AUTODIALER_DEFAULT_REGION',
      z.string().regex(/^[A-Z]{2}$/, 'AUTODIALER_DEFAULT_REGION must be a two-letter region code such as CN or IR'),
      get('AUTODIALER_DEFAULT_REGION')?.toUpperCase(),
    ) ?? null;
  const workerConcurrency = pick(problems, 'AUTODIALER_WORKER_CONCURRENCY', intIn('AUTODIALER_WORKER_CONCURRENCY', 1, 1000), get('AUTODIALER_WORKER_CONCURRENCY'), 50);
  const pacingMarginMs = pick(problems, 'AUTODIALER_PACING_MARGIN_MS', intIn('AUTODIALER_PACING_MARGIN_MS', 0, 200), get('AUTODIALER_PACING_MARGIN_MS'), 5);
  const correlateIn =
    pick(problems, 'AUTODIALER_CORRELATE_IN', z.enum(['server', 'worker'], { message: "AUTODIALER_CORRELATE_IN must be 'server' or 'worker'" }), get('AUTODIALER_CORRELATE_IN')) ?? 'server';
  const shutdownGraceMs = pick(problems, 'AUTODIALER_SHUTDOWN_GRACE_MS', intIn('AUTODIALER_SHUTDOWN_GRACE_MS', 0, 600_000), get('AUTODIALER_SHUTDOWN_GRACE_MS'), 10_000);
  const correlatorNice = pick(problems, 'AUTODIALER_CORRELATOR_NICE', intIn('AUTODIALER_CORRELATOR_NICE', 0, 19), get('AUTODIALER_CORRELATOR_NICE'), 10);
  const zone = (name: string) => z.string().refine(zoneOk, `${name} must be an IANA time zone such as Asia/Shanghai`);

  const missing: Record<ProviderFamily, string[]> = {
    sipcall: SIPCALL_VARS.filter((k) => get(k) === undefined),
    pbx: PBX_VARS.filter((k) => get(k) === undefined),
  };

  let sipcall: SipcallConfig | null = null;
  if (missing.sipcall.length === 0) {
    const token = get('SIPCALL_TOKEN') ?? '';
    if (token.length !== 32) problems.push(`SIPCALL_TOKEN: sipcall token must be 32 characters, got ${token.length}`);
    sipcall = {
      apiUrl: pick(problems, 'SIPCALL_API_URL', url('SIPCALL_API_URL'), get('SIPCALL_API_URL'), ''),
      token,
      timezone: pick(problems, 'SIPCALL_TIMEZONE', zone('SIPCALL_TIMEZONE'), get('SIPCALL_TIMEZONE'), 'Asia/Shanghai'),
      bodyEncoding: pick(
        problems,
        'SIPCALL_BODY_ENCODING',
        z.enum(['multipart', 'urlencoded'], { message: 'SIPCALL_BODY_ENCODING must be multipart or urlencoded' }),
        get('SIPCALL_BODY_ENCODING'),
        'multipart',
      ),
      connectTimeoutMs: pick(problems, 'SIPCALL_CONNECT_TIMEOUT_MS', intIn('SIPCALL_CONNECT_TIMEOUT_MS', 1, 120_000), get('SIPCALL_CONNECT_TIMEOUT_MS'), 3_000),
      responseTimeoutMs: pick(problems, 'SIPCALL_RESPONSE_TIMEOUT_MS', intIn('SIPCALL_RESPONSE_TIMEOUT_MS', 1, 300_000), get('SIPCALL_RESPONSE_TIMEOUT_MS'), 10_000),
    };
  }
  let pbx: PbxConfig | null = null;
  if (missing.pbx.length === 0) {
    pbx = {
      baseUrl: pick(problems, 'PBX_BASE_URL', url('PBX_BASE_URL'), get('PBX_BASE_URL'), ''),
      apiKey: get('PBX_API_KEY') ?? '',
      username: get('PBX_USERNAME') ?? '',
      password: get('PBX_PASSWORD') ?? '',
      timezone: pick(problems, 'PBX_TIMEZONE', zone('PBX_TIMEZONE'), get('PBX_TIMEZONE'), 'Asia/Tehran'),
      callIdField: pick(
        problems,
        'PBX_CDR_CALL_ID_FIELD',
        z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'PBX_CDR_CALL_ID_FIELD must be a field name'),
        get('PBX_CDR_CALL_ID_FIELD'),
        'originated_call_id',
      ),
      connectTimeoutMs: pick(problems, 'PBX_CONNECT_TIMEOUT_MS', intIn('PBX_CONNECT_TIMEOUT_MS', 1, 120_000), get('PBX_CONNECT_TIMEOUT_MS'), 3_000),
      responseTimeoutMs: pick(problems, 'PBX_RESPONSE_TIMEOUT_MS', intIn('PBX_RESPONSE_TIMEOUT_MS', 1, 300_000), get('PBX_RESPONSE_TIMEOUT_MS'), 10_000),
    };
  }

  const outcomeTables = {
    sipcall: readTable(problems, 'SIPCALL_OUTCOME_TABLE', get('SIPCALL_OUTCOME_TABLE'), parseSipcallOutcomeTable),
    pbx: readTable(problems, 'PBX_DISPOSITION_TABLE', get('PBX_DISPOSITION_TABLE'), parsePbxDispositionTable),
  };

  const accountLimits = accountLimitsFromEnv(get, problems);

  const notifier = notifierOptionsFromEnv(get, problems);
  const { callbackRetentionMs, historyRetentionMs } = retentionsFromEnv(get, problems);

  const frequency = frequencyFromEnv(get, problems);
  const history = historyFromEnv(get, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    redisUrl,
    redis,
    replicaAcks,
    prefix,
    httpPort,
    httpHost,
    publicUrl,
    callbackSecret,
    callbackAuth,
    apiTokens,
    uploadMaxBytes,
    trustProxy,
    callbackAllowIps: { sipcall: ipList(get('SIPCALL_CALLBACK_ALLOW_IPS')), pbx: ipList(get('PBX_CALLBACK_ALLOW_IPS')) },
    defaultRegion,
    logLevel: get('LOG_LEVEL') ?? 'info',
    workerConcurrency,
    pacingMarginMs,
    correlateIn,
    shutdownGraceMs,
    correlatorNice,
    providers: { sipcall, pbx },
    missing,
    outcomeTables,
    callbackRetentionMs,
    historyRetentionMs,
    accountLimits,
    notifier,
    jobsDir: get('AUTODIALER_JOBS_DIR') ?? 'jobs',
    history,
    frequency,
  };
}

/** A message naming the missing variables, or null when the provider is configured. */
export function providerUnavailable(config: Pick<Config, 'providers' | 'missing'>, family: ProviderFamily): string | null {
  if (config.providers[family]) return null;
  return `provider ${family} is not configured: set ${config.missing[family].join(', ')}`;
}
