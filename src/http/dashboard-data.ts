/**
 * What the campaign page shows of each campaign: its status (progress,
 * outcomes, pace and what holds it), its dial queue, and its calling window
 * (open until when, or when it opens next).
 */
import type { CampaignRecord, CampaignStore } from '../store/campaigns.js';
import type { CampaignStatus, StatusReport } from '../reports/status.js';
import type { QueueRegistry } from '../infra/queues.js';
import { resolveCampaign } from '../campaign/runtime.js';
import { isCallable, nextCallableTime, windowClosesAt } from '../domain/window.js';

export interface CampaignWindow {
  open: boolean;
  /** When calling may begin again (null: open now, or never again). */
  opensAt: string | null;
  /** When calling stops (null: closed, or never). */
  closesAt: string | null;
  zone: string;
  /** The window as defined: `09:00-18:00`, `mon-fri` (null: any hour, any day). */
  hours: string | null;
  days: string | null;
}

export interface CampaignOverview {
  status: CampaignStatus;
  /** Jobs in the campaign's dial queue (null once it has ended). */
  queue: { waiting: number; active: number; delayed: number; prioritized: number } | null;
  /** Null once the campaign has ended. */
  window: CampaignWindow | null;
}

export interface OverviewDeps {
  campaigns: Pick<CampaignStore, 'list' | 'get'>;
  status: StatusReport;
  queues: Pick<QueueRegistry, 'get'>;
  now: () => number;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The calling window at `nowMs` in the campaign's own zone. Pure. */
export function campaignWindow(record: CampaignRecord, nowMs: number): CampaignWindow {
  const { window, zone } = resolveCampaign(record);
  const open = isCallable(window, zone, nowMs);
  return {
    open,
    opensAt: open ? null : iso(nextCallableTime(window, zone, nowMs)),
    closesAt: open ? iso(windowClosesAt(window, zone, nowMs)) : null,
    zone,
    hours: record.definition.window.hours,
    days: record.definition.window.days,
  };
}

const ended = (state: string): boolean => state === 'completed' || state === 'cancelled';

/** The newest `limit` campaigns, newest first. */
export async function campaignOverview(deps: OverviewDeps, limit = 50): Promise<CampaignOverview[]> {
  const ids = (await deps.campaigns.list()).slice(-limit).reverse();
  const t = deps.now();
  const rows = await Promise.all(
    ids.map(async (id): Promise<CampaignOverview | null> => {
      const [status, record] = await Promise.all([deps.status(id), deps.campaigns.get(id)]);
      if (!status) return null;
      if (!record || ended(status.state)) return { status, queue: null, window: null };
      const counts = await deps.queues.get(id).getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      const queue = { waiting: counts.waiting ?? 0, active: counts.active ?? 0, delayed: counts.delayed ?? 0, prioritized: counts.prioritized ?? 0 };
      return { status, queue, window: campaignWindow(record, t) };
    }),
  );
  return rows.filter((r): r is CampaignOverview => r !== null);
}
