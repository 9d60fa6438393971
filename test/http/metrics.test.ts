/**
 * /metrics on the real server after a campaign against the simulator: the
 * text parses (and passes `promtool check metrics` where Debian's
 * prometheus package is installed), counters and histograms fed by the
 * domain events hold every dial, what another process counted is there too
 * (the deployment's figures come from Redis), and an active campaign has
 * its gauges.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, csvSource, type Harness } from '../support/harness.js';
import { createContainer } from '../../src/app/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { connectRedis } from '../support/redis.js';

const params = { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' };

interface Family {
  type: string;
  help: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** The text format, read strictly: every sample belongs to a family declared by HELP and TYPE before it. */
function parseMetrics(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: string | null = null;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const f = families.get(meta[2]!) ?? { type: '', help: '', samples: [] };
      if (meta[1] === 'HELP') f.help = meta[3]!;
      else f.type = meta[3]!;
      families.set(meta[2]!, f);
      current = meta[2]!;
      continue;
    }
    // prom-client writes NaN as "Nan" (Prometheus reads it without regard to case).
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|nan|\+inf|-inf)$/i.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    if (!current || !m[1]!.startsWith(current)) throw new Error(`sample ${m[1]} outside its family (${current})`);
    families.get(current)!.samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return families;
}

const value = (f: Map<string, Family>, family: string, name: string, labels: Record<string, string>): number | undefined =>
  f.get(family)?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('/metrics', () => {
  let h: Harness;
  let id: string;
  let paused: string;

  beforeAll(async () => {
    h = await startHarness('metrics', { mix: { answered: 1 } });
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
    const def = h.container.definition({ action: 'playvoice', params, cps: 50, maxAttempts: 1, resultTimeout: '5s' });
    const done = h.container.events.waitFor('campaign:completed');
    ({ id } = await h.container.createCampaign(def, csvSource('phone\n13800000601\n13800000602\n13800000603\n13800000604'), 'm.csv'));
    await done;
    const held = h.container.definition({ action: 'playvoice', params, cps: 2, maxConcurrent: 3, maxAttempts: 1 });
    ({ id: paused } = await h.container.createCampaign(held, csvSource('phone\n13800000611\n13800000612'), 'p.csv'));
    await h.container.control.pause(paused);
    await h.container.tally.flush();
  });
  afterAll(async () => {
    await h?.close();
  });

  async function scrape(): Promise<{ text: string; families: Map<string, Family> }> {
    const res = await h.api('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.body.text();
    return { text, families: parseMetrics(text) };
  }

  it('follows the conventions: declared families, counters named _total, cumulative histograms, bounded labels', async () => {
    const { families } = await scrape();
    for (const [name, f] of families) {
      expect(f.help, name).not.toBe('');
      expect(['counter', 'gauge', 'histogram', 'summary'], name).toContain(f.type);
      if (f.type === 'counter') expect(name).toMatch(/_total$/);
      if (f.type === 'histogram') {
        const series = new Map<string, number[]>();
        for (const s of f.samples.filter((x) => x.name.endsWith('_bucket'))) {
          const { le, ...rest } = s.labels;
          const key = JSON.stringify(rest);
          series.set(key, [...(series.get(key) ?? []), s.value]);
          expect(le, name).toBeDefined();
        }
        for (const counts of series.values()) expect(counts).toEqual([...counts].sort((a, b) => a - b));
      }
      for (const s of f.samples) {
        if (s.labels.campaign !== undefined) expect(s.labels.campaign).toMatch(/^[a-z0-9]{8}$/);
        if (s.labels.provider !== undefined) expect(['sipcall', 'pbx']).toContain(s.labels.provider);
      }
    }
    // The process defaults, from the same registry.
    expect(families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(families.has('nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('counts every dial, result and provider request of the campaign', async () => {
    const { families: f } = await scrape();
    expect(value(f, 'autodialer_dials_total', 'autodialer_dials_total', { provider: 'sipcall', campaign: id, result: 'accepted' })).toBe(4);
    expect(value(f, 'autodialer_attempt_results_total', 'autodialer_attempt_results_total', { campaign: id, outcome: 'answered' })).toBe(4);
    const reqs = 'autodialer_provider_request_duration_seconds';
    expect(value(f, reqs, `${reqs}_count`, { provider: 'sipcall', result: 'accepted' })).toBeGreaterThanOrEqual(4);
    expect(value(f, reqs, `${reqs}_bucket`, { provider: 'sipcall', result: 'accepted', le: '+Inf' })).toBe(value(f, reqs, `${reqs}_count`, { provider: 'sipcall', result: 'accepted' }));
    const ttr = 'autodialer_dial_to_result_seconds';
    expect(value(f, ttr, `${ttr}_count`, { provider: 'sipcall', outcome: 'answered' })).toBeGreaterThanOrEqual(4);
    expect(value(f, ttr, `${ttr}_sum`, { provider: 'sipcall', outcome: 'answered' })).toBeGreaterThan(0);
    expect(value(f, 'autodialer_callbacks_total', 'autodialer_callbacks_total', { kind: 'correlated' })).toBeGreaterThanOrEqual(4);
  });

  it('adds what another process counted (a worker with no HTTP server)', async () => {
    const before = value((await scrape()).families, 'autodialer_provider_errors_total', 'autodialer_provider_errors_total', { provider: 'pbx', class: 'rate_limited' }) ?? 0;
    const redis = connectRedis();
    const other = await createContainer(h.config, { redis, log: createLogger({ level: 'silent' }), providers: new Map() });
    try {
      other.events.emit('provider:request', { family: 'pbx', kind: 'transient', errorClass: 'rate_limited', seconds: 0.2 });
      other.events.emit('provider:request', { family: 'pbx', kind: 'transient', errorClass: 'rate_limited', seconds: 0.3 });
      await other.tally.flush();
    } finally {
      await other.close(100);
      redis.disconnect();
    }
    const { families: f } = await scrape();
    expect(value(f, 'autodialer_provider_errors_total', 'autodialer_provider_errors_total', { provider: 'pbx', class: 'rate_limited' })).toBe(before + 2);
    expect(value(f, 'autodialer_provider_request_duration_seconds', 'autodialer_provider_request_duration_seconds_bucket', { provider: 'pbx', result: 'transient', le: '0.25' })).toBeGreaterThanOrEqual(1);
  });

  it("shows an active campaign's gauges: contacts, in flight, channels, rates, queue depths", async () => {
    const { families: f } = await scrape();
    expect(value(f, 'autodialer_campaign_contacts', 'autodialer_campaign_contacts', { campaign: paused, status: 'pending' })).toBe(2);
    expect(value(f, 'autodialer_calls_in_flight', 'autodialer_calls_in_flight', { campaign: paused })).toBe(0);
    expect(value(f, 'autodialer_channels_held', 'autodialer_channels_held', { campaign: paused })).toBe(0);
    expect(value(f, 'autodialer_campaign_target_dials_per_second', 'autodialer_campaign_target_dials_per_second', { campaign: paused })).toBe(2);
    expect(f.get('autodialer_dial_queue_jobs')?.samples.filter((s) => s.labels.campaign === paused).map((s) => s.labels.state).sort()).toEqual(['active', 'delayed', 'failed', 'prioritized', 'waiting']);
    expect(value(f, 'autodialer_schedule_queue_jobs', 'autodialer_schedule_queue_jobs', { state: 'waiting' })).toBe(0);
    expect(value(f, 'autodialer_campaigns_active', 'autodialer_campaigns_active', {})).toBe(1);
    // The finished campaign has no gauges (its counters stay while it is stored).
    expect(value(f, 'autodialer_campaign_contacts', 'autodialer_campaign_contacts', { campaign: id, status: 'answered' })).toBeUndefined();
  });

  it('drops the series of a deleted campaign', async () => {
    await h.container.purge.purge(id);
    const { families: f } = await scrape();
    expect(f.get('autodialer_dials_total')?.samples.some((s) => s.labels.campaign === id)).toBe(false);
  });

  it.skipIf(!existsSync('/usr/bin/promtool'))('passes promtool check metrics', async () => {
    const { text } = await scrape();
    // promtool flags three gauges prom-client names with _total: leave them out.
    const kept = text
      .split('\n')
      .filter((l) => !/nodejs_active_(handles|requests|resources)_total\b/.test(l))
      .join('\n');
    let out = '';
    try {
      execFileSync('/usr/bin/promtool', ['check', 'metrics'], { input: kept, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      out = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
    }
    expect(out).toBe('');
  });
});
