/**
 * The dial job processor: one job = one attempt of one contact.
 * Order matters: campaign state → calling window → DNC → pacing slot (in
 * line behind this process's other jobs of the campaign) → attempt recorded
 * as dialing → wait for the slot → last look at the campaign → request →
 * classified answer recorded.
 *
 * A job that cannot dial now but has no attempt yet (campaign paused, window
 * closed, worker stopping) is kept and delayed, never completed: its id is
 * the attempt id, and a completed job's id is not enqueued again.
 */
import { DelayedError, WaitingError, type Job } from 'bullmq';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { ProviderFamily } from '../domain/types.js';
import type { ProviderAdapter } from '../providers/types.js';
import type { Pacer } from '../pacing/types.js';
import type { AttemptService } from '../engine/attempts.js';
import type { CampaignCache, ResolvedCampaign } from '../campaign/runtime.js';
import type { ContactStore } from '../store/contacts.js';
import type { DncStore } from '../store/dnc.js';
import type { AttemptStore } from '../store/attempts.js';
import type { QueueRegistry, DialJobData } from '../infra/queues.js';
import { nextCallableTime } from '../domain/window.js';
import { attemptId } from '../store/ids.js';
import { makeSlotGate, type SlotGate } from './slot-gate.js';
import { makeWindowCheck } from './window-check.js';

const jobDataSchema = z.object({ idx: z.number().int().min(0), n: z.number().int().min(1) });

export type ProcessResult = 'dialed' | 'exists' | 'stale' | 'ended' | 'missing' | 'withdrawn';

/** While a campaign is paused, a job in hand looks again this often. */
const PAUSED_RECHECK_MS = 1000;

/**
 * Dial slots are spaced (1000 + this) / cps ms apart: calls that leave late
 * by different amounts still fit the provider's sliding second while the
 * difference stays under it (docs/pacing.md). Costs 1.5 % of the rate.
 */
export const DIAL_SAFETY_MARGIN_MS = 15;

/**
 * No slot sooner than this from the grant; the attempt is recorded as dialing
 * this long before its slot, so the request leaves at the slot, not after the
 * writes.
 */
export const DIAL_LEAD_MS = 50;

export interface DialProcessorDeps {
  providers: ReadonlyMap<ProviderFamily, ProviderAdapter>;
  service: AttemptService;
  campaigns: CampaignCache;
  contacts: ContactStore;
  attempts: AttemptStore;
  dnc: DncStore;
  pacer: Pacer;
  queues: QueueRegistry;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  log: Logger;
  pauseCampaign: (campaignId: string, reason: string) => Promise<void>;
  /** Where jobs wait for pacing slots (default: a gate of this processor's own). */
  gate?: SlotGate;
  /** Default DIAL_SAFETY_MARGIN_MS. */
  safetyMarginMs?: number;
}

export function campaignOfQueue(queueName: string): string {
  return queueName.startsWith('dial-') ? queueName.slice(5) : queueName;
}

function dialing(c: ResolvedCampaign | null): boolean {
  const state = c?.record.state;
  return state === 'running' || state === 'importing';
}

export function makeDialProcessor(deps: DialProcessorDeps) {
  const { service, campaigns, contacts, pacer, now, log } = deps;
  const gate = deps.gate ?? makeSlotGate({ pacer, now, sleep: deps.sleep });
  const isCallable = makeWindowCheck();
  const safetyMarginMs = deps.safetyMarginMs ?? DIAL_SAFETY_MARGIN_MS;

  /** Keeps the job (same id, no attempt made) and runs it again at `at`. */
  async function later(job: Job<DialJobData>, token: string | undefined, at: number): Promise<never> {
    await job.moveToDelayed(at, token);
    throw new DelayedError();
  }

  /** Hands the job back to the queue at once (this worker is stopping). */
  async function handBack(job: Job<DialJobData>, token: string | undefined): Promise<never> {
    await job.moveToWait(token);
    throw new WaitingError();
  }

  return async function processDial(job: Job<DialJobData>, token?: string, signal?: AbortSignal): Promise<ProcessResult> {
    const cid = campaignOfQueue(job.queueName);
    const data = jobDataSchema.safeParse(job.data);
    if (!data.success) {
      log.error({ campaignId: cid, jobId: job.id }, 'dial job with unreadable data dropped');
      return 'missing';
    }
    const { idx, n } = data.data;
    const c = await campaigns.get(cid);
    if (!c) return 'missing';
    const state = c.record.state;
    if (state === 'cancelled') {
      await service.endContact(cid, idx, 'cancelled', 'campaign cancelled before this contact was dialed');
      return 'ended';
    }
    if (!dialing(c)) return later(job, token, now() + PAUSED_RECHECK_MS);
    const row = await contacts.row(cid, idx);
    if (!row || !row.d || !row.e) {
      log.error({ campaignId: cid, contact: idx }, 'dial job for a contact without a number');
      return 'missing';
    }
    const t = now();
    const zone = row.z ?? c.zone;
    if (!isCallable(c.window, zone, t)) {
      const next = nextCallableTime(c.window, zone, t);
      if (next === null) {
        await service.endContact(cid, idx, 'expired', 'the calling window closed for good before this contact was dialed');
        return 'ended';
      }
      return later(job, token, next);
    }
    const d = c.record.definition;
    if (d.dnc.length > 0) {
      const on = await deps.dnc.check(row.e, d.dnc);
      if (on.length > 0) {
        await service.endContact(cid, idx, 'dnc', `number added to do-not-call list ${on.join(', ')} before it was dialed`);
        return 'ended';
      }
    }
    const adapter = deps.providers.get(d.provider);
    if (!adapter) {
      await deps.pauseCampaign(cid, `provider ${d.provider} is not configured in this worker`);
      return later(job, token, now() + 5000);
    }

    const id = attemptId({ campaignId: cid, contact: idx, attempt: n });
    // A channel is held past the latest result deadline this call can get (freed earlier by its result).
    const holdMs = service.dialDeadline(c, t) - t + 30_000;
    const slot = await gate.acquire(`${d.provider}|${cid}`, {
      request: () => ({ account: d.provider, campaignId: cid, attemptId: id, holdUntilMs: now() + holdMs, safetyMarginMs, leadMs: DIAL_LEAD_MS }),
      wanted: async () => dialing(await campaigns.get(cid)),
      ...(signal ? { signal } : {}),
    });
    if (slot === null) {
      // No slot and no attempt: the campaign stopped dialing, or this worker is stopping.
      const current = await campaigns.get(cid);
      if (current?.record.state === 'cancelled') {
        await service.endContact(cid, idx, 'cancelled', 'campaign cancelled before this contact was dialed');
        return 'ended';
      }
      if (signal?.aborted) return handBack(job, token);
      return later(job, token, now() + PAUSED_RECHECK_MS);
    }

    // The attempt is recorded as dialing just before its slot (within the lead), not when the slot was
    // reserved: a worker that dies while waiting leaves no attempt in doubt that never left.
    const beginAt = slot.sendAt - DIAL_LEAD_MS;
    if (beginAt > now()) await deps.sleep(beginAt - now());
    // Status callbacks (sipcall) carry only the callee: let them find this attempt while it is live.
    // Written beside the begin (one round trip); a begin that does not happen leaves a key that leads nowhere.
    const [begun] = await Promise.all([
      service.begin(c, idx, n, row.d),
      d.provider === 'sipcall' ? deps.attempts.rememberCallee('sipcall', row.d, id, holdMs) : Promise.resolve(),
    ]);
    if (begun.result !== 'began') {
      await pacer.release(d.provider, cid, id);
      log.warn({ campaignId: cid, attemptId: id, result: begun.result }, 'attempt not dialed: already begun or no longer due');
      return begun.result;
    }
    // The request leaves at its reserved slot, not when the bookkeeping before it happens to end,
    // and only once the send-time log admits it (a sender that woke late never bunches calls).
    const wait = slot.sendAt - now();
    if (wait > 0) await deps.sleep(wait);
    const admit = () => pacer.admit(d.provider, cid, id, safetyMarginMs);
    for (let admitted = slot.rated ? await admit() : ({ ok: true } as const); !admitted.ok; admitted = await admit()) {
      await deps.sleep(admitted.retryInMs);
    }
    const current = await campaigns.get(cid);
    if (!dialing(current)) {
      // Paused or cancelled while this call waited for its slot: it never leaves.
      await service.dialResult(id, d.provider, {
        kind: 'not_sent',
        reason: `campaign ${current?.record.state ?? 'gone'} before the request left`,
        code: 'ERR_CAMPAIGN_STOPPED',
      });
      return 'withdrawn';
    }
    const params = { ...d.params, ...(row.c ?? {}) };
    const outcome = await adapter.dial({ attemptId: id, number: row.d, action: d.action, params });
    await service.dialResult(id, d.provider, outcome);
    log.debug({ campaignId: cid, attemptId: id, outcome: outcome.kind }, 'dialed');
    return 'dialed';
  };
}
