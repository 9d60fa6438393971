/**
 * Runs one BullMQ worker per active campaign in this process, starting and
 * closing them as campaigns come and go, and hands jobs back on shutdown.
 */
import { quietErrors } from '../infra/redis.js';
import { luaScript, runScript } from '../infra/lua.js';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CampaignStore } from '../store/campaigns.js';
import type { CampaignCache } from '../campaign/runtime.js';
import type { DialJobData } from '../infra/queues.js';
import { dialQueueName } from '../store/ids.js';
import { startLoop, type Loop } from '../infra/loop.js';
import { sleep } from '../infra/clock.js';
import type { PaceLimits } from '../pacing/types.js';
import { dialGroupSize } from './feeder.js';

export interface DialWorkers {
  /** Campaign ids this process works on. */
  campaigns(): string[];
  /** One pass now (tests). */
  refresh(): Promise<void>;
  /**
   * Stops taking jobs; jobs still waiting in line for a pacing slot (no
   * attempt made) go back to the queue at once; the others get up to
   * `graceMs` to finish, then it closes (a job still in hand after the grace
   * is seen as stalled by the others and never redialed: its attempt is
   * already recorded).
   */
  stop(graceMs: number): Promise<void>;
}

/**
 * A dial queue's `meta` hash, alone after its queue was obliterated: a
 * Worker's stalled-jobs check that ran between the campaign's deletion (or
 * archiving) and this process closing that Worker writes
 * `opts.maxLenEvents` there again (BullMQ trims its events stream first),
 * and nothing would ever remove it. Deleted once the Worker is closed, when
 * the queue has neither its job counter nor its events stream (an
 * obliterated queue).
 * KEYS: meta, id, events
 */
const DROP_STRAY_META = luaScript(
  `if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[3]) == 0 then return redis.call('DEL', KEYS[1]) end
return 0`,
  3,
);

/** Stalls (workers dying while holding a job) after which BullMQ would give a job up: in practice never. */
const MAX_STALLED = 1_000_000;

export function startDialWorkers(deps: {
  campaigns: CampaignStore;
  cache: CampaignCache;
  connection: Redis;
  bullPrefix: string;
  processor: (job: Job<DialJobData>) => Promise<unknown>;
  /**
   * A dial job that failed (the processor threw, or BullMQ gave it up): its
   * contacts not yet begun go back to the due set, so that none is lost with it.
   */
  onFailed?: (campaignId: string, data: unknown) => Promise<void>;
  /** Contacts in hand per campaign (dialing or waiting for a slot). */
  concurrency: number;
  /** The campaign's current limits (they decide how its contacts are grouped into jobs). */
  limits: (campaignId: string) => Promise<PaceLimits>;
  log: Logger;
  pollMs?: number;
}): DialWorkers {
  const workers = new Map<string, Worker<DialJobData>>();
  const { log } = deps;

  /**
   * Jobs in hand for a campaign: as many contacts as `concurrency` allows, no
   * more than its channel cap; jobs of a group hold DIAL_GROUP contacts each.
   */
  async function jobsInHand(id: string): Promise<number> {
    const limits = await deps.limits(id);
    const group = dialGroupSize(limits);
    if (group > 1) return Math.max(1, Math.ceil(deps.concurrency / group));
    return Math.max(1, Math.min(deps.concurrency, limits.maxConcurrent > 0 ? limits.maxConcurrent : deps.concurrency));
  }

  async function refresh(): Promise<void> {
    const active = new Set(await deps.campaigns.activeIds());
    for (const id of active) {
      const running = workers.get(id);
      if (running) {
        // Limits changed while it runs (campaign pace): the jobs in hand follow within a pass.
        const concurrency = await jobsInHand(id);
        if (running.concurrency !== concurrency) running.concurrency = concurrency;
        continue;
      }
      const c = await deps.cache.get(id);
      if (!c || c.record.state === 'completed') continue;
      const concurrency = await jobsInHand(id);
      const w = new Worker<DialJobData>(dialQueueName(id), deps.processor, {
        connection: deps.connection,
        prefix: deps.bullPrefix,
        concurrency,
        // A job whose workers die holding it goes back to the queue each time, never given up: its contacts
        // would have nothing else to carry them (a begun attempt is never dialed again, whatever holds it).
        maxStalledCount: MAX_STALLED,
        stalledInterval: 15_000,
        lockDuration: 30_000,
      });
      // Errors of its connection (Redis away) are logged once a minute, the connection's own watch says when it is back.
      quietErrors(w, { log: log.child({ campaignId: id }), name: `dial worker ${id}` });
      w.on('failed', (job, err) => {
        if (err?.name !== 'RateLimitError') log.error({ err, campaignId: id, jobId: job?.id }, 'dial job failed');
        if (job && deps.onFailed) {
          void deps.onFailed(id, job.data).catch((e: unknown) => log.error({ err: e, campaignId: id, jobId: job.id }, 'could not put back the contacts of a failed dial job'));
        }
      });
      workers.set(id, w);
      log.info({ campaignId: id, concurrency }, 'dial worker started');
    }
    for (const [id, w] of workers) {
      if (active.has(id)) continue;
      workers.delete(id);
      await w.close();
      const queue = `${deps.bullPrefix}:${dialQueueName(id)}`;
      const stray = Number(await runScript(deps.connection, DROP_STRAY_META, [`${queue}:meta`, `${queue}:id`, `${queue}:events`], []));
      log.info({ campaignId: id, ...(stray > 0 ? { strayMetaRemoved: true } : {}) }, 'dial worker closed');
    }
  }

  const loop: Loop = startLoop('workers', deps.pollMs ?? 1000, refresh, log);
  void loop.kick();

  return {
    campaigns: () => [...workers.keys()],
    refresh: () => loop.kick(),
    async stop(graceMs: number) {
      await loop.stop();
      const all = [...workers.values()];
      workers.clear();
      await Promise.all(
        all.map(async (w) => {
          const closing = w.close();
          // Jobs still in line for a pacing slot have made no attempt: they go back to the queue now.
          w.cancelAllJobs('worker stopping');
          const inTime = await Promise.race([closing.then(() => true), sleep(graceMs).then(() => false)]);
          if (!inTime) {
            log.warn({ queue: w.name }, 'grace period over: closing with jobs in hand');
            await w.close(true);
          }
        }),
      );
    },
  };
}
