/**
 * What a monitoring system scrapes (`GET /metrics`, Prometheus text format):
 * the deployment's callbacks by what they turned out to be (refusals and
 * orphans included, which belong to no campaign), the stored and pending
 * ones, and for each active campaign its contacts by status and its
 * notifications. Read from Redis on each scrape, so every process of a
 * deployment answers the same.
 */
import { CALLBACK_COUNTERS, type CallbackLog } from '../store/callback-log.js';
import type { CampaignStore } from '../store/campaigns.js';
import type { NotificationCounts } from '../notify/deliveries.js';

export interface MetricsDeps {
  callbackLog: Pick<CallbackLog, 'counters' | 'pendingCount' | 'length'>;
  campaigns: Pick<CampaignStore, 'activeIds' | 'counts'>;
  notifications: (campaignId: string) => Promise<NotificationCounts>;
}

/** The callbacks of the whole deployment, as `callbacks stats` prints them. */
export async function callbackStats(deps: Pick<MetricsDeps, 'callbackLog'>): Promise<{ counters: Record<string, number>; stored: number; pending: number }> {
  const [counters, stored, pending] = await Promise.all([deps.callbackLog.counters(null), deps.callbackLog.length(), deps.callbackLog.pendingCount()]);
  return { counters, stored, pending };
}

/** A label value as the text format wants it (backslash, quote and newline escaped). */
const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function family(lines: string[], name: string, help: string, samples: [labels: Record<string, string>, value: number][]): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
  for (const [labels, value] of samples) {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${label(v)}"`)
      .join(',');
    lines.push(`${name}${l ? `{${l}}` : ''} ${value}`);
  }
}

export async function renderMetrics(deps: MetricsDeps): Promise<string> {
  const { counters, stored, pending } = await callbackStats(deps);
  const active = (await deps.campaigns.activeIds()).sort();
  const perCampaign = await Promise.all(active.map(async (id) => ({ id, counts: (await deps.campaigns.counts(id)).byStatus, notifications: await deps.notifications(id) })));
  const lines: string[] = [];
  family(
    lines,
    'autodialer_callbacks',
    'Callbacks of the deployment: received (stored), and what they turned out to be (refusals and orphans included).',
    CALLBACK_COUNTERS.map((c) => [{ kind: c }, counters[c] ?? 0]),
  );
  family(lines, 'autodialer_callbacks_stored', 'Raw callbacks kept in the log (within its retention).', [[{}, stored]]);
  family(lines, 'autodialer_callbacks_pending', 'Stored callbacks not interpreted yet.', [[{}, pending]]);
  family(lines, 'autodialer_campaigns_active', 'Campaigns importing, running or paused.', [[{}, active.length]]);
  family(
    lines,
    'autodialer_campaign_contacts',
    'Contacts of each active campaign by status.',
    perCampaign.flatMap((c) => Object.entries(c.counts).map(([status, n]): [Record<string, string>, number] => [{ campaign: c.id, status }, n])),
  );
  family(
    lines,
    'autodialer_campaign_notifications',
    "Notifications of each active campaign's webhook: delivered, retrying, failed (given up).",
    perCampaign.flatMap((c) => Object.entries(c.notifications).map(([state, n]): [Record<string, string>, number] => [{ campaign: c.id, state }, n])),
  );
  return `${lines.join('\n')}\n`;
}
