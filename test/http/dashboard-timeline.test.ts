/**
 * A campaign's calls over time (the page's chart): the buckets are chosen and
 * filled as they should be, and against a whole dialer and the simulator the
 * counts are the attempts the store holds: each attempt begun once, each
 * ended once under its outcome, a contact still pending read again until it
 * is final.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketize, chooseBucketMs, makeOutcomeTimeline, TIMELINE_SERIES, type Timeline, type TimelineSeries } from '../../src/http/outcome-timeline.js';
import { attemptId } from '../../src/store/ids.js';
import { csvSource, startHarness, type Harness } from '../support/harness.js';
import { until } from '../support/until.js';

describe('buckets', () => {
  it('takes the smallest width that gives at most the buckets asked for', () => {
    expect(chooseBucketMs(59_000, 60)).toBe(1000);
    expect(chooseBucketMs(60_001, 60)).toBe(5000);
    expect(chooseBucketMs(3_600_000, 60)).toBe(60_000);
    expect(chooseBucketMs(3 * 86_400_000, 60)).toBe(3 * 3_600_000);
    expect(chooseBucketMs(365 * 86_400_000, 60)).toBe(86_400_000);
  });

  it('counts each event in its bucket, from the start aligned to the width', () => {
    const k = (s: TimelineSeries) => TIMELINE_SERIES.indexOf(s);
    const t0 = Date.UTC(2026, 0, 5, 9, 0, 3);
    const events = { t: [t0 / 1000, t0 / 1000 + 4, t0 / 1000 + 5, t0 / 1000 + 200], k: [k('dialed'), k('answered'), k('answered'), k('busy')] };
    const out = bucketize([events], t0, t0 + 120_000, 60);
    expect(out.bucketMs).toBe(5000);
    expect(out.from).toBe('2026-01-05T09:00:00.000Z');
    expect(out.buckets).toHaveLength(25);
    expect(out.buckets[0]).toEqual({ at: '2026-01-05T09:00:00.000Z', counts: { dialed: 1 } });
    expect(out.buckets[1]).toEqual({ at: '2026-01-05T09:00:05.000Z', counts: { answered: 2 } });
    // After the end (clocks apart): the last bucket.
    expect(out.buckets.at(-1)!.counts).toEqual({ busy: 1 });
    expect(out.totals).toEqual({ dialed: 1, answered: 2, busy: 1 });
  });
});

describe('a campaign against the simulator', () => {
  let h: Harness;
  const script: Record<string, string[]> = {
    '13800000001': ['answered'],
    '13800000002': ['busy', 'answered'],
    '13800000003': ['no_answer'],
    '13800000004': ['failed'],
    '13800000005': ['reject'],
    '13800000006': ['busy', 'no_answer'],
  };

  beforeAll(async () => {
    h = await startHarness('timeline', { script, mix: { answered: 1 } });
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
  });
  afterAll(async () => h?.close());

  /** What the attempt store holds of the campaign, counted as the timeline counts it. */
  async function fromStore(id: string): Promise<Partial<Record<TimelineSeries, number>>> {
    const totals: Partial<Record<TimelineSeries, number>> = {};
    const add = (s: TimelineSeries) => (totals[s] = (totals[s] ?? 0) + 1);
    const c = (await h.container.campaigns.get(id))!;
    for (let idx = 0; idx < c.total; idx++) {
      for (let n = 1; ; n++) {
        const a = await h.container.attempts.get(attemptId({ campaignId: id, contact: idx, attempt: n }));
        if (!a) break;
        if (a.dialingAt !== null) add('dialed');
        if (a.finalAt !== null) add(a.outcome ?? 'not_sent');
      }
    }
    return totals;
  }

  const sumOfBuckets = (t: Timeline) => {
    const sums: Partial<Record<TimelineSeries, number>> = {};
    for (const b of t.buckets) for (const [k, v] of Object.entries(b.counts)) sums[k as TimelineSeries] = (sums[k as TimelineSeries] ?? 0) + v;
    return sums;
  };

  it('counts every attempt begun and ended, by outcome, as the store holds them; pending contacts read again', async () => {
    const c = h.container;
    const def = c.definition({
      action: 'playvoice',
      params: { voicetype: '2', voicefile: 'http://example.invalid/a.mp3', chengshudu: '1', userid: '1@extGroup-1' },
      cps: 50,
      maxConcurrent: 10,
      maxAttempts: 2,
      // The second busy number waits long enough for a reading while it is pending.
      retry: ['busy=1500ms', 'no_answer=never', 'failed=never'],
      resultTimeout: '2s',
    });
    const csv = ['phone', ...Object.keys(script)].join('\n');
    const { id } = await c.createCampaign(def, csvSource(csv), 'list.csv');
    const timeline = makeOutcomeTimeline({ campaigns: c.campaigns, contacts: c.contacts, attempts: c.attempts, now: () => Date.now() }, { reuseMs: 0 });

    // While the busy numbers wait for their second call: their first is counted, and read again later.
    await until(async () => (await c.campaigns.counts(id)).final >= 4, 'four contacts final');
    const early = await timeline(id);
    expect(early.totals.busy).toBeGreaterThanOrEqual(1);

    const done = c.events.waitFor('campaign:completed', (e) => e.campaignId === id, 30_000);
    if ((await c.campaigns.get(id))?.state !== 'completed') await done;
    const late = await timeline(id);
    const expected = await fromStore(id);
    expect(expected).toEqual({ dialed: 8, answered: 2, busy: 2, no_answer: 2, failed: 1, rejected: 1 });
    expect(late.totals).toEqual(expected);
    expect(sumOfBuckets(late)).toEqual(expected);
    // Buckets follow each other from the campaign's start to its end.
    const starts = late.buckets.map((b) => Date.parse(b.at));
    starts.forEach((s, i) => i > 0 && expect(s - starts[i - 1]!).toBe(late.bucketMs));
    expect(starts[0]!).toBeLessThanOrEqual(Date.parse((await c.campaigns.get(id))!.startedAt!));

    // Read again once all are settled: the same counts, from what was kept.
    expect((await timeline(id)).totals).toEqual(expected);
    // Through the route, with the token.
    const res = await h.api(`/dashboard/campaigns/${id}/timeline`);
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as Timeline).totals).toEqual(expected);
  });

  it('answers 404 for a campaign that is not there', async () => {
    for (const id of ['zzzzzzzz', 'not-an-id']) {
      const res = await h.api(`/dashboard/campaigns/${id}/timeline`);
      expect(res.statusCode).toBe(404);
      expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('not_found');
    }
  });
});
