/**
 * Contacts a change of Redis server left without a dial job. Replication is
 * asynchronous: when a replica is promoted (or a server restarts from an
 * older file), the last writes of the old one can be lost while what a
 * process sends next goes to the new one. A dial job completed on the new
 * server after its contact's last change (ended, put back, refused) was lost
 * leaves the contact queued with no job: nothing would take it again, and it
 * would never end.
 *
 * So every process that feeds queues watches the server it talks to (its
 * run id, read again after each reconnection), and after a change it gives
 * each running campaign's queued contacts that no job carries and no feeder
 * holds a dial job again. The job id is the attempt id, so adding one a job
 * still has changes nothing, and a contact begun meanwhile is refused by its
 * begin: nothing is dialed twice.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Queue } from 'bullmq';
import type { Keys } from '../store/keys.js';
import type { QueueRegistry } from '../infra/queues.js';
import { parseContactState } from '../store/contacts.js';
import { attemptId } from '../store/ids.js';
import { readJobData } from './processor.js';

/**
 * Whether the Redis server answering this connection changed since it was
 * last asked (told once per change; the first answer only learns it). Not
 * on a Cluster, whose nodes each have their own id.
 */
export function watchServerChange(redis: Redis): () => Promise<boolean> {
  let known: string | null = null;
  let check = true;
  redis.on('ready', () => {
    check = true;
  });
  return async () => {
    if (!check || redis.isCluster) return false;
    check = false;
    const id = /^run_id:(\w+)/m.exec(await redis.info('server'))?.[1] ?? null;
    const changed = known !== null && id !== null && id !== known;
    if (id !== null) known = id;
    return changed;
  };
}

/** Gives a dial job again to a campaign's queued contacts that no job carries and no feeder holds; returns how many. */
export async function requeueJobless(deps: { redis: Redis; keys: Keys; queue: Queue; log: Logger }, cid: string): Promise<number> {
  const { redis, keys, queue, log } = deps;
  // What the queue's jobs carry, read before the states: a contact enqueued after this read is queued and held
  // by its feeder, or has a job whose id the one added here would repeat.
  const carried = new Set<number>();
  for (const job of await queue.getJobs(['active', 'waiting', 'delayed', 'prioritized', 'waiting-children'], 0, -1)) {
    for (const k of readJobData(job?.data)?.contacts ?? []) carried.add(k.idx);
  }
  const jobless: { idx: number; n: number }[] = [];
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(keys.contactState(cid), cursor, 'COUNT', 1000);
    cursor = next;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const idx = Number(flat[i]);
      if (!Number.isSafeInteger(idx) || carried.has(idx)) continue;
      try {
        const s = parseContactState(flat[i + 1]!, `campaign ${cid} contact ${idx} state`);
        if (s.s === 'pending' && s.ph === 'queued') jobless.push({ idx, n: s.n });
      } catch (err) {
        log.error({ err, campaignId: cid, contact: idx }, 'a contact state is damaged: not checked after the Redis server changed');
      }
    }
  } while (cursor !== '0');
  if (jobless.length === 0) return 0;
  // Those a feeder holds are its to enqueue (the feeder's own recovery takes them if it died).
  const held = await redis.zmscore(keys.feeding(cid), ...jobless.map((c) => String(c.idx)));
  const jobs = jobless
    .filter((_, i) => held[i] === null)
    .map((c) => ({ name: 'dial', data: { idx: c.idx, n: c.n }, opts: { jobId: attemptId({ campaignId: cid, contact: c.idx, attempt: c.n }) } }));
  for (let i = 0; i < jobs.length; i += 1000) await queue.addBulk(jobs.slice(i, i + 1000));
  if (jobs.length > 0) log.warn({ campaignId: cid, count: jobs.length }, 'the Redis server changed: contacts left queued with no dial job get one again');
  return jobs.length;
}

/** What a feeder needs to mend a change of server: the watch on its connection, and the requeue of one campaign. */
export function failoverRecovery(deps: { redis: Redis; keys: Keys; queues: QueueRegistry; log: Logger }): { serverChanged(): Promise<boolean>; requeueJobless(cid: string): Promise<number> } {
  const serverChanged = watchServerChange(deps.redis);
  return { serverChanged, requeueJobless: (cid) => requeueJobless({ ...deps, queue: deps.queues.get(cid) }, cid) };
}
