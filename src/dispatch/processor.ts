/**
 * The dial job processor: one job = one attempt of one contact.
 * Order matters: campaign state → calling window → DNC → pacing slot →
 * attempt recorded as dialing → request → classified answer recorded.
 */
import { RateLimitError, type Job } from 'bullmq';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { ProviderFamily } from '../domain/types.js';
import type { ProviderAdapter } from '../providers/types.js';
import type { Pacer } from '../pacing/types.js';
import type { AttemptService } from '../engine/attempts.js';
import type { CampaignCache } from '../campaign/runtime.js';
import type { ContactStore } from '../store/contacts.js';
import type { DncStore } from '../store/dnc.js';
import type { AttemptStore } from '../store/attempts.js';
import type { QueueRegistry, DialJobData } from '../infra/queues.js';
import { isCallable, nextCallableTime } from '../domain/window.js';
import { attemptId } from '../store/ids.js';

const jobDataSchema = z.object({ idx: z.number().int().min(0), n: z.number().int().min(1) });

export type ProcessResult = 'dialed' | 'exists' | 'stale' | 'requeued' | 'window' | 'ended' | 'missing';

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
}

export function campaignOfQueue(queueName: string): string {
  return queueName.startsWith('dial-') ? queueName.slice(5) : queueName;
}

export function makeDialProcessor(deps: DialProcessorDeps) {
  const { service, campaigns, contacts, pacer, now, log } = deps;

  return async function processDial(job: Job<DialJobData>): Promise<ProcessResult> {
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
    if (state !== 'running' && state !== 'importing') {
      await service.requeue(cid, idx, n, now() + 1000);
      return 'requeued';
    }
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
      await service.requeue(cid, idx, n, next);
      return 'window';
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
      await service.requeue(cid, idx, n, now() + 5000);
      await deps.pauseCampaign(cid, `provider ${d.provider} is not configured in this worker`);
      return 'requeued';
    }

    const id = attemptId({ campaignId: cid, contact: idx, attempt: n });
    const slot = await pacer.acquire({ account: d.provider, campaignId: cid, attemptId: id, holdUntilMs: service.resultDeadline(c, t) + 30_000 });
    if (!slot.ok) {
      // Nothing reserved: hold the whole campaign queue back (every worker) and retry this job then.
      await deps.queues.get(cid).rateLimit(Math.max(10, slot.retryInMs));
      throw new RateLimitError();
    }
    if (slot.waitMs > 0) await deps.sleep(slot.waitMs);

    const begun = await service.begin(c, idx, n, row.d);
    if (begun.result !== 'began') {
      await pacer.release(d.provider, cid, id);
      log.warn({ campaignId: cid, attemptId: id, result: begun.result }, 'attempt not dialed: already begun or no longer due');
      return begun.result;
    }
    if (d.provider === 'sipcall') {
      // Status callbacks carry only the callee: let them find this attempt while it is live.
      await deps.attempts.rememberCallee('sipcall', row.d, id, begun.deadline - t);
    }
    const params = { ...d.params, ...(row.c ?? {}) };
    const outcome = await adapter.dial({ attemptId: id, number: row.d, action: d.action, params });
    await service.dialResult(id, d.provider, outcome);
    log.debug({ campaignId: cid, attemptId: id, outcome: outcome.kind }, 'dialed');
    return 'dialed';
  };
}
