/**
 * A campaign as workers and the receiver use it: the stored record plus its
 * resolved policies, cached briefly so that a pause or a new pace reaches
 * every process within a second without a Redis read per call.
 */
import type { CampaignRecord, CampaignStore } from '../store/campaigns.js';
import { buildRetryPolicy, type RetryPolicy } from '../domain/retry.js';
import { buildCallingWindow, type CallingWindow } from '../domain/window-spec.js';

export interface ResolvedCampaign {
  record: CampaignRecord;
  retry: RetryPolicy;
  window: CallingWindow;
  /** The campaign's own zone, for contacts that have none. */
  zone: string;
}

export function resolveCampaign(record: CampaignRecord): ResolvedCampaign {
  const d = record.definition;
  const w = d.window;
  return {
    record,
    retry: buildRetryPolicy({ retry: d.retry, maxAttempts: d.maxAttempts, retryDelayMs: d.retryDelayMs, minGapMs: d.minGapMs }),
    window: buildCallingWindow({
      hours: w.hours,
      days: w.days,
      blackout: w.blackout,
      startsAt: w.startsAt ? Date.parse(w.startsAt) : null,
      expiresAt: w.expiresAt ? Date.parse(w.expiresAt) : null,
    }),
    zone: w.timezone,
  };
}

export function makeCampaignCache(deps: { campaigns: CampaignStore; now: () => number; ttlMs?: number }) {
  const ttl = deps.ttlMs ?? 1000;
  const cache = new Map<string, { at: number; value: ResolvedCampaign | null; pending?: Promise<ResolvedCampaign | null> }>();

  async function load(id: string): Promise<ResolvedCampaign | null> {
    const record = await deps.campaigns.get(id);
    return record ? resolveCampaign(record) : null;
  }

  /** The campaign, at most `ttlMs` old. */
  async function get(id: string): Promise<ResolvedCampaign | null> {
    const hit = cache.get(id);
    const now = deps.now();
    if (hit && now - hit.at < ttl) return hit.pending ?? hit.value;
    const pending = load(id);
    cache.set(id, { at: now, value: hit?.value ?? null, pending });
    try {
      const value = await pending;
      cache.set(id, { at: now, value });
      return value;
    } catch (err) {
      cache.delete(id);
      throw err;
    }
  }

  function invalidate(id: string): void {
    cache.delete(id);
  }

  return { get, invalidate };
}

export type CampaignCache = ReturnType<typeof makeCampaignCache>;
