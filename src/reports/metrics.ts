/**
 * What a monitoring system scrapes (`GET /metrics`, Prometheus text format),
 * from one prom-client registry that the container builds.
 *
 * Every `autodialer_*` figure is the deployment's, read from Redis at scrape
 * time, so every server of a deployment answers the same and worker-only
 * processes (which serve no HTTP) are counted:
 * - counters and histograms fed by the domain events of every process
 *   (dials, results, provider errors and latency, time from dial to result),
 *   which each process adds to Redis every few seconds (metrics-tally.ts);
 * - the callback counters the receiver keeps;
 * - gauges of each active campaign: contacts by status, calls in flight,
 *   channels held, target and current rate, queue depths, notifications.
 * The `process_*` and `nodejs_*` defaults are the serving process's own.
 */
import { collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import type { Redis } from 'ioredis';
import { CALLBACK_COUNTERS, type CallbackLog } from '../store/callback-log.js';
import type { CampaignStore } from '../store/campaigns.js';
import type { NotificationCounts } from '../notify/deliveries.js';
import type { CampaignStatus } from './status.js';
import { readTally, TALLY_COUNTERS, TALLY_HISTOGRAMS, type TallyCounter, type TallyHistogram, type TallyTotals } from './metrics-tally.js';

export interface MetricsDeps {
  redis: Redis;
  prefix: string;
  callbackLog: Pick<CallbackLog, 'counters' | 'pendingCount' | 'length'>;
  campaigns: Pick<CampaignStore, 'activeIds' | 'counts' | 'list'>;
  notifications: (campaignId: string) => Promise<NotificationCounts>;
  status: (campaignId: string) => Promise<CampaignStatus | null>;
  /** Job counts of a campaign's dial queue, and of the schedule queue. */
  dialQueueCounts: (campaignId: string) => Promise<Record<string, number>>;
  scheduleQueueCounts: () => Promise<Record<string, number>>;
  /** Collect the process defaults (process_*, nodejs_*): default true. */
  processDefaults?: boolean;
}

/** The callbacks of the whole deployment, as `callbacks stats` prints them. */
export async function callbackStats(deps: Pick<MetricsDeps, 'callbackLog'>): Promise<{ counters: Record<string, number>; stored: number; pending: number }> {
  const [counters, stored, pending] = await Promise.all([deps.callbackLog.counters(null), deps.callbackLog.length(), deps.callbackLog.pendingCount()]);
  return { counters, stored, pending };
}

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;

type Sample = { labels: Record<string, string>; value: number; metricName?: string };
type Kind = 'counter' | 'gauge' | 'histogram';

/**
 * A metric family whose samples are read elsewhere (Redis) before each
 * scrape: prom-client's registry asks it for them as it asks its own.
 */
class ReadFamily {
  readonly aggregator = 'sum';
  samples: Sample[] = [];
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: Kind,
  ) {}
  get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples };
  }
  reset(): void {
    this.samples = [];
  }
}

const labelsOf = (names: readonly string[], values: string[]): Record<string, string> => Object.fromEntries(names.map((n, i) => [n, values[i] ?? '']));

/** Cumulative bucket samples of a histogram, as the text format has them. */
function histogramSamples(name: string, bounds: readonly number[], labels: Record<string, string>, h: { buckets: number[]; sum: number; count: number }): Sample[] {
  const out: Sample[] = [];
  let acc = 0;
  bounds.forEach((le, i) => {
    acc += h.buckets[i] ?? 0;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: String(le) }, value: acc });
  });
  acc += h.buckets[bounds.length] ?? 0;
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: Math.max(acc, h.count) });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}

const COUNTER_INFO: Record<TallyCounter, { name: string; help: string }> = {
  dials: { name: 'autodialer_dials_total', help: 'Dial requests sent, by provider, campaign and how the provider answered (accepted, rejected, fatal, not_sent, transient, in_doubt).' },
  attempt_results: { name: 'autodialer_attempt_results_total', help: 'Attempts that reached a final outcome (answered, no_answer, busy, failed, rejected, no_result, in_doubt, …), by campaign.' },
  provider_errors: { name: 'autodialer_provider_errors_total', help: 'Dial requests that placed no call, by provider and class (rejected, fatal, not_sent, transient, rate_limited, in_doubt).' },
};
const HISTOGRAM_INFO: Record<TallyHistogram, { name: string; help: string }> = {
  provider_request: { name: 'autodialer_provider_request_duration_seconds', help: "Time a dial request to the provider's API took, by provider and result." },
  dial_to_result: { name: 'autodialer_dial_to_result_seconds', help: 'Time from sending a dial to its final result, by provider and outcome (measured where the same process saw both, or from the attempt).' },
};

export interface Metrics {
  registry: Registry;
  contentType: string;
  /** Reads the deployment's figures and renders the registry. */
  render(): Promise<string>;
}

export function makeMetrics(deps: MetricsDeps): Metrics {
  const registry = new Registry();
  if (deps.processDefaults !== false) collectDefaultMetrics({ register: registry });

  const family = (name: string, help: string, type: Kind): ReadFamily => {
    const f = new ReadFamily(name, help, type);
    // prom-client formats any object that answers get() like its own metrics.
    registry.registerMetric(f as unknown as Metric);
    return f;
  };
  const counters = Object.fromEntries(
    (Object.keys(TALLY_COUNTERS) as TallyCounter[]).map((k) => [k, family(COUNTER_INFO[k].name, COUNTER_INFO[k].help, 'counter')]),
  ) as Record<TallyCounter, ReadFamily>;
  const histograms = Object.fromEntries(
    (Object.keys(TALLY_HISTOGRAMS) as TallyHistogram[]).map((k) => [k, family(HISTOGRAM_INFO[k].name, HISTOGRAM_INFO[k].help, 'histogram')]),
  ) as Record<TallyHistogram, ReadFamily>;
  const callbacks = family('autodialer_callbacks_total', 'Callbacks of the deployment: received (stored), and what they turned out to be (refusals and orphans included).', 'counter');
  const stored = family('autodialer_callbacks_stored', 'Raw callbacks kept in the log (within its retention).', 'gauge');
  const pending = family('autodialer_callbacks_pending', 'Stored callbacks not interpreted yet.', 'gauge');
  const active = family('autodialer_campaigns_active', 'Campaigns importing, running or paused.', 'gauge');
  const contacts = family('autodialer_campaign_contacts', 'Contacts of each active campaign by status.', 'gauge');
  const notifications = family('autodialer_campaign_notifications', "Notifications of each active campaign's webhook: delivered, retrying, failed (given up).", 'gauge');
  const inFlight = family('autodialer_calls_in_flight', 'Calls placed and not final yet, by active campaign.', 'gauge');
  const channels = family('autodialer_channels_held', 'Channels held by calls of each active campaign.', 'gauge');
  const targetRate = family('autodialer_campaign_target_dials_per_second', 'The rate each active campaign is held to: the tighter of its own and its account (as slowed by a back-off); absent when nothing limits it.', 'gauge');
  const rate = family('autodialer_campaign_dials_per_second', 'Dials begun per second over the last 10 s, by active campaign.', 'gauge');
  const dialQueue = family('autodialer_dial_queue_jobs', "Jobs in each active campaign's dial queue, by state.", 'gauge');
  const scheduleQueue = family('autodialer_schedule_queue_jobs', 'Jobs in the schedule queue (ticks of scheduled campaigns), by state.', 'gauge');

  async function read(): Promise<void> {
    const [cb, activeIds, tally, scheduleCounts] = await Promise.all([
      callbackStats(deps),
      deps.campaigns.activeIds().then((ids) => ids.sort()),
      readTally(deps.redis, deps.prefix, async (ids) => {
        if (ids.length === 0) return new Set();
        const known = new Set(await deps.campaigns.list());
        return new Set(ids.filter((id) => known.has(id)));
      }),
      deps.scheduleQueueCounts(),
    ]);
    const perCampaign = await Promise.all(
      activeIds.map(async (id) => {
        const [status, queue, notes] = await Promise.all([deps.status(id), deps.dialQueueCounts(id), deps.notifications(id)]);
        return { id, status, queue, notes };
      }),
    );
    fillTally(tally);
    callbacks.samples = CALLBACK_COUNTERS.map((c) => ({ labels: { kind: c }, value: cb.counters[c] ?? 0 }));
    stored.samples = [{ labels: {}, value: cb.stored }];
    pending.samples = [{ labels: {}, value: cb.pending }];
    active.samples = [{ labels: {}, value: activeIds.length }];
    const each = <T>(fn: (c: (typeof perCampaign)[number], s: CampaignStatus) => T[]): T[] => perCampaign.flatMap((c) => (c.status ? fn(c, c.status) : []));
    contacts.samples = each((c, s) => Object.entries(s.counts).map(([status, value]) => ({ labels: { campaign: c.id, status }, value })));
    notifications.samples = perCampaign.flatMap((c) => Object.entries(c.notes).map(([state, value]) => ({ labels: { campaign: c.id, state }, value })));
    inFlight.samples = each((c, s) => [{ labels: { campaign: c.id }, value: s.inFlight }]);
    channels.samples = each((c, s) => [{ labels: { campaign: c.id }, value: s.channels.inUse }]);
    targetRate.samples = each((c, s) => (s.targetRate === null ? [] : [{ labels: { campaign: c.id }, value: s.targetRate }]));
    rate.samples = each((c, s) => (s.rateNow === null ? [] : [{ labels: { campaign: c.id }, value: s.rateNow }]));
    dialQueue.samples = perCampaign.flatMap((c) => QUEUE_STATES.map((state) => ({ labels: { campaign: c.id, state }, value: c.queue[state] ?? 0 })));
    scheduleQueue.samples = QUEUE_STATES.map((state) => ({ labels: { state }, value: scheduleCounts[state] ?? 0 }));
  }

  function fillTally(t: TallyTotals): void {
    for (const k of Object.keys(TALLY_COUNTERS) as TallyCounter[]) {
      counters[k].samples = (t.counters.get(k) ?? []).map((c) => ({ labels: labelsOf(TALLY_COUNTERS[k], c.labels), value: c.value }));
    }
    for (const k of Object.keys(TALLY_HISTOGRAMS) as TallyHistogram[]) {
      const spec = TALLY_HISTOGRAMS[k];
      histograms[k].samples = (t.histograms.get(k) ?? []).flatMap((h) => histogramSamples(HISTOGRAM_INFO[k].name, spec.buckets, labelsOf(spec.labels, h.labels), h));
    }
  }

  // Scrapes one at a time: each reads the figures, then renders them.
  let last: Promise<unknown> = Promise.resolve();
  function render(): Promise<string> {
    const next = last.then(async () => {
      await read();
      return registry.metrics();
    });
    last = next.catch(() => undefined);
    return next;
  }

  return { registry, contentType: registry.contentType, render };
}
