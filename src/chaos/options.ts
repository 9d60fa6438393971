/**
 * What a chaos run is asked to do: the raw options (every field optional,
 * from the command line or a test) parsed once, with messages that name the
 * option and say what to give.
 */
import { z } from 'zod';

const int = (name: string, min: number, max: number, fallback: number) =>
  z
    .number({ error: `${name} must be a whole number` })
    .int(`${name} must be a whole number`)
    .min(min, `${name} must be between ${min} and ${max}`)
    .max(max, `${name} must be between ${min} and ${max}`)
    .default(fallback);

const seconds = (name: string, min: number, max: number, fallback: number) =>
  z
    .number({ error: `${name} must be a number of seconds` })
    .min(min, `${name} must be between ${min} and ${max} seconds`)
    .max(max, `${name} must be between ${min} and ${max} seconds`)
    .default(fallback);

const rate = (name: string, fallback: number) =>
  z.number({ error: `${name} must be a number between 0 and 0.5` }).min(0, `${name} must be between 0 and 0.5`).max(0.5, `${name} must be between 0 and 0.5`).default(fallback);

export const chaosOptionsSchema = z.strictObject({
  /** Contacts in the campaign. */
  contacts: int('contacts', 10, 200_000, 10_000),
  /** The account's calls per second (SIPCALL_MAX_CPS), also the simulator's cap. */
  cps: int('cps', 1, 1000, 50),
  /** Worker processes kept running. */
  workers: int('workers', 1, 16, 3),
  /** Mean time between two SIGKILLs of a worker (each between half and one and a half of it); 0: none. */
  killEverySeconds: seconds('killEverySeconds', 0, 3600, 5),
  /** How long Redis stays down each time it is stopped. */
  redisDownSeconds: seconds('redisDownSeconds', 0, 300, 3),
  /** The run gives up (and fails) when the campaign has not completed by then. */
  timeoutSeconds: seconds('timeoutSeconds', 10, 86_400, 3600),
  seed: int('seed', 0, 2 ** 31 - 1, 1),
  maxAttempts: int('maxAttempts', 1, 10, 3),
  resultTimeoutSeconds: seconds('resultTimeoutSeconds', 2, 600, 15),
  retryDelaySeconds: seconds('retryDelaySeconds', 1, 600, 2),
  /** The dialer's provider response timeout: a held request ends in doubt after it. */
  responseTimeoutMs: int('responseTimeoutMs', 200, 60_000, 2000),
  /** The history store to check too (DATABASE_URL); null: Redis only. */
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'databaseUrl must be a postgres:// URL').nullable().default(null),
  /** Keep the run's folder (logs, ledger, Redis files) even when every check passes. */
  keep: z.boolean().default(false),
  /** Run the dialer's TypeScript sources (AUTODIALER_DEV=1) rather than what bin/autodialer.js picks. */
  sources: z.boolean().default(false),
  /** The simulator's faults. */
  http5xxRate: rate('http5xxRate', 0.02),
  // 429s whatever the rate: the account's back-off takes them as sporadic and keeps its learned rate (docs/pacing.md).
  http429Rate: rate('http429Rate', 0.005),
  resetRate: rate('resetRate', 0.01),
  timeoutRate: rate('timeoutRate', 0.01),
  duplicateCdrRate: rate('duplicateCdrRate', 0.05),
  outOfOrderRate: rate('outOfOrderRate', 0.05),
  lostCdrRate: rate('lostCdrRate', 0.02),
  /** Every answer of the simulator waits this long. */
  slowResponseMs: int('slowResponseMs', 0, 10_000, 50),
});

export type ChaosOptionsInput = z.input<typeof chaosOptionsSchema>;
export type ChaosOptions = z.output<typeof chaosOptionsSchema>;

export class ChaosOptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid chaos options:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ChaosOptionsError';
  }
}

export function parseChaosOptions(raw: unknown): ChaosOptions {
  const r = chaosOptionsSchema.safeParse(raw ?? {});
  if (r.success) {
    const o = r.data;
    if (o.slowResponseMs >= o.responseTimeoutMs) {
      throw new ChaosOptionsError([`slowResponseMs (${o.slowResponseMs}) must be below responseTimeoutMs (${o.responseTimeoutMs}): every answer would time out`]);
    }
    return o;
  }
  throw new ChaosOptionsError(
    r.error.issues.map((i) => {
      const path = i.path.map(String).join('.');
      if (i.code === 'unrecognized_keys') return `unknown option ${i.keys.join(', ')}`;
      return i.message.startsWith(path) ? i.message : `${path}: ${i.message}`;
    }),
  );
}
