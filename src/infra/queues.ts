/**
 * One BullMQ queue per campaign carries its dial jobs; this registry is the
 * only place that constructs them.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { dialQueueName } from '../store/ids.js';

/** One contact's attempt. */
export interface ContactDialJob {
  /** Contact index in the campaign. */
  idx: number;
  /** Attempt number for this contact (1-based). */
  n: number;
  /**
   * The contact's row (packed, as stored) and its state as the feeder left it,
   * when the feeder enqueued the job: the dial starts from them instead of
   * reading them (rows never change; a state that changed since makes the
   * begin's compare-and-set read it again).
   */
  row?: string;
  st?: string;
}

/**
 * Several contacts' attempts in one job (a campaign with no rate and no cap):
 * [contact index, attempt number] each, or [contact index, attempt number,
 * row, state] as in ContactDialJob.
 */
export interface GroupDialJob {
  group: ([number, number] | [number, number, string, string])[];
}

export type DialJobData = ContactDialJob | GroupDialJob;

export function makeQueueRegistry(deps: { connection: Redis; bullPrefix: string }) {
  const queues = new Map<string, Queue<DialJobData>>();

  function get(campaignId: string): Queue<DialJobData> {
    let q = queues.get(campaignId);
    if (!q) {
      q = new Queue<DialJobData>(dialQueueName(campaignId), {
        connection: deps.connection,
        prefix: deps.bullPrefix,
        defaultJobOptions: {
          attempts: 1,
          // A finished dial is on record in its attempt (and its contact): a completed job is deleted at once,
          // which costs Redis less per dial than a completed set trimmed to a count. Failed jobs stay for inspection.
          removeOnComplete: true,
          removeOnFail: { count: 5000 },
        },
      });
      queues.set(campaignId, q);
    }
    return q;
  }

  async function release(campaignId: string): Promise<void> {
    const q = queues.get(campaignId);
    if (q) {
      queues.delete(campaignId);
      await q.close();
    }
  }

  async function closeAll(): Promise<void> {
    const all = [...queues.values()];
    queues.clear();
    await Promise.all(all.map((q) => q.close()));
  }

  return { get, release, closeAll, bullPrefix: deps.bullPrefix };
}

export type QueueRegistry = ReturnType<typeof makeQueueRegistry>;
