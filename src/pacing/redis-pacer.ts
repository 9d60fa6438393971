/**
 * The pacer on Redis: one Lua script per decision, Redis `TIME` as the one
 * clock of every worker process (docs/pacing.md explains the algorithm).
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { PacingError } from './errors.js';
import { accountKeys, campaignKeys } from './keys.js';
import {
  parseLimits,
  parseStoredLimits,
  parseTuning,
  requireEpochMs,
  requireFlightMs,
  requireIds,
  requireMarginMs,
  requireRetryAfter,
  type PacerTuningInput,
} from './options.js';
import { keyTable, luaScript, runScript } from '../infra/lua.js';
import { makeTurnBatcher } from '../infra/turn-batch.js';
import { ACQUIRE_LUA, ACQUIRE_MANY_LUA, RELEASE_LUA, EXTEND_LUA, IN_FLIGHT_LUA } from './scripts.js';
import { EFFECTIVE_RATE_LUA, PENALIZE_LUA } from './backoff-scripts.js';
import { ADMIT_LUA, LANDED_LUA, WITHDRAW_LUA } from './admission-scripts.js';
import type { AcquireBlock, AcquireRequest, AcquireResult, PaceLimits, Pacer } from './types.js';

/** Epoch milliseconds; replaces Redis `TIME` when given (tests, simulations). */
export interface PacerClock {
  now(): number;
}

export interface RedisPacerOptions extends PacerTuningInput {
  redis: Redis;
  /** Keys live under `${prefix}:pace:`. */
  prefix: string;
  /** Leave unset in production: every process then shares Redis `TIME`. */
  clock?: PacerClock;
}

export type PacedAcquireResult =
  /** `atMs`: the reserved slot on the pacer's clock (Redis time), epoch ms. */
  /** `rated`: a cps limit applies (the send-time admission is then worth asking). */
  | { ok: true; waitMs: number; atMs: number; rated: boolean }
  | Extract<AcquireResult, { ok: false }>;

export interface EffectiveRate {
  /** As set with setAccountLimits (0 = no limit). */
  configuredCps: number;
  /**
   * What acquire and the send-time admission use now (0 = no limit): the
   * configured cps, or less while backing off after a 429 (on an account with
   * no configured cps, the back-off's own rate).
   */
  effectiveCps: number;
  /** How long the account is still blocked by a Retry-After (0 = not blocked). */
  blockedForMs: number;
  /**
   * A 429 back-off holds the account now: it is blocked, or its rate is under
   * its configured cps, or (no cps configured) a ceiling learned from a 429 is
   * still remembered.
   */
  backingOff: boolean;
  /** The rate at which the last 429 came, remembered as the account's ceiling (0 = none known). */
  ceilingCps: number;
  /** The rate it recovers to quickly after a cut, just under the ceiling (0 = none known); it creeps up from there, slowly at first. */
  settledCps: number;
}

/**
 * An acquire that may ask for its own safety margin (the slot is then spaced
 * (1000 + safetyMarginMs) / cps ms from the last one; default: the pacer's)
 * and for a lead: no slot sooner than `leadMs` from now, so that the work the
 * caller does between the grant and the send never makes the send late.
 */
export type PacedAcquireRequest = AcquireRequest & { safetyMarginMs?: number; leadMs?: number };

export interface RedisPacer extends Pacer {
  acquire(req: PacedAcquireRequest): Promise<PacedAcquireResult>;
  penalize(account: string, retryAfterMs: number | null): Promise<void>;
  effectiveRate(account: string): Promise<EffectiveRate>;
  /** Campaigns waiting on an account now (asked within the active window), each with its own cps as last seen (0 = none). */
  accountCampaigns(account: string): Promise<AccountCampaign[]>;
}

export interface AccountCampaign {
  campaignId: string;
  cps: number;
}

const ACQUIRE = luaScript(ACQUIRE_LUA, 12);
const ACQUIRE_MANY = luaScript(ACQUIRE_MANY_LUA, null);
/** Acquires asked in one turn of the event loop go as one script call of at most this many. */
const ACQUIRE_BATCH = 32;
const PENALIZE = luaScript(PENALIZE_LUA, 3);
const EFFECTIVE_RATE = luaScript(EFFECTIVE_RATE_LUA, 2);
const IN_FLIGHT = luaScript(IN_FLIGHT_LUA, 2);
const EXTEND = luaScript(EXTEND_LUA, 2);
const ADMIT = luaScript(ADMIT_LUA, 5);
const LANDED = luaScript(LANDED_LUA, 2);
const WITHDRAW = luaScript(WITHDRAW_LUA, 2);
const RELEASE = luaScript(RELEASE_LUA, 2);

const BLOCKS = ['campaign_rate', 'account_rate', 'campaign_channels', 'account_channels', 'backoff'] as const satisfies readonly AcquireBlock[];

const BLOCK_SET: ReadonlySet<string> = new Set(BLOCKS);

function unexpected(what: string, reply: unknown): never {
  throw new PacingError('ERR_PACE_REPLY', `unexpected reply from the ${what} script: ${JSON.stringify(reply)}`);
}

const isWhole = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

/**
 * The acquire script's reply, checked by hand (it runs before every dial):
 * {1, waitMs ≥ 0, atMs, rated 0|1} or {0, retryInMs ≥ 1, block reason}.
 */
function decodeAcquireReply(reply: unknown): PacedAcquireResult {
  if (Array.isArray(reply)) {
    const [ok, a, b, c] = reply as unknown[];
    if (ok === 1 && reply.length === 4 && isWhole(a, 0) && isWhole(b, Number.MIN_SAFE_INTEGER) && (c === 0 || c === 1)) {
      return { ok: true, waitMs: a, atMs: b, rated: c === 1 };
    }
    if (ok === 0 && reply.length === 3 && isWhole(a, 1) && typeof b === 'string' && BLOCK_SET.has(b)) {
      return { ok: false, retryInMs: a, reason: b as AcquireBlock };
    }
  }
  return unexpected('acquire', reply);
}
const decimal = z.string().regex(/^-?[\d.]+(e[+-]?\d+)?$/i).transform(Number);
const effectiveReply = z.tuple([decimal, decimal, z.number().int().min(0), z.union([z.literal(0), z.literal(1)]), decimal, decimal]);
const inFlightReply = z.tuple([z.number().int().min(0), z.number().int().min(0)]);
const accountCampaignsReply = z.tuple([z.tuple([z.coerce.number(), z.coerce.number()]), z.array(z.string()), z.record(z.string(), z.string())]);

function parseReply<T>(schema: z.ZodType<T>, reply: unknown, what: string): T {
  const r = schema.safeParse(reply);
  if (!r.success) {
    throw new PacingError('ERR_PACE_REPLY', `unexpected reply from the ${what} script: ${JSON.stringify(reply)}`, { cause: r.error });
  }
  return r.data;
}

export function createRedisPacer(options: RedisPacerOptions): RedisPacer {
  const { redis, prefix, clock, ...tuningInput } = options;
  if (typeof prefix !== 'string' || prefix === '') {
    throw new PacingError('ERR_PACE_INPUT', 'prefix must be a non-empty string (the Redis key prefix)');
  }
  const tuning = parseTuning(tuningInput);
  const bo = tuning.backoff;
  /** '' tells a script to read Redis TIME. */
  const nowArg = (): string => (clock ? String(Math.floor(clock.now() * 1000)) : '');
  const acct = (account: string) => accountKeys(prefix, account);
  const camp = (campaignId: string) => campaignKeys(prefix, campaignId);

  /**
   * Acquires asked in the same turn of the event loop (many jobs in hand wake
   * together) run as one script call, one after the other, as if sent apart.
   */
  const acquireBatched = makeTurnBatcher<{ keys: string[]; args: (string | number)[] }, unknown>({
    max: ACQUIRE_BATCH,
    async run(batch) {
      if (batch.length === 1) return [await runScript(redis, ACQUIRE, batch[0]!.keys, batch[0]!.args)];
      const table = keyTable();
      const args: (string | number)[] = [];
      for (const b of batch) {
        for (const key of b.keys) args.push(table.place(key));
        args.push(...b.args);
      }
      const replies = await runScript(redis, ACQUIRE_MANY, table.keys, args);
      if (!Array.isArray(replies) || replies.length !== batch.length) unexpected('acquire', replies);
      return replies.map((r: unknown) => (typeof r === 'string' && r.startsWith('error: ') ? new PacingError('ERR_PACE_REPLY', `the acquire script failed: ${r.slice(7)}`) : r));
    },
  });

  async function exec(multi: ReturnType<Redis['multi']>): Promise<void> {
    const res = await multi.exec();
    if (res === null) throw new PacingError('ERR_PACE_REPLY', 'Redis transaction was aborted');
    const failed = res.find(([err]) => err !== null);
    if (failed?.[0]) throw failed[0];
  }

  async function readLimits(key: string): Promise<PaceLimits> {
    return parseStoredLimits(await redis.hgetall(key), key);
  }

  async function writeLimits(key: string, input: PaceLimits, what: string): Promise<void> {
    const limits = parseLimits(input, what);
    await redis.hset(key, 'cps', String(limits.cps), 'maxConcurrent', String(limits.maxConcurrent));
  }

  return {
    async acquire(req) {
      requireIds({ account: req.account, campaignId: req.campaignId, attemptId: req.attemptId });
      const holdUntilMs = requireEpochMs('holdUntilMs', req.holdUntilMs);
      const marginMs = req.safetyMarginMs === undefined ? tuning.safetyMarginMs : requireMarginMs('safetyMarginMs', req.safetyMarginMs);
      const leadMs = req.leadMs === undefined ? 0 : requireMarginMs('leadMs', req.leadMs);
      const a = acct(req.account);
      const c = camp(req.campaignId);
      return decodeAcquireReply(
        await acquireBatched({
          keys: [c.limits, a.limits, c.last, a.last, c.holds, a.holds, a.backoff, a.active, a.campaignCps, a.shareLast, c.accounts, a.sent],
          args: [
            req.account,
            req.campaignId,
            req.attemptId,
            holdUntilMs,
            nowArg(),
            tuning.horizonMs,
            tuning.activeWindowMs,
            tuning.channelRetryMs,
            tuning.admitGranularityMs,
            marginMs,
            leadMs,
          ],
        }),
      );
    },

    async admit(account, campaignId, attemptId, flightMs) {
      requireIds({ account, campaignId, attemptId });
      const flight = flightMs === undefined ? tuning.flightMs : requireFlightMs(flightMs);
      const a = acct(account);
      const c = camp(campaignId);
      const reply = await runScript(redis, ADMIT, [c.limits, a.limits, c.sent, a.sent, a.backoff], [attemptId, nowArg(), flight, tuning.admitGranularityMs]);
      if (Array.isArray(reply) && reply.length === 2 && isWhole(reply[1], 0)) {
        if (reply[0] === 1) return { ok: true };
        if (reply[0] === 0) return { ok: false, retryInMs: reply[1] };
      }
      return unexpected('admit', reply);
    },

    async landed(account, campaignId, attemptId) {
      requireIds({ account, campaignId, attemptId });
      const reply = await runScript(redis, LANDED, [camp(campaignId).sent, acct(account).sent], [attemptId, nowArg()]);
      if (!isWhole(reply, 0) || reply > 2) unexpected('landed', reply);
    },

    async withdraw(account, campaignId, attemptId) {
      requireIds({ account, campaignId, attemptId });
      const reply = await runScript(redis, WITHDRAW, [camp(campaignId).sent, acct(account).sent], [attemptId]);
      if (!isWhole(reply, 0) || reply > 2) unexpected('withdraw', reply);
    },

    async extend(account, campaignId, attemptId, holdUntilMs) {
      requireIds({ account, campaignId, attemptId });
      const until = requireEpochMs('holdUntilMs', holdUntilMs);
      await runScript(redis, EXTEND, [acct(account).holds, camp(campaignId).holds], [attemptId, until, nowArg()]);
    },

    async release(account, campaignId, attemptId) {
      requireIds({ account, campaignId, attemptId });
      // One script rather than MULTI/ZREM/ZREM/EXEC: a quarter of the commands on a hot path.
      await runScript(redis, RELEASE, [camp(campaignId).holds, acct(account).holds], [attemptId]);
    },

    async penalize(account, retryAfterMs) {
      requireIds({ account });
      const retry = requireRetryAfter(retryAfterMs);
      const a = acct(account);
      await runScript(
        redis,
        PENALIZE,
        [a.limits, a.backoff, a.sent],
        [
          nowArg(),
          retry === null ? '' : retry,
          bo.factor,
          bo.minCps,
          bo.recoverPerSecond,
          bo.settle,
          bo.creepPerSecond,
          bo.cooldownMs,
          bo.defaultBlockMs,
          bo.memoryMs,
          1000 + tuning.admitGranularityMs,
          bo.sporadicShare,
          bo.sporadicPasses,
          bo.creepRampMs,
          bo.provenMs,
        ],
      );
    },

    async effectiveRate(account) {
      requireIds({ account });
      const a = acct(account);
      const reply = await runScript(redis, EFFECTIVE_RATE, [a.limits, a.backoff], [nowArg()]);
      const [configuredCps, effectiveCps, blockedForMs, held, ceilingCps, settledCps] = parseReply(effectiveReply, reply, 'effective rate');
      return { configuredCps, effectiveCps, blockedForMs, backingOff: held === 1, ceilingCps, settledCps };
    },

    async accountCampaigns(account) {
      requireIds({ account });
      const a = acct(account);
      const res = await redis.pipeline().time().zrange(a.active, 0, -1, 'WITHSCORES').hgetall(a.campaignCps).exec();
      const [time, active, cps] = parseReply(accountCampaignsReply, (res ?? []).map(([err, v]) => (err ? null : v)), 'account campaigns');
      const nowMs = clock ? clock.now() : time[0] * 1000 + Math.floor(time[1] / 1000);
      const out: AccountCampaign[] = [];
      for (let i = 0; i + 1 < active.length; i += 2) {
        if (Number(active[i + 1]) < nowMs - tuning.activeWindowMs) continue;
        const id = active[i]!;
        const own = Number(cps[id] ?? 0);
        out.push({ campaignId: id, cps: Number.isFinite(own) && own > 0 ? own : 0 });
      }
      return out;
    },

    async setAccountLimits(account, limits) {
      requireIds({ account });
      await writeLimits(acct(account).limits, limits, `account ${account}`);
    },

    async getAccountLimits(account) {
      requireIds({ account });
      return readLimits(acct(account).limits);
    },

    async setCampaignLimits(campaignId, limits) {
      requireIds({ campaignId });
      await writeLimits(camp(campaignId).limits, limits, `campaign ${campaignId}`);
    },

    async getCampaignLimits(campaignId) {
      requireIds({ campaignId });
      return readLimits(camp(campaignId).limits);
    },

    async inFlight(account, campaignId) {
      requireIds({ account, campaignId });
      const reply = await runScript(redis, IN_FLIGHT, [acct(account).holds, camp(campaignId).holds], [nowArg()]);
      const [accountHeld, campaignHeld] = parseReply(inFlightReply, reply, 'in-flight');
      return { account: accountHeld, campaign: campaignHeld };
    },

    async forgetCampaign(campaignId) {
      requireIds({ campaignId });
      const c = camp(campaignId);
      const accounts = await redis.smembers(c.accounts);
      const multi = redis.multi();
      for (const account of accounts) {
        const a = acct(account);
        multi.zrem(a.active, campaignId).hdel(a.campaignCps, campaignId).hdel(a.shareLast, campaignId);
      }
      multi.del(c.limits, c.last, c.holds, c.accounts, c.sent);
      await exec(multi);
    },
  };
}
