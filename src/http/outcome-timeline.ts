/**
 * A campaign's calls over time, for the page's chart: attempts begun and
 * attempts ended by outcome, counted in time buckets. Computed from what the
 * stores hold (each contact's attempts, in Redis or in the history store),
 * read page by page. A contact that has reached its final status gets no
 * more attempts: once counted, its calls are kept in memory and not read
 * again, so that a campaign's later readings read only the contacts still
 * pending. Readings close together share one computation.
 */
import { ATTEMPT_OUTCOMES } from '../domain/types.js';
import type { CampaignStore } from '../store/campaigns.js';
import type { ContactStore } from '../store/contacts.js';
import type { AttemptStore } from '../store/attempts.js';
import { attemptId } from '../store/ids.js';
import type { HistoryReads } from '../history/reads.js';
import type { AttemptFacts } from '../history/records.js';
import { campaignRecord } from '../reports/contact-pages.js';

/** What a bucket counts: attempts begun (`dialed`), and attempts ended by outcome (`not_sent`: never reached the provider). */
export const TIMELINE_SERIES = ['dialed', ...ATTEMPT_OUTCOMES, 'not_sent'] as const;
export type TimelineSeries = (typeof TIMELINE_SERIES)[number];
const SERIES_INDEX = new Map<string, number>(TIMELINE_SERIES.map((s, i) => [s, i]));

/** Bucket widths the chart is drawn with: the smallest that gives at most `maxBuckets` buckets. */
export const BUCKET_WIDTHS_MS = [1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400].map((s) => s * 1000);

export interface TimelineBucket {
  /** The bucket's start (ISO). */
  at: string;
  /** Counts by series, only those above 0. */
  counts: Partial<Record<TimelineSeries, number>>;
}

export interface Timeline {
  id: string;
  from: string;
  to: string;
  bucketMs: number;
  buckets: TimelineBucket[];
  totals: Partial<Record<TimelineSeries, number>>;
  /** When it was computed and how long that took. */
  computedAt: string;
  tookMs: number;
}

/** Calls as events: time (whole seconds) and series index, in two parallel lists. */
interface Events {
  t: number[];
  k: number[];
}

export function chooseBucketMs(spanMs: number, maxBuckets: number): number {
  for (const w of BUCKET_WIDTHS_MS) if (Math.ceil(Math.max(1, spanMs) / w) <= maxBuckets) return w;
  return BUCKET_WIDTHS_MS.at(-1)!;
}

/** Counts events by bucket from `fromMs` (aligned down to the bucket width) to `toMs`. Pure. */
export function bucketize(lists: readonly Events[], fromMs: number, toMs: number, maxBuckets: number): Pick<Timeline, 'bucketMs' | 'buckets' | 'totals' | 'from' | 'to'> {
  const bucketMs = chooseBucketMs(toMs - fromMs, maxBuckets);
  const start = Math.floor(fromMs / bucketMs) * bucketMs;
  const n = Math.max(1, Math.ceil((toMs - start) / bucketMs));
  const grid = Array.from({ length: n }, () => new Array<number>(TIMELINE_SERIES.length).fill(0));
  const totals = new Array<number>(TIMELINE_SERIES.length).fill(0);
  for (const { t, k } of lists) {
    for (let i = 0; i < t.length; i++) {
      // An event outside the span (clocks apart) is counted in the nearest bucket.
      const b = Math.min(n - 1, Math.max(0, Math.floor((t[i]! * 1000 - start) / bucketMs)));
      grid[b]![k[i]!]!++;
      totals[k[i]!]!++;
    }
  }
  const named = (row: number[]): Partial<Record<TimelineSeries, number>> => {
    const out: Partial<Record<TimelineSeries, number>> = {};
    row.forEach((v, i) => {
      if (v > 0) out[TIMELINE_SERIES[i]!] = v;
    });
    return out;
  };
  return {
    from: new Date(start).toISOString(),
    to: new Date(toMs).toISOString(),
    bucketMs,
    buckets: grid.map((row, i) => ({ at: new Date(start + i * bucketMs).toISOString(), counts: named(row) })),
    totals: named(totals),
  };
}

/** Adds one attempt's events: begun, and ended with its outcome. */
function addAttempt(into: Events, a: Pick<AttemptFacts, 'dialingAt' | 'finalAt' | 'outcome' | 'state'>): void {
  if (a.dialingAt !== null) {
    into.t.push(Math.floor(a.dialingAt / 1000));
    into.k.push(0);
  }
  if (a.finalAt === null) return;
  const series = a.outcome ?? (a.state === 'not_sent' ? 'not_sent' : null);
  const k = series === null ? undefined : SERIES_INDEX.get(series);
  if (k === undefined) return;
  into.t.push(Math.floor(a.finalAt / 1000));
  into.k.push(k);
}

export interface TimelineDeps {
  campaigns: Pick<CampaignStore, 'get'>;
  contacts: Pick<ContactStore, 'range'>;
  attempts: Pick<AttemptStore, 'get'>;
  /** Contacts that left Redis are read there (absent: Redis alone). */
  history?: HistoryReads | null;
  now: () => number;
}

export interface TimelineOptions {
  /** Contacts read at a time (default 1000). */
  pageSize?: number;
  /** At most this many buckets (default 60). */
  maxBuckets?: number;
  /** A reading younger than this is served again (default 2 s; at least four times what it took). */
  reuseMs?: number;
  /** Campaigns whose settled calls are kept in memory (default 16). */
  keep?: number;
}

/** What is kept of a campaign: which contacts are settled, and their calls. */
interface Settled {
  total: number;
  done: Uint8Array;
  events: Events;
}

export function makeOutcomeTimeline(deps: TimelineDeps, options: TimelineOptions = {}) {
  const pageSize = options.pageSize ?? 1000;
  const maxBuckets = options.maxBuckets ?? 60;
  const reuseMs = options.reuseMs ?? 2000;
  const keep = options.keep ?? 16;
  const settledOf = new Map<string, Settled>();
  /** Readings in progress (until: null) or recent enough to serve again. */
  const recent = new Map<string, { until: number | null; value: Promise<Timeline> }>();

  function settled(cid: string, total: number): Settled {
    let s = settledOf.get(cid);
    if (s && s.total < total) {
      // Contacts added to the campaign: the same ones, more room.
      const done = new Uint8Array(total);
      done.set(s.done);
      s = { total, done, events: s.events };
    }
    s ??= { total, done: new Uint8Array(total), events: { t: [], k: [] } };
    settledOf.delete(cid);
    settledOf.set(cid, s);
    while (settledOf.size > keep) settledOf.delete(settledOf.keys().next().value!);
    return s;
  }

  async function fromHistory(history: HistoryReads, cid: string, s: Settled, from: number, to: number): Promise<void> {
    let open = false;
    for (let i = from; i < to && !open; i++) open = s.done[i] === 0;
    if (!open) return;
    // Contacts in the history store are final: settled.
    for (const a of await history.attempts(cid, from, to)) if (s.done[a.idx] === 0) addAttempt(s.events, a);
    s.done.fill(1, from, to);
  }

  async function fromRedis(cid: string, s: Settled, live: Events, from: number, to: number): Promise<void> {
    const page = await deps.contacts.range(cid, from, to - from);
    const reads: Promise<void>[] = [];
    for (const { idx, state } of page) {
      if (s.done[idx] === 1 || state.n === 0) continue;
      const final = state.s !== 'pending' && state.ph === undefined;
      const into = final ? s.events : live;
      const ids = Array.from({ length: state.n }, (_, i) => attemptId({ campaignId: cid, contact: idx, attempt: i + 1 }));
      reads.push(
        Promise.all(ids.map((id) => deps.attempts.get(id))).then((attempts) => {
          for (const a of attempts) if (a) addAttempt(into, a);
          if (final) s.done[idx] = 1;
        }),
      );
    }
    await Promise.all(reads);
  }

  async function compute(cid: string): Promise<Timeline> {
    const began = deps.now();
    const c = await campaignRecord({ campaigns: deps.campaigns, history: deps.history ?? null }, cid);
    const s = settled(cid, c.total);
    const live: Events = { t: [], k: [] };
    const history = deps.history ?? null;
    for (let from = 0; from < c.total; from += pageSize) {
      const to = Math.min(c.total, from + pageSize);
      const below = !history ? 0 : c.deleted ? c.total : await history.purgedBelow(cid);
      if (history && from < below) await fromHistory(history, cid, s, from, Math.min(to, below));
      if (to > below) await fromRedis(cid, s, live, Math.max(from, below), to);
    }
    const end = deps.now();
    const fromMs = Date.parse(c.startedAt ?? c.createdAt);
    const toMs = c.finishedAt ? Date.parse(c.finishedAt) : end;
    return {
      id: cid,
      ...bucketize([s.events, live], fromMs, Math.max(fromMs + 1000, toMs), maxBuckets),
      computedAt: new Date(end).toISOString(),
      tookMs: end - began,
    };
  }

  /** The campaign's timeline (a CampaignStoreError when there is no such campaign). */
  return async function timeline(cid: string): Promise<Timeline> {
    const hit = recent.get(cid);
    if (hit && (hit.until === null || deps.now() < hit.until)) return hit.value;
    const value = compute(cid);
    const entry: { until: number | null; value: Promise<Timeline> } = { until: null, value };
    recent.set(cid, entry);
    while (recent.size > keep) recent.delete(recent.keys().next().value!);
    try {
      const done = await value;
      // Served again for a while; a long computation for longer, so that readings take at most a fifth of the time.
      entry.until = deps.now() + Math.max(reuseMs, 4 * done.tookMs);
      return done;
    } catch (err) {
      if (recent.get(cid) === entry) recent.delete(cid);
      throw err;
    }
  };
}

export type OutcomeTimeline = ReturnType<typeof makeOutcomeTimeline>;
