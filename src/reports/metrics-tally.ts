/**
 * Counts and timings taken from the domain events of this process, added to
 * the deployment's totals in Redis every few seconds (one round trip), so
 * that `/metrics` on any server reports every process's dials, including
 * those of worker-only processes, which serve no HTTP. A process that dies
 * loses at most its last unsent seconds.
 *
 * Layout: one hash, `<prefix>:metrics`, whose fields are JSON arrays
 * `[family, ...label values]` (counters) and `[family, ...label values, "b", i]`,
 * `[..., "sum"]`, `[..., "count"]` (histograms: each bucket's own count,
 * not cumulative).
 */
import type { Redis } from 'ioredis';
import type { DialerEvents } from '../engine/events.js';

/** Counter families fed from events, with their label names. */
export const TALLY_COUNTERS = {
  dials: ['provider', 'campaign', 'result'],
  attempt_results: ['campaign', 'outcome'],
  provider_errors: ['provider', 'class'],
} as const;

/** Histogram families fed from events: their label names and bucket upper bounds (seconds). */
export const TALLY_HISTOGRAMS = {
  provider_request: { labels: ['provider', 'result'], buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] },
  dial_to_result: { labels: ['provider', 'outcome'], buckets: [5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600] },
} as const;

export type TallyCounter = keyof typeof TALLY_COUNTERS;
export type TallyHistogram = keyof typeof TALLY_HISTOGRAMS;

export const metricsKey = (prefix: string): string => `${prefix}:metrics`;


export interface MetricsTally {
  /** Adds what was counted since the last flush to the totals in Redis. */
  flush(): Promise<void>;
  /** Stops listening to the events. */
  detach(): void;
}

export function makeMetricsTally(deps: { events: DialerEvents; redis: Redis; prefix: string; now: () => number }): MetricsTally {
  const key = metricsKey(deps.prefix);
  /** Field → increment since the last flush (integers for counts, floats for sums). */
  let pending = new Map<string, number>();

  const add = (field: string, by: number) => pending.set(field, (pending.get(field) ?? 0) + by);
  const count = (family: TallyCounter, values: string[]) => add(JSON.stringify([family, ...values]), 1);
  function observe(family: TallyHistogram, values: string[], seconds: number): void {
    const { buckets } = TALLY_HISTOGRAMS[family];
    let i = buckets.findIndex((le) => seconds <= le);
    if (i < 0) i = buckets.length;
    add(JSON.stringify([family, ...values, 'b', i]), 1);
    add(JSON.stringify([family, ...values, 'sum']), seconds);
    add(JSON.stringify([family, ...values, 'count']), 1);
  }

  const onDialed = ({ campaignId, kind, family }: { campaignId: string; attemptId: string; kind: string; family: string }) => {
    count('dials', [family, campaignId, kind]);
  };
  // A final attempt carries its provider and dial time, whatever process sees its end: nothing is kept per dial.
  const onFinal = (e: { campaignId: string; attemptId: string; outcome: string; family?: string; dialedAt?: number }) => {
    count('attempt_results', [e.campaignId, e.outcome]);
    const at = e.dialedAt;
    const family = e.family;
    if (at === undefined || !family) return;
    observe('dial_to_result', [family, e.outcome], Math.max(0, deps.now() - at) / 1000);
  };
  const onRequest = (e: { family: string; kind: string; errorClass: string | null; seconds: number }) => {
    observe('provider_request', [e.family, e.kind], e.seconds);
    if (e.errorClass !== null) count('provider_errors', [e.family, e.errorClass]);
  };

  deps.events.on('attempt:dialed', onDialed);
  deps.events.on('attempt:final', onFinal);
  deps.events.on('provider:request', onRequest);

  async function flush(): Promise<void> {
    if (pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    const m = deps.redis.multi();
    // Sums of seconds are floats; counts are whole numbers (a field is always written one way).
    for (const [field, by] of batch) {
      if (field.endsWith(',"sum"]')) m.hincrbyfloat(key, field, by);
      else m.hincrby(key, field, by);
    }
    try {
      await m.exec();
    } catch (err) {
      // Not added: keep it for the next flush.
      for (const [field, by] of batch) add(field, by);
      throw err;
    }
  }

  function detach(): void {
    deps.events.off('attempt:dialed', onDialed);
    deps.events.off('attempt:final', onFinal);
    deps.events.off('provider:request', onRequest);
  }

  return { flush, detach };
}

/** The deployment's totals as they stand in Redis, by family. */
export interface TallyTotals {
  counters: Map<TallyCounter, { labels: string[]; value: number }[]>;
  histograms: Map<TallyHistogram, { labels: string[]; buckets: number[]; sum: number; count: number }[]>;
  /** Campaign ids found in the fields. */
  campaigns: Set<string>;
}

/** Reads the totals; fields of campaigns `keep` says no longer exist are removed. */
export async function readTally(redis: Redis, prefix: string, keep: (campaignIds: string[]) => Promise<Set<string>>): Promise<TallyTotals> {
  const raw = await redis.hgetall(metricsKey(prefix));
  const counters: TallyTotals['counters'] = new Map();
  const hist = new Map<string, { family: TallyHistogram; labels: string[]; buckets: number[]; sum: number; count: number }>();
  const byCampaign = new Map<string, string[]>();
  for (const [field, text] of Object.entries(raw)) {
    let parts: unknown;
    try {
      parts = JSON.parse(field);
    } catch {
      continue;
    }
    if (!Array.isArray(parts) || parts.length < 2) continue;
    const family = String(parts[0]);
    const value = Number(text);
    if (family in TALLY_COUNTERS) {
      const names = TALLY_COUNTERS[family as TallyCounter];
      const labels = parts.slice(1, 1 + names.length).map(String);
      if (labels.length !== names.length) continue;
      const c = names.indexOf('campaign' as never);
      if (c >= 0) byCampaign.set(labels[c]!, [...(byCampaign.get(labels[c]!) ?? []), field]);
      const list = counters.get(family as TallyCounter) ?? [];
      list.push({ labels, value });
      counters.set(family as TallyCounter, list);
    } else if (family in TALLY_HISTOGRAMS) {
      const spec = TALLY_HISTOGRAMS[family as TallyHistogram];
      const labels = parts.slice(1, 1 + spec.labels.length).map(String);
      const rest = parts.slice(1 + spec.labels.length);
      const id = JSON.stringify([family, ...labels]);
      const h = hist.get(id) ?? { family: family as TallyHistogram, labels, buckets: new Array<number>(spec.buckets.length + 1).fill(0), sum: 0, count: 0 };
      if (rest[0] === 'b' && typeof rest[1] === 'number' && rest[1] >= 0 && rest[1] <= spec.buckets.length) h.buckets[rest[1]] = value;
      else if (rest[0] === 'sum') h.sum = value;
      else if (rest[0] === 'count') h.count = value;
      hist.set(id, h);
    }
  }
  const existing = await keep([...byCampaign.keys()]);
  const gone = [...byCampaign.entries()].filter(([cid]) => !existing.has(cid));
  if (gone.length > 0) {
    await redis.hdel(metricsKey(prefix), ...gone.flatMap(([, fields]) => fields));
    for (const [family, list] of counters) {
      const c = (TALLY_COUNTERS[family] as readonly string[]).indexOf('campaign');
      if (c >= 0) counters.set(family, list.filter((x) => existing.has(x.labels[c]!)));
    }
  }
  const histograms: TallyTotals['histograms'] = new Map();
  for (const h of hist.values()) {
    const list = histograms.get(h.family) ?? [];
    list.push({ labels: h.labels, buckets: h.buckets, sum: h.sum, count: h.count });
    histograms.set(h.family, list);
  }
  return { counters, histograms, campaigns: existing };
}

/**
 * The campaign a field of the tally counts for: its campaign label, or null
 * for a deployment-wide series (a provider's request durations by result,
 * bucket by bucket: bounded by its labels and buckets) or a field this
 * version does not know.
 */
export function campaignOfField(field: string): string | null {
  let parts: unknown;
  try {
    parts = JSON.parse(field);
  } catch {
    return null;
  }
  if (!Array.isArray(parts)) return null;
  const family = String(parts[0]);
  const names: readonly string[] | undefined =
    family in TALLY_COUNTERS ? TALLY_COUNTERS[family as TallyCounter] : family in TALLY_HISTOGRAMS ? TALLY_HISTOGRAMS[family as TallyHistogram].labels : undefined;
  const c = names?.indexOf('campaign') ?? -1;
  return c >= 0 && typeof parts[1 + c] === 'string' ? (parts[1 + c] as string) : null;
}

/**
 * Removes a deleted campaign's series from the deployment's tally (its fields
 * name the campaign as a label), so that the hash does not grow with every
 * campaign ever run, whether /metrics is scraped or not.
 */
export async function dropCampaignSeries(redis: Redis, prefix: string, campaignId: string): Promise<number> {
  const key = metricsKey(prefix);
  const fields: string[] = [];
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'MATCH', `*"${campaignId}"*`, 'COUNT', 500);
    cursor = next;
    for (let i = 0; i < flat.length; i += 2) {
      const field = flat[i]!;
      if (campaignOfField(field) === campaignId) fields.push(field);
    }
  } while (cursor !== '0');
  return fields.length > 0 ? redis.hdel(key, ...fields) : 0;
}
