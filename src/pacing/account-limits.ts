/**
 * Where a provider account's limits come from. Three sources, in this order:
 *
 * 1. an operator's `autodialer account pace` (kept until `--reset`);
 * 2. the environment of the dialing processes (SIPCALL_MAX_CPS, …), applied
 *    by every `start`, `worker` and `server` when it starts;
 * 3. the built-in default: DEFAULT_ACCOUNT_CPS calls per second, no channel cap.
 *
 * The limits in force stay in the pacer's hash (read on every acquire); a
 * small hash beside it records, per limit, which source wrote it, and the
 * environment the last dialing process started with (so that `--reset` goes
 * back to it from any machine).
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { accountKeys } from './keys.js';
import type { PaceLimits, Pacer } from './types.js';
import type { ProviderFamily } from '../domain/types.js';

/** Calls per second of an account whose rate nobody configured. */
export const DEFAULT_ACCOUNT_CPS = 10;
/** Channels of an account whose channel cap nobody configured (0: no limit). */
export const DEFAULT_ACCOUNT_CHANNELS = 0;

/** The variables that set each provider account's limits. */
export const ACCOUNT_LIMIT_VARS: Record<ProviderFamily, { cps: string; maxConcurrent: string }> = {
  sipcall: { cps: 'SIPCALL_MAX_CPS', maxConcurrent: 'SIPCALL_MAX_CHANNELS' },
  pbx: { cps: 'PBX_MAX_CPS', maxConcurrent: 'PBX_MAX_CHANNELS' },
};

export type LimitOrigin = 'operator' | 'env' | 'default';

/** An account's limits as the environment gives them; null: the variable is not set. */
export interface AccountLimitsEnv {
  /** Calls per second (0: no limit). */
  cps: number | null;
  /** Channels at once (0: no limit). */
  maxConcurrent: number | null;
}

/** An account's limits (0 = no limit), each with the source that set it. */
export interface AccountPace extends PaceLimits {
  cpsFrom: LimitOrigin;
  maxConcurrentFrom: LimitOrigin;
}

const FIELDS = ['cps', 'maxConcurrent'] as const;
type Field = (typeof FIELDS)[number];

/** What the environment says, the built-in default where it is silent. */
export function paceFromEnv(env: AccountLimitsEnv): AccountPace {
  return {
    cps: env.cps ?? DEFAULT_ACCOUNT_CPS,
    cpsFrom: env.cps === null ? 'default' : 'env',
    maxConcurrent: env.maxConcurrent ?? DEFAULT_ACCOUNT_CHANNELS,
    maxConcurrentFrom: env.maxConcurrent === null ? 'default' : 'env',
  };
}

/** What Redis holds for one limit: its value in force (undefined: never set) and the source recorded for it. */
export interface StoredLimit {
  value: number | undefined;
  origin: LimitOrigin | undefined;
}

/**
 * The limits a dialing process puts in force when it starts: an operator's
 * are kept, the others follow its environment. A limit in force with no
 * recorded source was set before sources were recorded (only `account pace`
 * wrote account limits then): it is kept as an operator's.
 */
export function startupPace(stored: Record<Field, StoredLimit>, env: AccountLimitsEnv): AccountPace {
  const fromEnv = paceFromEnv(env);
  const operator = (f: Field): boolean => stored[f].origin === 'operator' || (stored[f].origin === undefined && stored[f].value !== undefined);
  return {
    cps: operator('cps') ? (stored.cps.value ?? 0) : fromEnv.cps,
    cpsFrom: operator('cps') ? 'operator' : fromEnv.cpsFrom,
    maxConcurrent: operator('maxConcurrent') ? (stored.maxConcurrent.value ?? 0) : fromEnv.maxConcurrent,
    maxConcurrentFrom: operator('maxConcurrent') ? 'operator' : fromEnv.maxConcurrentFrom,
  };
}

/** Redis key of an account's limit sources. */
export function accountOriginKey(prefix: string, account: string): string {
  return `${prefix}:pace:acct:${account}:origin`;
}

const originSchema = z.enum(['operator', 'env', 'default']);
const envSchema = z.object({ cps: z.number().min(0).nullable(), maxConcurrent: z.number().int().min(0).nullable() }).strict();

function parseEnv(text: string | undefined): AccountLimitsEnv | null {
  if (text === undefined) return null;
  try {
    const r = envSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

export interface AccountLimitStore {
  /** At a dialing process's start: put its environment's limits in force, except those an operator set. */
  applyEnvironment(account: string, env: AccountLimitsEnv): Promise<AccountPace>;
  /**
   * `account pace --cps/--max-concurrent`: the operator's limits, kept until
   * reset; a limit not given keeps its value and source.
   */
  setByOperator(account: string, limits: Partial<PaceLimits>, fallback: AccountLimitsEnv): Promise<AccountPace>;
  /**
   * `account pace --reset`: back to the environment the last dialing process
   * started with (`fallback`, this process's, when none has started yet).
   */
  reset(account: string, fallback: AccountLimitsEnv): Promise<AccountPace>;
  /**
   * The limits in force and their sources. An account with nothing in force
   * yet is shown with what the next dialing process would put in force
   * (`fallback`: this process's environment, when none has started yet).
   */
  current(account: string, fallback: AccountLimitsEnv): Promise<AccountPace>;
}

export function makeAccountLimitStore(deps: { redis: Redis; prefix: string; pacer: Pacer }): AccountLimitStore {
  const { redis, prefix, pacer } = deps;
  const originKey = (account: string) => accountOriginKey(prefix, account);

  async function read(account: string): Promise<{ stored: Record<Field, StoredLimit>; env: AccountLimitsEnv | null }> {
    const [limits, origins, inForce] = await Promise.all([
      redis.hgetall(accountKeys(prefix, account).limits),
      redis.hgetall(originKey(account)),
      // The values are read through the pacer (it checks them); the hash only tells which are set.
      pacer.getAccountLimits(account),
    ]);
    const stored = {} as Record<Field, StoredLimit>;
    for (const f of FIELDS) {
      const origin = originSchema.safeParse(origins[f]);
      stored[f] = { value: limits[f] === undefined ? undefined : inForce[f], origin: origin.success ? origin.data : undefined };
    }
    return { stored, env: parseEnv(origins.env) };
  }

  async function current(account: string, fallback: AccountLimitsEnv): Promise<AccountPace> {
    const { stored, env } = await read(account);
    if (stored.cps.value === undefined && stored.maxConcurrent.value === undefined) return paceFromEnv(env ?? fallback);
    const origin = (f: Field): LimitOrigin => stored[f].origin ?? 'operator';
    return { cps: stored.cps.value ?? 0, cpsFrom: origin('cps'), maxConcurrent: stored.maxConcurrent.value ?? 0, maxConcurrentFrom: origin('maxConcurrent') };
  }

  async function write(account: string, pace: AccountPace, env?: AccountLimitsEnv): Promise<AccountPace> {
    await pacer.setAccountLimits(account, { cps: pace.cps, maxConcurrent: pace.maxConcurrent });
    const fields: string[] = ['cps', pace.cpsFrom, 'maxConcurrent', pace.maxConcurrentFrom];
    if (env) fields.push('env', JSON.stringify(env));
    await redis.hset(originKey(account), ...fields);
    return pace;
  }

  return {
    async applyEnvironment(account, env) {
      const { stored } = await read(account);
      return write(account, startupPace(stored, env), env);
    },

    async setByOperator(account, limits, fallback) {
      const base = await current(account, fallback);
      return write(account, {
        cps: limits.cps ?? base.cps,
        cpsFrom: limits.cps !== undefined ? 'operator' : base.cpsFrom,
        maxConcurrent: limits.maxConcurrent ?? base.maxConcurrent,
        maxConcurrentFrom: limits.maxConcurrent !== undefined ? 'operator' : base.maxConcurrentFrom,
      });
    },

    async reset(account, fallback) {
      const { env } = await read(account);
      return write(account, paceFromEnv(env ?? fallback));
    },

    current,
  };
}
