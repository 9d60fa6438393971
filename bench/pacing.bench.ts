/**
 * Rate accuracy: one campaign at 10, 50 and 200 calls per second, dialed by
 * three worker processes sharing one Redis prefix, against the simulator
 * with its cps cap set to the target (it answers 429 to any call beyond the
 * cap in a sliding second). Callbacks are off: attempts end by their deadline.
 *
 * Figures come from the simulator's ledger (arrival times of the dial
 * requests): the mean rate over the steady part (the first and last second
 * left out), the most arrivals in any sliding second, the tightest span of
 * cap + 1 consecutive arrivals (under 1000 ms means a violation), and the
 * simulator's own count of cap violations.
 *
 * Back-off: the same workers dial a campaign at 25 cps through an account
 * with no cps of its own, against a simulator that accepts 8: the requests
 * refused with 429 per call placed, and the rate the account settled at.
 */
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { createContainer, type Container } from '../src/app/container.js';
import { createLogger } from '../src/infra/logger.js';
import { maxInSlidingWindow } from '../src/pacing/index.js';
import { startSimulator, DEFAULT_TOKEN, type LedgerEntry, type Simulator } from '../src/simulator/index.js';
import { spawnWorker, workerEnv, type WorkerProcess } from '../test/discipline/fixtures/spawn-worker.js';
import { benchPrefix, cleanPrefix, report, REDIS_URL } from './support.js';

const TARGETS = [10, 50, 200];
const SECONDS = 30;
const WORKERS = 3;
const SECRET = 'bench-callback-secret-0123456789';
/** The back-off run: the campaign asks for this, the provider accepts that, for this many contacts. */
const BACKOFF = { campaignCps: 25, providerCap: 8, contacts: 400 };

interface RateResult {
  target: number;
  calls: number;
  meanCps: number;
  maxWindow: number;
  tightestSpanMs: number;
  violations: number;
  ms: number;
}

interface BackoffResult {
  placed: number;
  refused: number;
  /** Calls placed per second over the second half of the run (after settling). */
  settledCps: number;
  maxPlacedWindow: number;
  ceilingCps: number;
  ms: number;
}

function contactsCsv(n: number): Readable {
  const lines = ['name,phone'];
  for (let i = 0; i < n; i++) lines.push(`c${i},1380${String(i).padStart(7, '0')}`);
  return Readable.from([Buffer.from(lines.join('\n'), 'utf8')]);
}

/** Mean rate over the arrivals at least one second from either end. */
export function steadyMeanCps(sortedAt: readonly number[]): number {
  const first = sortedAt[0];
  const last = sortedAt[sortedAt.length - 1];
  if (first === undefined || last === undefined) return 0;
  const steady = sortedAt.filter((t) => t >= first + 1000 && t <= last - 1000);
  const a = steady[0];
  const b = steady[steady.length - 1];
  if (a === undefined || b === undefined || b === a) return 0;
  return ((steady.length - 1) * 1000) / (b - a);
}

/** The shortest time spanned by `k` consecutive arrivals (Infinity with fewer). */
export function tightestSpan(sortedAt: readonly number[], k: number): number {
  let best = Infinity;
  for (let i = 0; i + k - 1 < sortedAt.length; i++) best = Math.min(best, sortedAt[i + k - 1]! - sortedAt[i]!);
  return best;
}

/** Resolves once every contact of the campaign has been placed (429s are dialed again by the dialer). */
function placedAll(sim: Simulator, campaignId: string, calls: number, target: number): Promise<void> {
  const placed = new Set<string>();
  return new Promise<void>((done, fail) => {
    const limit = setTimeout(() => fail(new Error(`${target} cps: only ${placed.size} of ${calls} calls placed in time`)), ((calls / target) * 3 + 30) * 1000);
    const onRequest = (e: LedgerEntry): void => {
      if (e.customuuid?.startsWith(`${campaignId}-`) !== true || !e.placed || e.number === null) return;
      placed.add(e.number);
      if (placed.size < calls) return;
      clearTimeout(limit);
      sim.events.off('request', onRequest);
      done();
    };
    sim.events.on('request', onRequest);
  });
}

async function runRate(c: Container, target: number): Promise<RateResult> {
  const calls = target * SECONDS;
  // Callbacks off: on a small machine, handling them in the simulator's own process stalls its event
  // loop and bunches the arrival times it stamps, which would measure that stall, not the pacing.
  const sim = await startSimulator({
    callbackUrl: null,
    token: DEFAULT_TOKEN,
    cpsCap: target,
    mix: { answered: 3, no_answer: 1, busy: 1 },
    ledgerLimit: calls * 3,
  });
  const env = workerEnv({ redisUrl: REDIS_URL, prefix: c.config.prefix, sipcallUrl: sim.url, token: DEFAULT_TOKEN, extra: { AUTODIALER_CALLBACK_SECRET: SECRET, SIPCALL_MAX_CPS: '0' } });
  const workers: WorkerProcess[] = [];
  try {
    for (let i = 0; i < WORKERS; i++) workers.push(spawnWorker({ env, concurrency: 150, feedEveryMs: 100, sweepEveryMs: 500, graceMs: 5000 }));
    await Promise.all(workers.map((w) => w.ready));

    const def = c.definition({
      action: 'playvoice',
      params: { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' },
      cps: target,
      maxConcurrent: 0,
      maxAttempts: 1,
      resultTimeout: '30s',
      ingest: { numberFormat: 'as_written' },
    });
    // Two seconds of calls first warm the workers up (a cold process's first requests arrive late);
    // they leave the simulator's sliding second before the measured campaign starts.
    const warm = await c.createCampaign(def, contactsCsv(target * 2), `pacing-warm-${target}.csv`);
    await placedAll(sim, warm.id, target * 2, target);
    await new Promise((r) => setTimeout(r, 1500));
    sim.reset();

    const { id } = await c.createCampaign(def, contactsCsv(calls), `pacing-${target}.csv`);
    const ofCampaign = (e: LedgerEntry) => e.customuuid?.startsWith(`${id}-`) === true;
    const started = Date.now();
    await placedAll(sim, id, calls, target);
    const ms = Date.now() - started;
    const at = sim
      .ledger()
      .filter(ofCampaign)
      .map((e) => e.at)
      .sort((a, b) => a - b);
    return {
      target,
      calls: at.length,
      meanCps: steadyMeanCps(at),
      maxWindow: maxInSlidingWindow(at, 1000),
      tightestSpanMs: tightestSpan(at, target + 1),
      violations: sim.stats().cpsViolations,
      ms,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop(15_000)));
    await sim.close();
  }
}

/** A campaign asking for more than the provider accepts: how many requests the provider refuses before the account settles. */
async function runBackoff(c: Container): Promise<BackoffResult> {
  const { campaignCps, providerCap, contacts } = BACKOFF;
  const sim = await startSimulator({ callbackUrl: null, token: DEFAULT_TOKEN, cpsCap: providerCap, mix: { answered: 1 }, ledgerLimit: contacts * 3 });
  const env = workerEnv({ redisUrl: REDIS_URL, prefix: c.config.prefix, sipcallUrl: sim.url, token: DEFAULT_TOKEN, extra: { AUTODIALER_CALLBACK_SECRET: SECRET, SIPCALL_MAX_CPS: '0' } });
  const workers: WorkerProcess[] = [];
  try {
    for (let i = 0; i < WORKERS; i++) workers.push(spawnWorker({ env, concurrency: 150, feedEveryMs: 100, sweepEveryMs: 500, graceMs: 5000 }));
    await Promise.all(workers.map((w) => w.ready));
    const def = c.definition({
      action: 'playvoice',
      params: { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' },
      cps: campaignCps,
      maxConcurrent: 0,
      maxAttempts: 1,
      resultTimeout: '30s',
      ingest: { numberFormat: 'as_written' },
    });
    const { id } = await c.createCampaign(def, contactsCsv(contacts), 'pacing-backoff.csv');
    const started = Date.now();
    await placedAll(sim, id, contacts, providerCap);
    const ms = Date.now() - started;
    const ledger = sim.ledger().filter((e) => e.customuuid?.startsWith(`${id}-`) === true);
    const placedAt = ledger
      .filter((e) => e.placed)
      .map((e) => e.at)
      .sort((a, b) => a - b);
    const second = placedAt.slice(Math.floor(placedAt.length / 2));
    return {
      placed: placedAt.length,
      refused: ledger.filter((e) => e.answer === '429').length,
      settledCps: steadyMeanCps(second),
      maxPlacedWindow: maxInSlidingWindow(placedAt, 1000),
      ceilingCps: (await c.pacer.effectiveRate('sipcall')).ceilingCps,
      ms,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop(15_000)));
    await sim.close();
  }
}

async function main(): Promise<void> {
  const prefix = benchPrefix('pacing');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const config = loadConfig(
    {
      REDIS_URL,
      AUTODIALER_PREFIX: prefix,
      AUTODIALER_CALLBACK_SECRET: SECRET,
      SIPCALL_API_URL: 'http://127.0.0.1:1',
      SIPCALL_TOKEN: DEFAULT_TOKEN,
      SIPCALL_MAX_CPS: '0',
      LOG_LEVEL: 'error',
    },
    null,
  );
  const c = await createContainer(config, { redis, log: createLogger({ level: 'error' }) });
  const results: RateResult[] = [];
  let backoff: BackoffResult | null = null;
  try {
    for (const target of TARGETS) {
      const r = await runRate(c, target);
      results.push(r);
      process.stdout.write(
        `${target} cps: ${r.calls} calls in ${(r.ms / 1000).toFixed(1)} s, mean ${r.meanCps.toFixed(2)}, max ${r.maxWindow} in any second, ` +
          `tightest ${target + 1} arrivals ${r.tightestSpanMs} ms, ${r.violations} violations\n`,
      );
    }
    // Last: the account remembers its back-off after it.
    backoff = await runBackoff(c);
    process.stdout.write(`back-off: ${backoff.refused} refused for ${backoff.placed} placed, settled at ${backoff.settledCps.toFixed(2)} cps\n`);
  } finally {
    await c.close(2000);
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  }

  const met = (r: RateResult) => Math.abs(r.meanCps / r.target - 1) <= 0.02 && r.maxWindow <= r.target && r.violations === 0;
  const rows = results.map(
    (r) =>
      `| ${r.target} | ${r.calls} | ${r.meanCps.toFixed(2)} (${(((r.meanCps - r.target) / r.target) * 100).toFixed(2)} %) | ${r.maxWindow} | ${r.tightestSpanMs} ms | ${r.violations} | ${met(r) ? 'met' : 'MISSED'} |`,
  );
  report(
    'pacing',
    [
      '## Pacing: rate accuracy across worker processes',
      '',
      `${WORKERS} worker processes (150 jobs in hand each) dial one campaign through one Redis prefix; the simulator refuses any call beyond its cap (= the target) in a sliding second and sends no callbacks (attempts end by their deadline), so that its event loop stamps arrivals without stalls of its own. ${SECONDS} s per rate, after 2 s of warm-up calls. Figures from the simulator's ledger of arrival times.`,
      '',
      '| target cps | calls | mean cps over the steady part | max in any 1 s window | tightest span of target + 1 arrivals | cap violations (429) | target |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...rows,
      '',
      'Targets: mean within ±2 % of the target, no window above the target (the tightest span of target + 1 arrivals at least 1000 ms), no violation.',
      ...(backoff ? backoffSection(backoff) : []),
    ].join('\n'),
  );
}

function backoffSection(b: BackoffResult): string[] {
  const { campaignCps, providerCap, contacts } = BACKOFF;
  const share = b.placed > 0 ? (b.refused / b.placed) * 100 : 0;
  return [
    '',
    '### 429 back-off',
    '',
    `The same ${WORKERS} workers dial ${contacts} contacts at ${campaignCps} cps through an account with no cps of its own; the simulator accepts ${providerCap} calls in any sliding second and refuses the rest with 429 (Retry-After: 1). Refused calls are dialed again through the pacer.`,
    '',
    '| placed | refused (429) | refused / placed | placed per second, second half | most placed in any 1 s window | ceiling learned | time | target |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    `| ${b.placed} | ${b.refused} | ${share.toFixed(1)} % | ${b.settledCps.toFixed(2)} | ${b.maxPlacedWindow} | ${b.ceilingCps} cps | ${(b.ms / 1000).toFixed(1)} s | ${share <= 10 ? 'met' : 'MISSED'} |`,
    '',
    'Target: refused requests at most 10 % of the calls placed.',
  ];
}

await main();
