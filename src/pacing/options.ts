/**
 * Validation of what callers hand the pacer: construction options, limits,
 * ids and hold times. Messages name the field and say what to change.
 */
import { z } from 'zod';
import { PacingError } from './errors.js';
import type { PaceLimits } from './types.js';

/**
 * How the account slows down after a 429 and speeds up again. The rate at
 * which the 429 came is remembered as the account's ceiling: the rate is cut
 * under it, recovers quickly to just under it, then creeps above it, slowly
 * at first, until the next 429 tells the ceiling again. A 429 that
 * contradicts what the provider has shown (sporadic), pass permitting,
 * changes nothing but its Retry-After's block.
 */
export interface BackoffPolicy {
  /** On a 429 the rate is cut to the ceiling × factor (between 0 and 1). */
  factor: number;
  /** Neither the ceiling nor the cut rate goes below this (cps), unless the configured cps is lower. */
  minCps: number;
  /** Fraction of the ceiling regained per second after a cut, up to the settled rate. */
  recoverPerSecond: number;
  /** The settled rate: ceiling × settle (between factor and 1), just under the rate at which the 429 came. */
  settle: number;
  /** Past the settled rate, the rate grows by this fraction of itself per second (compounding): a slow probe above the ceiling. */
  creepPerSecond: number;
  /**
   * The creep quickens the longer it goes on without a cut: its growth per
   * second rises by creepPerSecond every creepRampMs (0: a constant creep).
   * A ceiling learned too low is left behind in minutes, not tens of minutes.
   */
  creepRampMs: number;
  /** Further 429s within this time of a cut do not cut again (one cut per burst of 429s). */
  cooldownMs: number;
  /** Block applied when the account has no rate to cut (none configured, none learned) and no Retry-After was given. */
  defaultBlockMs: number;
  /** The ceiling is remembered this long after the last 429 (or until the rate has crept back to the configured cps). */
  memoryMs: number;
  /**
   * 429s up to this share of the sends may be taken as sporadic, not the
   * rate's: each send while a back-off is remembered earns this fraction of a
   * pass, and a 429 that would lower the ceiling (or comes at a pace proven,
   * below) uses one if there is one: then neither the ceiling nor the rate
   * moves. 0: every 429 counts.
   */
  sporadicShare: number;
  /** Most passes kept: how many 429s in a row may be taken as sporadic. */
  sporadicPasses: number;
  /**
   * A 429 whose second held no more sends than the account had been let send
   * every second for this long before it (no cut, no block in between) is
   * taken as sporadic too, pass permitting, even at or above the ceiling.
   */
  provenMs: number;
}

export interface PacerTuning {
  /** A slot at most this far ahead is reserved (the caller sleeps until it); farther ones are refused. */
  horizonMs: number;
  /** A campaign counts as waiting on its account for this long after its last acquire. */
  activeWindowMs: number;
  /** Longest retryInMs suggested when channels are full (a release may come any time). */
  channelRetryMs: number;
  /**
   * Slots are spaced (1000 + safetyMarginMs) / cps ms apart, so that cps + 1
   * consecutive slots span at least one second plus the margin: calls that
   * leave late by different amounts (timers, event loops, the network) still
   * fit the provider's sliding second while their lateness differs by less
   * than the margin. It costs margin / 1000 of the rate. This is the default
   * for acquires that do not ask for their own margin (0: exactly 1/cps).
   */
  safetyMarginMs: number;
  /**
   * The send-time admission counts a send for one second (plus this) after
   * its arrival bound: the provider stamps arrivals in whole milliseconds and
   * may count a window as closed at either end.
   */
  admitGranularityMs: number;
  /**
   * Default flight bound of an admitted send (admissions that do not give
   * theirs): the longest time from admission to the request's arrival, i.e.
   * the request timeout. A sender that dies mid-request stays counted until it.
   */
  flightMs: number;
  backoff: BackoffPolicy;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  factor: 0.5,
  minCps: 0.2,
  recoverPerSecond: 0.25,
  settle: 0.95,
  creepPerSecond: 0.005,
  creepRampMs: 30_000,
  cooldownMs: 1000,
  defaultBlockMs: 1000,
  memoryMs: 600_000,
  sporadicShare: 0.02,
  sporadicPasses: 3,
  provenMs: 2000,
};

export const DEFAULT_TUNING: PacerTuning = {
  horizonMs: 1000,
  activeWindowMs: 2000,
  channelRetryMs: 250,
  safetyMarginMs: 0,
  admitGranularityMs: 2,
  flightMs: 30_000,
  backoff: DEFAULT_BACKOFF,
};

/** Longest flight bound accepted (one hour). */
const MAX_FLIGHT_MS = 3_600_000;

const ms = (name: string, min: number, max: number) =>
  z
    .number({ message: `${name} must be a number of milliseconds` })
    .int(`${name} must be a whole number of milliseconds`)
    .min(min, `${name} must be at least ${min} ms`)
    .max(max, `${name} must be at most ${max} ms`);

const tuningSchema = z
  .object({
    horizonMs: ms('horizonMs', 0, 60_000).optional(),
    activeWindowMs: ms('activeWindowMs', 100, 600_000).optional(),
    channelRetryMs: ms('channelRetryMs', 1, 60_000).optional(),
    safetyMarginMs: ms('safetyMarginMs', 0, 100).optional(),
    admitGranularityMs: ms('admitGranularityMs', 0, 100).optional(),
    flightMs: ms('flightMs', 0, MAX_FLIGHT_MS).optional(),
    backoff: z
      .object({
        factor: z.number().gt(0, 'backoff.factor must be above 0').lt(1, 'backoff.factor must be below 1').optional(),
        minCps: z.number().gt(0, 'backoff.minCps must be above 0').finite().optional(),
        recoverPerSecond: z
          .number()
          .gt(0, 'backoff.recoverPerSecond must be above 0 (a fraction of the ceiling per second)')
          .max(10, 'backoff.recoverPerSecond must be at most 10')
          .optional(),
        settle: z.number().gt(0, 'backoff.settle must be above 0').max(1, 'backoff.settle must be at most 1 (a fraction of the ceiling)').optional(),
        creepPerSecond: z
          .number()
          .min(0, 'backoff.creepPerSecond must be 0 or more (a fraction of the rate per second)')
          .max(1, 'backoff.creepPerSecond must be at most 1')
          .optional(),
        creepRampMs: ms('backoff.creepRampMs', 0, 3_600_000).optional(),
        cooldownMs: ms('backoff.cooldownMs', 0, 600_000).optional(),
        defaultBlockMs: ms('backoff.defaultBlockMs', 0, 600_000).optional(),
        memoryMs: ms('backoff.memoryMs', 1000, 86_400_000).optional(),
        sporadicShare: z
          .number()
          .min(0, 'backoff.sporadicShare must be 0 (every 429 counts) or more (a fraction of a pass per send)')
          .max(0.1, 'backoff.sporadicShare must be at most 0.1 (one 429 in ten sends taken as sporadic)')
          .optional(),
        sporadicPasses: z
          .number()
          .int('backoff.sporadicPasses must be a whole number of passes')
          .min(0, 'backoff.sporadicPasses must be 0 or more')
          .max(10, 'backoff.sporadicPasses must be at most 10')
          .optional(),
        provenMs: ms('backoff.provenMs', 1000, 600_000).optional(),
      })
      .strict()
      .superRefine((b, ctx) => {
        const factor = b.factor ?? DEFAULT_BACKOFF.factor;
        const settle = b.settle ?? DEFAULT_BACKOFF.settle;
        if (settle < factor) ctx.addIssue({ code: 'custom', path: ['settle'], message: `backoff.settle (${settle}) must be at least backoff.factor (${factor}): the rate recovers up to it after a cut` });
      })
      .optional(),
  })
  .strict();

export type PacerTuningInput = z.input<typeof tuningSchema>;

function issues(err: z.ZodError): string {
  return err.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

export function parseTuning(input: PacerTuningInput): PacerTuning {
  const r = tuningSchema.safeParse(input);
  if (!r.success) throw new PacingError('ERR_PACE_INPUT', `invalid pacer options: ${issues(r.error)}`);
  const t = r.data;
  return {
    horizonMs: t.horizonMs ?? DEFAULT_TUNING.horizonMs,
    activeWindowMs: t.activeWindowMs ?? DEFAULT_TUNING.activeWindowMs,
    channelRetryMs: t.channelRetryMs ?? DEFAULT_TUNING.channelRetryMs,
    safetyMarginMs: t.safetyMarginMs ?? DEFAULT_TUNING.safetyMarginMs,
    admitGranularityMs: t.admitGranularityMs ?? DEFAULT_TUNING.admitGranularityMs,
    flightMs: t.flightMs ?? DEFAULT_TUNING.flightMs,
    backoff: { ...DEFAULT_BACKOFF, ...stripUndefined(t.backoff ?? {}) },
  };
}

function stripUndefined<T extends object>(o: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<{
    [K in keyof T]: Exclude<T[K], undefined>;
  }>;
}

const limitsSchema = z
  .object({
    cps: z
      .number({ message: 'cps must be a number (calls per second, 0 = no limit)' })
      .finite('cps must be finite (0 = no limit)')
      .min(0, 'cps must be 0 (no limit) or more'),
    maxConcurrent: z
      .number({ message: 'maxConcurrent must be a number (channels, 0 = no limit)' })
      .int('maxConcurrent must be a whole number of channels')
      .min(0, 'maxConcurrent must be 0 (no limit) or more'),
  })
  .strict();

/** Limits handed in by a caller (setAccountLimits / setCampaignLimits). */
export function parseLimits(input: unknown, what: string): PaceLimits {
  const r = limitsSchema.safeParse(input);
  if (!r.success) throw new PacingError('ERR_PACE_INPUT', `invalid pace limits for ${what}: ${issues(r.error)}`);
  return r.data;
}

const storedNumber = z
  .string()
  .regex(/^\d+(\.\d+)?(e[+-]?\d+)?$/i, 'must be a non-negative number')
  .transform(Number)
  .optional();

const storedLimitsSchema = z.object({ cps: storedNumber, maxConcurrent: storedNumber });

/** Limits read back from their Redis hash; missing fields mean "no limit". */
export function parseStoredLimits(hash: Record<string, string>, key: string): PaceLimits {
  const r = storedLimitsSchema.safeParse(hash);
  if (!r.success) throw new PacingError('ERR_PACE_REPLY', `corrupt pace limits at Redis key ${key}: ${issues(r.error)}`);
  return { cps: r.data.cps ?? 0, maxConcurrent: Math.floor(r.data.maxConcurrent ?? 0) };
}

/** Why `value` is not a usable id, or null (plain checks: this runs on every acquire). */
function idProblem(name: string, value: unknown): string | null {
  if (typeof value !== 'string') return `${name} must be a string`;
  if (value.length === 0) return `${name} must not be empty`;
  if (value.length > 256) return `${name} must be at most 256 characters`;
  if (/\s/.test(value)) return `${name} must not contain spaces`;
  return null;
}

/** Checks ids and numbers of one call; throws a PacingError naming the field. */
export function requireIds(fields: Record<string, unknown>): void {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    const problem = idProblem(name, value);
    if (problem !== null) problems.push(problem);
  }
  if (problems.length > 0) throw new PacingError('ERR_PACE_INPUT', problems.join('; '));
}

export function requireEpochMs(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new PacingError('ERR_PACE_INPUT', `${name} must be epoch milliseconds (a finite number ≥ 0), got ${String(value)}`);
  }
  return Math.ceil(value);
}

/** A per-acquire number of milliseconds (safetyMarginMs, leadMs): whole, 0 to 100. */
export function requireMarginMs(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 100) {
    throw new PacingError('ERR_PACE_INPUT', `${name} must be a whole number of milliseconds from 0 to 100, got ${String(value)}`);
  }
  return value;
}

/** A flight bound (the request timeout of an admitted send): whole milliseconds, 0 to one hour. */
export function requireFlightMs(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_FLIGHT_MS) {
    throw new PacingError('ERR_PACE_INPUT', `flightMs must be a whole number of milliseconds from 0 to ${MAX_FLIGHT_MS}, got ${String(value)}`);
  }
  return value;
}

export function requireRetryAfter(value: unknown): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new PacingError('ERR_PACE_INPUT', `retryAfterMs must be null or milliseconds ≥ 0, got ${String(value)}`);
  }
  return Math.ceil(value);
}
