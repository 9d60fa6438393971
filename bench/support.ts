/**
 * Helpers every benchmark shares: a Redis prefix of its own, peak RSS
 * sampling, percentiles, and writing its section of RESULTS.md.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function benchPrefix(name: string): string {
  return `adbench-${name}-${randomBytes(3).toString('hex')}`;
}

export async function cleanPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** Samples this process's RSS every `everyMs` until stopped; returns the peak in bytes. */
export function peakRss(everyMs = 50): { stop(): number } {
  let peak = process.memoryUsage.rss();
  const t = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, everyMs);
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, process.memoryUsage.rss());
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)]!;
}

export const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
export const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);

/** Writes this benchmark's section (markdown) and prints it. */
/** Which code a benchmark ran: the compiled dist/ (under `npm run bench`) or the sources through tsx. */
export function measuredCode(): string {
  const compiled = import.meta.resolve('../src/config.js').includes('/dist/');
  return compiled
    ? `Measured: the compiled code (dist/, built from the sources by this run), as \`autodialer\` runs it; ${new Date().toISOString().slice(0, 10)}.`
    : `Measured: the sources through tsx (run without \`npm run bench\`), slower than the compiled code on hot paths; ${new Date().toISOString().slice(0, 10)}.`;
}

export function report(name: string, markdown: string): void {
  const dir = join(resolve(import.meta.dirname), 'results');
  mkdirSync(dir, { recursive: true });
  const text = `${markdown.trim()}\n\n${measuredCode()}`;
  writeFileSync(join(dir, `${name}.md`), `${text}\n`);
  process.stdout.write(`${text}\n`);
}

/** Linux's USER_HZ (the unit of /proc/<pid>/stat CPU times). */
const CLOCK_TICKS = 100;

/** CPU time (user + system) of a process so far, in ms, from /proc (Linux). */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS : null;
  } catch {
    return null;
  }
}

/** The Redis server's CPU time so far (user + system), in ms. */
export async function redisCpuMs(redis: Redis): Promise<number | null> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  const ms = (get('used_cpu_user') + get('used_cpu_sys')) * 1000;
  return Number.isFinite(ms) ? ms : null;
}
