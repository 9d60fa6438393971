/**
 * The ticks as BullMQ job schedulers: one per definition, in the
 * deployment's prefix, on a queue of their own. A scheduler carries the
 * definition as it was synced (its template data); each tick is a job whose
 * id holds the tick's time. The worker side turns jobs into runs.
 */
import { quietErrors } from '../infra/redis.js';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { bullRepeatStrategy, firstTickFrom, RUN_RETRY_DELAYS_MS } from './match.js';
import { RunStartError, runPayloadSchema, type RunLauncher, type RunPayload } from './runner.js';

export const SCHEDULE_QUEUE = 'schedules';

export interface SchedulerInfo {
  name: string;
  /** When its next tick's job is due (epoch ms), when it has one. */
  next: number | null;
  fingerprint: string | null;
}

/** The tick of a scheduler's job (`repeat:<name>:<epoch ms>`), or null for another job. */
export function tickOfJobId(jobId: string | undefined): number | null {
  const m = /^repeat:[A-Za-z0-9_-]+:(\d+)$/.exec(jobId ?? '');
  return m ? Number(m[1]) : null;
}

export function makeScheduleQueue(deps: { connection: Redis; bullPrefix: string; retryDelaysMs?: readonly number[]; log: Logger }) {
  const retries = deps.retryDelaysMs ?? RUN_RETRY_DELAYS_MS;
  let queue: Queue | null = null;
  const q = (): Queue => {
    if (queue) return queue;
    queue = new Queue(SCHEDULE_QUEUE, { connection: deps.connection, prefix: deps.bullPrefix, settings: { repeatStrategy: bullRepeatStrategy } });
    // While Redis is away its errors are logged once a minute, not printed as stacks on stderr.
    quietErrors(queue, { log: deps.log, name: 'schedule queue' });
    return queue;
  };

  async function schedulers(): Promise<SchedulerInfo[]> {
    const all = await q().getJobSchedulers(0, -1, true);
    return all.map((s) => {
      const data = (s.template?.data ?? {}) as { fingerprint?: unknown };
      return { name: s.key, next: typeof s.next === 'number' ? s.next : null, fingerprint: typeof data.fingerprint === 'string' ? data.fingerprint : null };
    });
  }

  /**
   * Puts a definition's scheduler in place of any older one (a changed
   * schedule starts afresh from its own rule); returns its first tick, null
   * when the schedule has no tick left.
   */
  async function put(payload: RunPayload, now: number): Promise<number | null> {
    const s = payload.schedule;
    if (!s) throw new Error(`${payload.name} has no schedule`);
    const first = firstTickFrom(s, now);
    await q().removeJobScheduler(payload.name);
    if (first === null) return null;
    const bounds = { ...(s.endMs !== null ? { endDate: s.endMs } : {}) };
    const repeat =
      s.timing.kind === 'cron'
        ? { pattern: s.timing.cron, tz: s.timezone, ...(s.startMs !== null ? { startDate: s.startMs } : {}), ...bounds }
        : // BullMQ starts an interval at its startDate: the first tick of the rule, so that ticks fall on it.
          { every: s.timing.everyMs, startDate: first, ...bounds };
    await q().upsertJobScheduler(payload.name, repeat, {
      name: 'tick',
      data: payload,
      opts: {
        attempts: retries.length + 1,
        backoff: { type: 'run-retry' },
        removeOnComplete: { count: 100 },
        removeOnFail: { count: 100 },
      },
    });
    return first;
  }

  async function remove(name: string): Promise<void> {
    await q().removeJobScheduler(name);
  }

  async function close(): Promise<void> {
    await queue?.close();
    queue = null;
  }

  return { schedulers, put, remove, close };
}

export type ScheduleQueue = ReturnType<typeof makeScheduleQueue>;

/** The BullMQ worker that turns due ticks into runs (one launcher call per job). */
export function startScheduleWorker(deps: {
  connection: Redis;
  bullPrefix: string;
  launcher: RunLauncher;
  log: Logger;
  concurrency?: number;
  retryDelaysMs?: readonly number[];
}): { close(): Promise<void>; worker: Worker } {
  const retries = deps.retryDelaysMs ?? RUN_RETRY_DELAYS_MS;
  const process = async (job: Job): Promise<unknown> => {
    const payload = runPayloadSchema.safeParse(job.data);
    const tick = tickOfJobId(job.id);
    if (!payload.success || tick === null) throw new UnrecoverableError(`tick job ${job.id ?? '?'} is not a schedule's tick (damaged data): dropped`);
    const attempt = job.attemptsMade + 1;
    try {
      const r = await deps.launcher.launch({ payload: payload.data, tick, manual: false, attempt, lastAttempt: attempt >= retries.length + 1 });
      return r ? { state: r.state, campaignId: r.campaignId } : { state: 'ignored' };
    } catch (err) {
      if (err instanceof RunStartError && err.final) throw new UnrecoverableError(err.message);
      throw err;
    }
  };
  const worker = new Worker(SCHEDULE_QUEUE, process, {
    connection: deps.connection,
    prefix: deps.bullPrefix,
    concurrency: deps.concurrency ?? 2,
    settings: {
      repeatStrategy: bullRepeatStrategy,
      backoffStrategy: (attemptsMade: number) => retries[Math.min(Math.max(attemptsMade, 1), retries.length) - 1] ?? 0,
    },
  });
  quietErrors(worker, { log: deps.log, name: 'schedule worker' });
  return {
    worker,
    async close() {
      await worker.close();
    },
  };
}
