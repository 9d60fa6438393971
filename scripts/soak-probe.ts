/**
 * Loaded before a dialer role (`node --expose-gc --import tsx --import
 * scripts/soak-probe.ts src/cli/main.ts server`): answers the soak's
 * `{ type: 'sample' }` over IPC with this process's memory, taken after a
 * full garbage collection when `--expose-gc` is given (the live heap, not
 * what the collector has not come to yet). Changes nothing else: the IPC
 * channel does not keep the process alive.
 */
import { memoryUsage } from 'node:process';

export interface MemorySample {
  type: 'memory';
  pid: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

const collect = (globalThis as { gc?: () => void }).gc;

if (process.send) {
  process.on('message', (m: unknown) => {
    if (typeof m !== 'object' || m === null || (m as { type?: unknown }).type !== 'sample') return;
    collect?.();
    const u = memoryUsage();
    const sample: MemorySample = { type: 'memory', pid: process.pid, rss: u.rss, heapUsed: u.heapUsed, heapTotal: u.heapTotal, external: u.external, arrayBuffers: u.arrayBuffers };
    process.send?.(sample);
  });
  // After the listener (adding one would otherwise hold the channel, and the process, open).
  process.channel?.unref();
}
