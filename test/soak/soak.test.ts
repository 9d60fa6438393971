/**
 * A short soak (scripts/soak-run.ts): a server and two worker processes on
 * a redis-server of their own dial the simulator for about a minute,
 * campaign after campaign, each exported and deleted once complete. Once the
 * last is gone and the raw callbacks are past their retention, Redis holds
 * what it held before (its baseline, after a first campaign) and the
 * day-long look-ups waiting for their expiry, nothing else.
 */
import { describe, expect, it } from 'vitest';
import { runSoak, type SoakResult } from '../../scripts/soak-run.js';
import { keyShape } from '../../scripts/soak-keys.js';
import { campaignOfField } from '../../src/reports/metrics-tally.js';

/** Keys that wait for their expiry, and how long they may live at most. */
const EXPIRING: Record<string, number> = {
  '<prefix>:calluuid:*': 24 * 3_600_000,
  '<prefix>:freq:*': 24 * 3_600_000,
  '<prefix>:callee:sipcall:*': 24 * 3_600_000,
  '<prefix>:pbxid:*': 24 * 3_600_000,
};

describe('soak', () => {
  let r: SoakResult;

  it('runs campaign after campaign at a steady rate, each exported and deleted', { timeout: 300_000 }, async () => {
    r = await runSoak({ minutes: 0.75, cps: 20, workers: 2, campaignSeconds: 15, sampleEveryMs: 15_000, drainTimeoutMs: 120_000, log: () => undefined });
    expect(r.problems.filter((p) => !p.startsWith('baseline keys grew'))).toEqual([]);
    expect(r.campaigns.created).toBeGreaterThanOrEqual(4);
    expect(r.campaigns.deleted).toBe(r.campaigns.created);
    // Every contact once in an export (the warm-up campaign's too).
    expect(r.campaigns.exportedRows).toBe(r.campaigns.contacts);
    expect(r.simulator.requests).toBeGreaterThan(r.campaigns.contacts);
    expect(r.simulator.callbacks).toBeGreaterThan(r.campaigns.contacts);
    for (const p of r.processes) expect({ role: p.role, code: p.code, errors: p.errors }).toEqual({ role: p.role, code: 0, errors: 0 });
    // Dials went on through the run.
    for (const s of r.samples.slice(1, -1)) expect(s.callsPerSec).toBeGreaterThan(0);
  });

  it('leaves no key behind: no lock, hold, counter, queue or job of a deleted campaign', () => {
    expect(r.leftovers.left.map((k) => `${k.key} (${k.type}, ${k.size})`)).toEqual([]);
    // Between samples a campaign's keys come and go; once all are deleted there are none.
    expect(r.samples.at(-1)?.census.keys.campaign).toBe(0);
    expect(r.samples.at(-1)?.census.keys.attempt).toBe(0);
  });

  it('leaves only the day-long look-ups to their expiry', () => {
    const unexpected = r.leftovers.expiring.filter((k) => {
      const bound = EXPIRING[keyShape('soak', k.key)];
      return bound === undefined || k.ttlMs > bound;
    });
    expect(unexpected.map((k) => `${k.key} (${k.ttlMs} ms)`)).toEqual([]);
  });

  it("keeps the deployment's keys to their baseline size (a deleted campaign's metrics series go with it)", () => {
    // A deletion drops the campaign's series from the tally; a count another process had not yet flushed (a
    // deadline that ended an attempt just before) may still land after it: the next /metrics read drops it.
    const grown = r.leftovers.grown.filter((g) => g.key !== 'soak:metrics');
    expect(grown).toEqual([]);
    const metrics = r.leftovers.grown.find((g) => g.key === 'soak:metrics');
    expect(metrics === undefined || metrics.after - metrics.before <= 6).toBe(true);
    // Only the tally may have grown, and only by deployment-wide fields (bounded by their labels and buckets).
    const afterScrape = r.grownAfterScrape.filter((g) => g.key !== 'soak:metrics' || g.after - g.before > g.added.length || g.added.some((f) => campaignOfField(f) !== null));
    expect(afterScrape).toEqual([]);
  });
});
