/**
 * Callback receiver throughput: 100,000 accepted sipcall attempts, then one
 * seed-shaped CDR each (customuuid = attempt id) posted over HTTP as fast as
 * the receiver takes them. Reports callbacks per second correlated end to end
 * (first request sent → last contact final), the p99 time to the HTTP answer,
 * and a no-op fastify route's requests per second with the same client, the
 * same bodies and the same number of connections, in the same run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import pLimit from 'p-limit';
import { Pool } from 'undici';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { createContainer, type Container } from '../src/app/container.js';
import { createLogger } from '../src/infra/logger.js';
import { parseCallback } from '../src/correlation/parse.js';
import type { ProviderAdapter } from '../src/providers/types.js';
import type { ProviderFamily } from '../src/domain/types.js';
import { benchPrefix, cleanPrefix, mb, peakRss, percentile, processCpuMs, rate, redisCpuMs, report, REDIS_URL } from './support.js';
import { sipcallCdr } from '../test/callbacks/support.js';
import { acceptEvery } from '../test/support/accepted.js';

const N = Number(process.env.CALLBACKS_N ?? 100_000);
const CONNECTIONS = Number(process.env.CALLBACKS_CONNECTIONS ?? 64);
const SECRET = 'bench-callback-secret-0123456789';
/** Measures the effect of ioredis auto-pipelining on the container's connection (not the default). */
const AUTOPIPELINE = process.env.CALLBACKS_AUTOPIPELINE === '1';
const OUTCOMES = ['answered', 'busy', 'no_answer', 'failed'] as const;
/**
 * Where correlation runs: 'worker' (default; the server stores and answers, one
 * `autodialer correlator` process interprets, AUTODIALER_CORRELATE_IN=worker) or
 * 'server' (in the receiving process, off the request path).
 */
const CORRELATE_IN = process.env.CALLBACKS_CORRELATE_IN === 'server' ? 'server' : 'worker';
/** Correlator processes (CALLBACKS_CORRELATORS, default 1), as a deployment's worker processes would be. */
const CORRELATORS = Math.max(1, Number(process.env.CALLBACKS_CORRELATORS ?? 1));
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** An `autodialer correlator` process on the bench's prefix; resolves once it logged that it runs. */
async function startCorrelator(env: Record<string, string>): Promise<ChildProcess> {
  const prof = process.env.CALLBACKS_CORRELATOR_PROF;
  const child = spawn(process.execPath, [...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []), join(ROOT, 'bin', 'autodialer.js'), 'correlator'], {
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    // The CLI logs to stderr (stdout is for data).
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  await new Promise<void>((ready, fail) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('correlator running')) {
        child.stderr?.off('data', onData);
        child.stderr?.resume();
        ready();
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code) => fail(new Error(`correlator exited before it ran (code ${code}): ${seen.slice(-500)}`)));
  });
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** CALLBACKS_SERVER_PROF=dir: a CPU profile of this process over the timed part only (not the setup). */
async function startProfile(): Promise<(() => Promise<void>) | null> {
  const dir = process.env.CALLBACKS_SERVER_PROF;
  if (!dir) return null;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(dir, `server-${process.pid}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}

/** Resolves once the campaign is completed and no callback is pending (polled: the correlator may be another process). */
async function drained(c: Container, cid: string, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const [state, pending] = await Promise.all([c.campaigns.get(cid), c.callbackLog.pendingCount()]);
    if (state?.state === 'completed' && pending === 0) return;
    if (Date.now() > deadline) throw new Error(`not drained after ${limitMs} ms: campaign ${state?.state}, ${pending} pending`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A CDR shaped like seed 003's example for attempt `id`; numeric fields alternate between numbers and strings. */
function cdrBody(id: string, i: number, at: number): string {
  const outcome = OUTCOMES[i % OUTCOMES.length]!;
  const cdr = sipcallCdr({ customuuid: id, uuid: `bench-${i.toString(16).padStart(8, '0')}-call`, destnumber: `138${String(i).padStart(8, '0')}`, outcome, at });
  const cause = cdr.hangupcause;
  return JSON.stringify({ ...cdr, id: 220_000 + i, hangupcause: i % 2 === 0 ? cause : String(cause), userkey: outcome === 'answered' ? String(i % 10) : '' });
}

interface Blast {
  elapsedMs: number;
  latencies: number[];
  statuses: Map<number, number>;
}

/** Posts every body once through one undici Pool, `connections` requests in flight. */
async function blast(origin: string, path: string, bodies: readonly string[], connections: number): Promise<Blast> {
  const pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const latencies = new Array<number>(bodies.length);
  const statuses = new Map<number, number>();
  let next = 0;
  const started = performance.now();
  async function lane(): Promise<void> {
    for (;;) {
      const i = next++;
      if (i >= bodies.length) return;
      const t0 = performance.now();
      const res = await pool.request({
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', 'x-callback-key': SECRET },
        body: bodies[i]!,
      });
      await res.body.dump();
      latencies[i] = performance.now() - t0;
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    }
  }
  await Promise.all(Array.from({ length: connections }, () => lane()));
  const elapsedMs = performance.now() - started;
  await pool.close();
  return { elapsedMs, latencies, statuses };
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const fmt = (n: number) => n.toLocaleString('en-US');
const ms = (n: number) => `${n.toFixed(1)} ms`;

/** A campaign of `n` contacts (numbers from `first` on), each with one attempt begun and accepted. */
async function acceptedCampaign(c: Container, n: number, first: number): Promise<{ cid: string; ids: string[] }> {
  const def = c.definition({
    action: 'playvoice',
    params: { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' },
    cps: 1000,
    maxConcurrent: n,
    maxAttempts: 1,
    resultTimeout: '1h',
    ingest: { numberFormat: 'as_written' },
  });
  const csv = ['phone', ...Array.from({ length: n }, (_, i) => `138${String(first + i).padStart(8, '0')}`)].join('\n');
  const { id: cid, summary } = await c.createCampaign(def, Readable.from([Buffer.from(csv)]), 'bench.csv');
  if (summary.added !== n) throw new Error(`import added ${summary.added} contacts, expected ${n}`);
  const ids: string[] = new Array<string>(n);
  await acceptEvery(c, cid, async (t, id) => {
    ids[t.idx] = id;
  });
  return { cid, ids };
}

/**
 * Node CPU of two parts measured alone on `m` fresh attempts: parsing a CDR
 * (providers/), and the attempt service applying its result (engine/, stores,
 * pacer), 64 at a time as the receiver runs them.
 */
async function calibrate(c: Container, m: number, first: number): Promise<{ parseUs: number; resultUs: number }> {
  const { ids } = await acceptedCampaign(c, m, first);
  const at = Date.now() - 60_000;
  const bodies = ids.map((id, i) => cdrBody(id, first + i, at));
  const settings = { sipcallTimezone: c.config.providers.sipcall?.timezone ?? 'Asia/Shanghai', pbxTimezone: 'UTC', pbxCallIdField: 'originated_call_id' };
  const parseCpu0 = process.cpuUsage();
  const parsed = bodies.map((b) => parseCallback('sipcall-cdr', 'application/json', b, settings));
  const parseCpu = cpuMs(process.cpuUsage(parseCpu0));
  const limit = pLimit(64);
  const resultCpu0 = process.cpuUsage();
  await Promise.all(
    parsed.map((p, i) =>
      limit(async () => {
        if (!p.ok || p.parsed.kind !== 'result') throw new Error(`calibration CDR ${i} did not parse`);
        const effect = await c.service.result(ids[i]!, 'sipcall', p.parsed.result, `0-${i + 1}`);
        if (effect !== 'final') throw new Error(`calibration result ${i}: ${effect}`);
      }),
    ),
  );
  const resultCpu = cpuMs(process.cpuUsage(resultCpu0));
  return { parseUs: (parseCpu * 1000) / m, resultUs: (resultCpu * 1000) / m };
}

async function main(): Promise<void> {
  const prefix = benchPrefix('callbacks');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null, enableAutoPipelining: AUTOPIPELINE });
  const env = {
    REDIS_URL,
    AUTODIALER_PREFIX: prefix,
    AUTODIALER_CALLBACK_SECRET: SECRET,
    AUTODIALER_CORRELATE_IN: CORRELATE_IN,
    SIPCALL_API_URL: 'http://127.0.0.1:1',
    SIPCALL_TOKEN: '0123456789abcdef0123456789abcdef',
    SIPCALL_TIMEZONE: 'Asia/Shanghai',
    LOG_LEVEL: 'silent',
  };
  const config = loadConfig(env, null);
  const providers = new Map<ProviderFamily, ProviderAdapter>();
  const c = await createContainer(config, { redis, providers, log: createLogger({ level: 'silent' }) });
  const noop = Fastify({ logger: false });
  noop.post('/noop', async () => ({ ok: true }));
  try {
    // 1. A campaign of N contacts, each with one accepted attempt waiting for its CDR.
    const setupStarted = performance.now();
    const { cid, ids } = await acceptedCampaign(c, N, 0);
    const setupMs = performance.now() - setupStarted;
    const at = Date.now() - 60_000;
    const bodies = ids.map((id, i) => cdrBody(id, i, at));

    // 2. The ceiling: a no-op fastify route, same client, same bodies.
    await noop.listen({ port: 0, host: '127.0.0.1' });
    const noopAddr = noop.server.address();
    const noopOrigin = `http://127.0.0.1:${typeof noopAddr === 'object' && noopAddr ? noopAddr.port : 0}`;
    await blast(noopOrigin, '/noop', bodies.slice(0, Math.min(N, 10_000)), CONNECTIONS);
    const noopCpu0 = process.cpuUsage();
    const ceiling = await blast(noopOrigin, '/noop', bodies, CONNECTIONS);
    const noopCpu = cpuMs(process.cpuUsage(noopCpu0));

    // 3. The receiver: every CDR, then wait until every contact is final and every callback settled.
    const app = await c.startServer({ port: 0, host: '127.0.0.1' });
    const addr = app.server.address();
    const origin = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const correlators = CORRELATE_IN === 'worker' ? await Promise.all(Array.from({ length: CORRELATORS }, () => startCorrelator(env))) : [];
    const rss = peakRss();
    const cpu0 = process.cpuUsage();
    const correlatorsCpu = (): number => correlators.reduce((sum, p) => sum + (p.pid ? (processCpuMs(p.pid) ?? 0) : 0), 0);
    const correlatorCpu0 = correlatorsCpu();
    const redisCpu0 = await redisCpuMs(redis);
    const profiler = await startProfile();
    const started = performance.now();
    const sent = await blast(origin, '/callbacks/sipcall/cdr', bodies, CONNECTIONS);
    await drained(c, cid, Number(process.env.CALLBACKS_DRAIN_MS ?? 30 * 60_000));
    await c.receiver.idle();
    const endToEndMs = performance.now() - started;
    const serverCpu = cpuMs(process.cpuUsage(cpu0));
    await profiler?.();
    const correlatorCpu1 = correlatorsCpu();
    const redisCpu1 = await redisCpuMs(redis);
    const redisCpu = redisCpu0 !== null && redisCpu1 !== null ? redisCpu1 - redisCpu0 : null;
    const correlatorCpu = correlatorCpu1 - correlatorCpu0;
    const nodeCpu = serverCpu + correlatorCpu;
    const peak = rss.stop();
    await Promise.all(correlators.map(stopProcess));

    // 3b. The ceiling again, after the receiver: a shared machine's speed drifts, the mean of the two is the reference.
    const ceilingAfter = await blast(noopOrigin, '/noop', bodies, CONNECTIONS);

    // 4. What two parts cost alone, on fresh attempts (the receiver's queue is idle by now).
    const cal = await calibrate(c, Math.min(N, 10_000), N);

    // 5. Every CDR stored and accounted for.
    const stored = await c.callbackLog.length();
    const pending = await c.callbackLog.pendingCount();
    const counters = await c.callbackLog.counters(cid);
    const totals = await c.callbackLog.counters(null);
    const counts = (await c.campaigns.counts(cid)).byStatus;
    const final = N - counts.pending;
    const ok200 = sent.statuses.get(200) ?? 0;
    const lost = N - Math.min(stored, ok200);
    const problems: string[] = [];
    if (ok200 !== N) problems.push(`HTTP 200 for ${ok200} of ${N} (${JSON.stringify(Object.fromEntries(sent.statuses))})`);
    if (stored !== N) problems.push(`callback log holds ${stored}, expected ${N}`);
    if (pending !== 0) problems.push(`${pending} callbacks still pending`);
    if (counters.correlated !== N) problems.push(`correlated ${counters.correlated}, expected ${N}`);
    if (counts.pending !== 0) problems.push(`${counts.pending} contacts still pending`);

    const lat = [...sent.latencies].sort((a, b) => a - b);
    const noopLat = [...ceiling.latencies].sort((a, b) => a - b);
    const noopBefore = rate(N, ceiling.elapsedMs);
    const noopAfter = rate(N, ceilingAfter.elapsedMs);
    const noopRps = Math.round((noopBefore + noopAfter) / 2);
    const acceptRps = rate(N, sent.elapsedMs);
    const e2eRps = rate(N, endToEndMs);
    const share = (e2eRps / noopRps) * 100;
    const target = 40;
    const us = (totalMs: number) => `${Math.round((totalMs * 1000) / N)} µs`;
    const md = [
      '## callbacks — receiver throughput',
      '',
      `${fmt(N)} accepted sipcall attempts, one seed-shaped CDR each (customuuid = attempt id), posted as JSON over HTTP`,
      `through one undici Pool of ${CONNECTIONS} connections, ${CONNECTIONS} requests in flight; Redis on the same machine.`,
      CORRELATE_IN === 'worker'
        ? `Server and client in one Node process; correlation in ${CORRELATORS === 1 ? 'one `autodialer correlator` process' : `${CORRELATORS} \`autodialer correlator\` processes`} (AUTODIALER_CORRELATE_IN=worker: the server stores, parses and answers, correlators lease pending entries from the log), at the priority a correlator gives itself (AUTODIALER_CORRELATOR_NICE, default nice 10). The no-op route runs in the same process as the client, as the server does.`
        : 'Server, client and correlation in one Node process (AUTODIALER_CORRELATE_IN=server).',
      'Setup (import, begin, accepted) is not timed.',
      `Redis connection: ${AUTOPIPELINE ? 'ioredis auto-pipelining ON (CALLBACKS_AUTOPIPELINE=1)' : 'as the container makes it (the stores on an auto-pipelined connection of their own)'}.`,
      '',
      '| measure | value |',
      '| --- | --- |',
      `| no-op fastify route (ceiling): mean of before / after the receiver | ${fmt(noopRps)} req/s (${fmt(noopBefore)} / ${fmt(noopAfter)}), p99 ${ms(percentile(noopLat, 99))}, Node CPU ${us(noopCpu)} per request |`,
      `| receiver: accepted (HTTP answers) | ${fmt(acceptRps)} callbacks/s over ${(sent.elapsedMs / 1000).toFixed(1)} s |`,
      `| receiver: correlated end to end (last contact final) | **${fmt(e2eRps)} callbacks/s** over ${(endToEndMs / 1000).toFixed(1)} s |`,
      `| end to end / ceiling | **${share.toFixed(0)} %** (target ≥ ${target} %) |`,
      `| acceptance latency p50 / p99 / max | ${ms(percentile(lat, 50))} / **${ms(percentile(lat, 99))}** / ${ms(lat[lat.length - 1] ?? 0)} |`,
      `| Node CPU per callback, end to end (HTTP, store, parse, correlate) | ${us(nodeCpu)}: ${((noopCpu / nodeCpu) * 100).toFixed(0)} % of the no-op's cost per request |`,
      ...(CORRELATE_IN === 'worker' ? [`| of which: server and client process / correlator process${CORRELATORS > 1 ? 'es' : ''} | ${us(serverCpu)} / ${us(correlatorCpu)} |`] : []),
      `| Redis server CPU per callback, end to end (INFO cpu; other clients of the server count too) | ${redisCpu === null ? 'n/a' : us(redisCpu)} |`,
      `| of which, measured alone: parsing one CDR / the attempt service applying one result | ${Math.round(cal.parseUs)} µs / ${Math.round(cal.resultUs)} µs |`,
      `| stored (stream length) / sent / still pending | ${fmt(stored)} / ${fmt(N)} / ${fmt(pending)} |`,
      `| correlated / duplicate / orphan / malformed | ${fmt(counters.correlated)} / ${fmt(counters.duplicate)} / ${fmt(totals.orphan)} / ${fmt(totals.malformed)} |`,
      `| contacts final | ${fmt(final)} of ${fmt(N)} |`,
      `| callbacks lost | ${lost} |`,
      `| peak RSS during the run | ${mb(peak)} |`,
      `| setup (not timed above) | ${(setupMs / 1000).toFixed(1)} s |`,
      '',
      problems.length === 0 ? 'Every CDR sent was stored and correlated; every contact ended final.' : `**Problems:** ${problems.join('; ')}.`,
      '',
      '### Where the time goes',
      '',
      CORRELATE_IN === 'worker'
        ? 'The HTTP answer waits for the raw append and the parse: the callbacks a server receives in one turn of its event loop are stored by one script call (XADD, pending mark and count per entry, all or none). The correlator leases pending entries by pages of 256 (one script reads a page\u2019s entries with one XRANGE and returns their stored fields), parses them again, applies up to 256 at once through the attempt service (their reads and commits go to Redis 32 to a script call), and settles them in batches (one transaction of summed counters per batch). It runs at nice 10: when the two cores are short, the HTTP answers and Redis go first.'
        : 'The HTTP answer waits for the raw append and the parse; correlation runs off the request, 64 at a time, per-call order kept, and settles in batches.',
      '',
      'Per result the attempt service reads the attempt (one stored value) with its contact (one item of a batched read',
      'script), decides in TypeScript, and writes with one compare-and-set (one item of a batched commit script) that also',
      'frees the channel and indexes the call uuid; the status counts and report sums of a batch of commits are added up and',
      'written once per field. The rest of the CPU is HTTP (both ends), socket writes and garbage collection. The three',
      'processes (server and client, correlator, Redis) together use most of the two cores: the rate is bound by the',
      'total CPU per callback (Node plus Redis, the lines above), not by one of them.',
    ].join('\n');
    report('callbacks', md);
    if (problems.length > 0) process.exitCode = 1;
  } finally {
    await noop.close();
    await c.close(1000);
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  }
}

await main();
