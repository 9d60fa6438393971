/**
 * Notifier options, parsed once, and the pure decision of what follows a
 * failed delivery: when to try again, or that it is given up.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

const ms = (field: string, min: number, max: number) =>
  z
    .number({ message: `${field} must be a number of milliseconds` })
    .int(`${field} must be a whole number of milliseconds`)
    .min(min, `${field} must be at least ${min} ms`)
    .max(max, `${field} must be at most ${max} ms`);

const DAY = 86_400_000;

export const notifierOptionsSchema = z
  .object({
    /** Waits before each retry, in order; the last one repeats. */
    backoffMs: z.array(ms('backoffMs[]', 1, DAY)).min(1, 'backoffMs needs at least one wait').default([5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000]),
    /** Share of each wait drawn at random either side (0.2: from 80% to 120%). */
    jitter: z.number().min(0, 'jitter must be between 0 and 1').max(1, 'jitter must be between 0 and 1').default(0.2),
    /** Tries in all, the first one included, before a delivery is given up. */
    maxTries: z.number().int().min(1, 'maxTries must be at least 1').max(1000).default(12),
    /** A delivery whose next try would come later than this after its first is given up. */
    maxAgeMs: ms('maxAgeMs', 1, 30 * DAY).default(DAY),
    connectTimeoutMs: ms('connectTimeoutMs', 1, 120_000).default(5_000),
    /** Longest wait for the response headers, and between body chunks. */
    requestTimeoutMs: ms('requestTimeoutMs', 1, 300_000).default(10_000),
    /** How often the outbox and the retry set are read. */
    pollMs: ms('pollMs', 1, 60_000).default(250),
    /** Entries read from the outbox, and due retries taken, per pass. */
    batch: z.number().int().min(1).max(1000).default(50),
    /** Deliveries in flight at once in one process. */
    concurrency: z.number().int().min(1).max(1000).default(16),
    /** An outbox entry left unacknowledged this long by its consumer is taken over. */
    claimAfterMs: ms('claimAfterMs', 1, DAY).default(60_000),
    /** A due retry taken by a process comes back to the others after this long if it is neither done nor rescheduled. */
    leaseMs: ms('leaseMs', 1, DAY).default(60_000),
    /** Given-up deliveries kept per campaign. */
    deadLetterLimit: z.number().int().min(1).max(1_000_000).default(1000),
    /** Sockets per webhook origin. */
    connectionsPerOrigin: z.number().int().min(1).max(1000).default(8),
    /** 'deny': refuse webhooks at loopback, private, link-local or reserved addresses (checked as they are resolved). */
    privateAddresses: z.enum(['allow', 'deny'], { message: "privateAddresses must be 'allow' or 'deny'" }).default('allow'),
    /** This process's name in the consumer group. */
    consumer: z.string().min(1).max(200).optional(),
  })
  .strict();

export type NotifierOptionsInput = z.input<typeof notifierOptionsSchema>;
export type NotifierOptions = Omit<z.output<typeof notifierOptionsSchema>, 'consumer'> & { consumer: string };

export class NotifierOptionsError extends Error {
  readonly code = 'ERR_NOTIFIER_OPTIONS';
  constructor(readonly problems: string[]) {
    super(`invalid notifier options:\n  - ${problems.join('\n  - ')}`);
    this.name = 'NotifierOptionsError';
  }
}

export function resolveNotifierOptions(input: NotifierOptionsInput = {}): NotifierOptions {
  const r = notifierOptionsSchema.safeParse(input);
  if (!r.success) {
    throw new NotifierOptionsError(
      r.error.issues.map((i) => {
        const where = i.path.map(String).join('.');
        return where && !i.message.startsWith(where) ? `${where}: ${i.message}` : i.message;
      }),
    );
  }
  const o = r.data;
  const problems: string[] = [];
  if (o.claimAfterMs <= o.requestTimeoutMs + o.connectTimeoutMs) {
    problems.push('claimAfterMs must be longer than connectTimeoutMs + requestTimeoutMs, or a live consumer would lose entries it is still sending');
  }
  if (o.leaseMs <= o.requestTimeoutMs + o.connectTimeoutMs) {
    problems.push('leaseMs must be longer than connectTimeoutMs + requestTimeoutMs, or a retry in flight would be taken again');
  }
  if (problems.length > 0) throw new NotifierOptionsError(problems);
  return { ...o, consumer: o.consumer ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}` };
}

export type FailureDecision = { kind: 'retry'; at: number } | { kind: 'give_up'; reason: 'max_tries' | 'max_age' };

/**
 * After `tries` failed tries (the first send counts as one) of a delivery
 * first tried at `firstAt`: the time of the next try, or give up.
 */
export function afterFailure(
  o: Pick<NotifierOptions, 'backoffMs' | 'jitter' | 'maxTries' | 'maxAgeMs'>,
  facts: { tries: number; firstAt: number; now: number; random: () => number },
): FailureDecision {
  if (facts.tries >= o.maxTries) return { kind: 'give_up', reason: 'max_tries' };
  const base = o.backoffMs[Math.min(Math.max(facts.tries - 1, 0), o.backoffMs.length - 1)]!;
  const spread = 1 + o.jitter * (2 * facts.random() - 1);
  const at = facts.now + Math.max(1, Math.round(base * spread));
  if (at - facts.firstAt > o.maxAgeMs) return { kind: 'give_up', reason: 'max_age' };
  return { kind: 'retry', at };
}
