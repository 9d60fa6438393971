/**
 * Three real worker processes pacing one campaign through the same keys.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisPacer, maxInSlidingWindow } from '../../src/pacing/index.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/acquire-loop.ts', import.meta.url));
const redis = connectRedis();
const prefix = testPrefix('pace-procs');

afterAll(async () => {
  await cleanPrefix(redis, prefix);
  redis.disconnect();
});

interface Worker {
  ready: Promise<void>;
  done: Promise<number[]>;
  go: () => void;
}

function startWorker(name: string, quota: number): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, prefix, 'camp', String(quota), name], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 25_000);
  let out = '';
  let err = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    if (out.includes('ready\n')) markReady();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const done = new Promise<number[]>((resolve, reject) => {
    child.on('close', (code) => {
      clearTimeout(killer);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) return reject(new Error(`worker ${name} exited ${String(code)}: ${err.slice(0, 2000)}`));
      resolve((JSON.parse(line) as { slots: number[] }).slots);
    });
  });
  return { ready: Promise.race([ready, done.then(() => undefined)]), done, go: () => child.stdin.end('go\n') };
}

describe('three worker processes', () => {
  it('share one campaign pace: no one-second window above 20 at 20 cps', async () => {
    await createRedisPacer({ redis, prefix }).setCampaignLimits('camp', { cps: 20, maxConcurrent: 0 });
    const workers = ['p1', 'p2', 'p3'].map((name) => startWorker(name, 15));
    await Promise.all(workers.map((w) => w.ready));
    workers.forEach((w) => w.go());
    const perProcess = await Promise.all(workers.map((w) => w.done));
    expect(perProcess.map((s) => s.length)).toEqual([15, 15, 15]);
    const all = perProcess.flat();
    expect(new Set(all).size).toBe(45);
    expect(maxInSlidingWindow(all)).toBeLessThanOrEqual(20);
  });
});
