/**
 * The feeder keeps each running campaign's dial queue a little ahead of its
 * pace: it takes contacts whose time has come from the compact due set and
 * enqueues one job each (job id = attempt id, so enqueueing twice is
 * harmless), or, for a campaign with no rate and no channel cap (neither its own nor its account's), one job per
 * group of DIAL_GROUP contacts (BullMQ's work per job shared by the group).
 * Each job carries the rows and states the take read and wrote. Contacts
 * outside their calling window go back to the due set at the time their
 * window opens; a cancelled or expired campaign's remaining contacts are
 * ended here. After a change of Redis server (a failover), each running
 * campaign's queued contacts left with no job get one again
 * (failover-recovery.ts).
 */
import { combineLimits } from '../campaign/pace.js';
import type { Logger } from 'pino';
import type { CampaignCache, ResolvedCampaign } from '../campaign/runtime.js';
import type { CampaignStore } from '../store/campaigns.js';
import type { ContactStore } from '../store/contacts.js';
import type { QueueRegistry } from '../infra/queues.js';
import type { AttemptService } from '../engine/attempts.js';
import type { Pacer, PaceLimits } from '../pacing/types.js';
import type { DialJobData } from '../infra/queues.js';
import { nextCallableTime } from '../domain/window.js';
import { attemptId } from '../store/ids.js';

export interface FeederOptions {
  /** How far ahead of the pace to keep the queue filled. */
  leadMs: number;
  /** Never more than this many waiting jobs per campaign. */
  maxWaiting: number;
  /** A contact taken but not enqueued for this long is enqueued again. */
  staleMs: number;
}

export const DEFAULT_FEEDER_OPTIONS: FeederOptions = { leadMs: 120_000, maxWaiting: 5_000, staleMs: 60_000 };

/** A contact taken for its next attempt, with its row and state as the take left them (the dial starts from them). */
interface Ready {
  idx: number;
  n: number;
  row: string;
  st: string;
}

/** Contacts per dial job of a campaign with no cps and no channel cap. */
export const DIAL_GROUP = 10;

/**
 * Contacts per dial job under these campaign limits. A rated or capped
 * campaign gets one job per contact: its jobs wait for slots one by one, and
 * a worker holds no more contacts than it may dial.
 */
export function dialGroupSize(limits: PaceLimits): number {
  return limits.cps > 0 || limits.maxConcurrent > 0 ? 1 : DIAL_GROUP;
}

export function makeFeeder(deps: {
  campaigns: CampaignStore;
  cache: CampaignCache;
  contacts: ContactStore;
  queues: QueueRegistry;
  service: AttemptService;
  pacer: Pacer;
  now: () => number;
  log: Logger;
  options?: Partial<FeederOptions>;
  /** Whether the Redis server changed since last asked, and what gives a campaign's jobless queued contacts a job again (failover-recovery.ts). */
  failover?: { serverChanged(): Promise<boolean>; requeueJobless(cid: string): Promise<number> };
}) {
  const opts = { ...DEFAULT_FEEDER_OPTIONS, ...deps.options };
  const { cache, contacts, queues, service, now, log } = deps;

  /** How many contacts to keep enqueued. */
  function target(limits: PaceLimits): number {
    const cps = limits.cps > 0 ? limits.cps : 200;
    const byPace = Math.ceil((cps * opts.leadMs) / 1000);
    const byChannels = (limits.maxConcurrent > 0 ? limits.maxConcurrent : 100) * 2;
    return Math.min(opts.maxWaiting, Math.max(10, byPace, byChannels));
  }

  /** Ends every contact still waiting in the due set (cancelled or expired campaign). */
  async function drain(c: ResolvedCampaign, status: 'cancelled' | 'expired', reason: string): Promise<number> {
    let ended = 0;
    for (;;) {
      const taken = await contacts.takeDue(c.record.id, Number.MAX_SAFE_INTEGER, 500);
      if (taken.length === 0) break;
      for (const t of taken) {
        // takeDue marked each queued for attempt n: put it back one step, then end it.
        await service.requeue(c.record.id, t.idx, t.attempt, now());
        if (await service.endContact(c.record.id, t.idx, status, reason)) ended++;
      }
      await contacts.doneFeeding(
        c.record.id,
        taken.map((t) => t.idx),
      );
    }
    return ended;
  }

  async function feed(c: ResolvedCampaign): Promise<number> {
    const cid = c.record.id;
    const t = now();
    const queue = queues.get(cid);
    // The campaign's limits and its account's, the tighter of each: a campaign with no rate of its own is still rated by its account.
    const [own, account] = await Promise.all([deps.pacer.getCampaignLimits(cid), deps.pacer.getAccountLimits(c.record.definition.provider)]);
    const limits = combineLimits(own, account);
    const group = dialGroupSize(limits);
    // Waiting jobs are counted as full groups: a few singles (contacts deferred out of a group) only make it feed less.
    const waiting = await queue.getJobCountByTypes('waiting', 'delayed', 'prioritized');
    const need = target(limits) - waiting * group;
    if (need <= 0) return 0;
    const taken = await contacts.takeDue(cid, t, need);
    if (taken.length === 0) return 0;
    const later: { idx: number; at: number }[] = [];
    const ready: Ready[] = [];
    // One answer per zone for the whole pass: the window is worked out in each zone once.
    const opensAt = new Map<string, number | null>();
    for (const item of taken) {
      const zone = item.row.z ?? c.zone;
      let at = opensAt.get(zone);
      if (at === undefined) {
        at = nextCallableTime(c.window, zone, t);
        opensAt.set(zone, at);
      }
      if (at === null) {
        await service.requeue(cid, item.idx, item.attempt, t);
        await service.endContact(cid, item.idx, 'expired', 'the calling window closed for good before this contact was dialed');
        continue;
      }
      if (at > t) {
        later.push({ idx: item.idx, at });
        continue;
      }
      ready.push({ idx: item.idx, n: item.attempt, row: item.rowRaw, st: item.stateRaw });
    }
    for (const l of later) {
      const item = taken.find((x) => x.idx === l.idx)!;
      await service.requeue(cid, l.idx, item.attempt, l.at);
    }
    if (ready.length > 0) {
      await queue.addBulk(dialJobs(cid, ready, group));
      await contacts.doneFeeding(
        cid,
        ready.map((k) => k.idx),
      );
    }
    return ready.length;
  }

  /**
   * One job per contact (job id = attempt id), or per group of `group`
   * (job id = first attempt id + size: a contact is taken once per attempt, so
   * no two groups share it).
   */
  function dialJobs(cid: string, ready: Ready[], group: number): { name: string; data: DialJobData; opts: { jobId: string } }[] {
    const id = (k: Ready): string => attemptId({ campaignId: cid, contact: k.idx, attempt: k.n });
    if (group <= 1) return ready.map((k) => ({ name: 'dial', data: k, opts: { jobId: id(k) } }));
    const jobs: { name: string; data: DialJobData; opts: { jobId: string } }[] = [];
    for (let i = 0; i < ready.length; i += group) {
      const part = ready.slice(i, i + group);
      const first = part[0] as Ready;
      jobs.push({ name: 'dial', data: { group: part.map((k): [number, number, string, string] => [k.idx, k.n, k.row, k.st]) }, opts: { jobId: `${id(first)}+${part.length}` } });
    }
    return jobs;
  }

  /** Contacts a feeder took but never enqueued (it died): enqueue them; the job id makes it idempotent. */
  async function recover(c: ResolvedCampaign): Promise<number> {
    const cid = c.record.id;
    const stale = await contacts.staleFeeding(cid, now() - opts.staleMs, 500);
    if (stale.length === 0) return 0;
    const jobs = [];
    for (const idx of stale) {
      const { state } = await contacts.state(cid, idx);
      if (state.s === 'pending' && state.ph === 'queued') {
        jobs.push({ name: 'dial', data: { idx, n: state.n }, opts: { jobId: attemptId({ campaignId: cid, contact: idx, attempt: state.n }) } });
      }
    }
    if (jobs.length > 0) await queues.get(cid).addBulk(jobs);
    await contacts.doneFeeding(cid, stale);
    if (jobs.length > 0) log.warn({ campaignId: cid, count: jobs.length }, 're-enqueued contacts a feeder had taken');
    return jobs.length;
  }

  /** Campaigns still to check after a change of Redis server (each until its check succeeds). */
  let afterChange = new Set<string>();

  /** One pass over every active campaign. Returns jobs enqueued. */
  async function tick(): Promise<number> {
    let total = 0;
    const active = await deps.campaigns.activeIds();
    if (deps.failover && (await deps.failover.serverChanged())) afterChange = new Set(active);
    for (const cid of active) {
      try {
        const c = await cache.get(cid);
        if (!c) continue;
        const state = c.record.state;
        if (state === 'cancelled') {
          await drain(c, 'cancelled', 'campaign cancelled before this contact was dialed');
          continue;
        }
        if (c.window.expiresAt !== null && now() >= c.window.expiresAt && state !== 'completed') {
          await drain(c, 'expired', 'campaign expired before this contact was dialed');
          continue;
        }
        if (state !== 'running' && state !== 'importing') continue;
        if (afterChange.has(cid) && deps.failover) {
          total += await deps.failover.requeueJobless(cid);
          afterChange.delete(cid);
        }
        await recover(c);
        total += await feed(c);
      } catch (err) {
        log.error({ err, campaignId: cid }, 'feeder pass failed for campaign');
      }
    }
    return total;
  }

  return { tick, feed, drain };
}

export type Feeder = ReturnType<typeof makeFeeder>;
