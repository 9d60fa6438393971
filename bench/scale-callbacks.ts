/**
 * The scale benchmark's (c): what a call costs Redis with its callbacks.
 * One `autodialer server` process (callbacks, correlated there) and one
 * worker process dial a campaign at a fixed rate against the simulator,
 * which posts every status callback and CDR (the demo's mix, no duplicates
 * or losses). Redis CPU is measured over a window with the campaign paused
 * (what the processes cost Redis doing nothing: polling, timers) and over a
 * window of steady dialing; the difference, per dial, is the call's own cost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import { request } from 'undici';
import type { Container } from '../src/app/container.js';
import { startSimulator, DEFAULT_TOKEN } from '../src/simulator/index.js';
import { spawnWorker, workerEnv } from '../test/discipline/fixtures/spawn-worker.js';
import { freePort, type OwnRedis } from '../scripts/redis-server.js';
import { spawnRole } from '../scripts/soak-dialer.js';
import { processCpuMs, redisCpuMs } from './support.js';

export interface CallbacksRun {
  cps: number;
  callsPerSec: number;
  callbacksPerDial: number;
  /** Redis CPU a second with the campaign paused (ms). */
  idleRedisMsPerSec: number;
  /** Redis CPU per dial over the window, and the same less the idle rate. */
  redisUsGross: number;
  redisUsNet: number;
  workerUs: number;
  serverUs: number;
}

const SECRET = 'scale-callback-secret-0123456789';
const API_TOKEN = 'scale-api-token-0123456789abcdef';
const IDLE_MS = 4_000;
const WARMUP_MS = 3_000;
const WINDOW_MS = 8_000;
export const CALLBACK_WINDOWS = { idleMs: IDLE_MS, warmupMs: WARMUP_MS, windowMs: WINDOW_MS };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function callbacksRun(opts: {
  own: OwnRedis;
  redis: Redis;
  prefix: string;
  cps: number;
  contacts: (n: number) => Readable;
  container: (redisUrl: string, simUrl: string) => Promise<Container>;
}): Promise<CallbacksRun> {
  const { own, redis, prefix, cps } = opts;
  await redis.flushdb();
  const jobsDir = mkdtempSync(join(tmpdir(), 'autodialer-scale-jobs-'));
  const httpPort = await freePort();
  const serverUrl = `http://127.0.0.1:${httpPort}`;
  const sim = await startSimulator({ token: DEFAULT_TOKEN, callbackUrl: serverUrl, callbackSecret: SECRET, timeScale: 0.001, ledgerLimit: 10 });
  const env = workerEnv({ redisUrl: own.url, prefix, sipcallUrl: sim.url, token: DEFAULT_TOKEN, extra: { SIPCALL_MAX_CPS: '0' } });
  const server = spawnRole('server', {
    ...env,
    AUTODIALER_HTTP_PORT: String(httpPort),
    AUTODIALER_HTTP_HOST: '127.0.0.1',
    AUTODIALER_PUBLIC_URL: serverUrl,
    AUTODIALER_CALLBACK_SECRET: SECRET,
    AUTODIALER_API_TOKEN: API_TOKEN,
    AUTODIALER_JOBS_DIR: jobsDir,
  });
  const worker = spawnWorker({ env, concurrency: 50, feedEveryMs: 100, graceMs: 5_000 });
  const c = await opts.container(own.url, sim.url);
  try {
    const readyBy = Date.now() + 60_000;
    while ((await request(`${serverUrl}/readyz`).then((r) => (r.body.resume(), r.statusCode)).catch(() => 0)) !== 200) {
      if (Date.now() > readyBy) throw new Error(`autodialer server did not become ready: ${server.log().tail.slice(-3).join(' | ')}`);
      await sleep(250);
    }
    await worker.ready;
    const def = c.definition({ action: 'playvoice', params: { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' }, cps, maxAttempts: 1, resultTimeout: '10m', ingest: { region: 'CN', numberFormat: 'national' } });
    // Paused from the start: the idle window first.
    const { id } = await c.createCampaign(def, opts.contacts(Math.ceil((cps * (WARMUP_MS + WINDOW_MS)) / 1000) + 2_000), 'scale-callbacks.csv');
    await c.control.pause(id, 'benchmark: idle window');
    await sleep(1_000);
    const i0 = await redisCpuMs(redis);
    await sleep(IDLE_MS);
    const idleRedisMsPerSec = (((await redisCpuMs(redis))! - i0!) * 1000) / IDLE_MS;

    let dials = 0;
    let callbacks = 0;
    const onRequest = () => void dials++;
    const onCallback = () => void callbacks++;
    sim.events.on('request', onRequest);
    sim.events.on('callback:sent', onCallback);
    await c.control.resume(id);
    await sleep(WARMUP_MS);
    const [r0, w0, s0, d0, cb0] = [await redisCpuMs(redis), processCpuMs(worker.pid) ?? NaN, processCpuMs(server.pid) ?? NaN, dials, callbacks];
    await sleep(WINDOW_MS);
    const [r1, w1, s1, d1, cb1] = [await redisCpuMs(redis), processCpuMs(worker.pid) ?? NaN, processCpuMs(server.pid) ?? NaN, dials, callbacks];
    sim.events.off('request', onRequest);
    sim.events.off('callback:sent', onCallback);
    const n = Math.max(1, d1 - d0);
    const redisMs = r1! - r0!;
    return {
      cps,
      callsPerSec: (n * 1000) / WINDOW_MS,
      callbacksPerDial: (cb1 - cb0) / n,
      idleRedisMsPerSec,
      redisUsGross: (redisMs * 1000) / n,
      redisUsNet: ((redisMs - (idleRedisMsPerSec * WINDOW_MS) / 1000) * 1000) / n,
      workerUs: ((w1 - w0) * 1000) / n,
      serverUs: ((s1 - s0) * 1000) / n,
    };
  } finally {
    await worker.stop(15_000);
    await server.stop(15_000);
    await c.close(1000);
    await sim.close();
    rmSync(jobsDir, { recursive: true, force: true });
  }
}
