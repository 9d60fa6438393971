/**
 * A redis-server of a benchmark's or a soak's own, on a free loopback port,
 * without persistence: its memory, key count and CPU time are the dialer's
 * alone (the shared server's are everybody's), and what runs on it neither
 * disturbs nor is disturbed by other users of the shared one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export interface OwnRedis {
  readonly url: string;
  readonly port: number;
  /** The redis-server process id (its CPU time and RSS can be read from /proc). */
  readonly pid: number;
  /** SIGTERM to this server (no save), then its exit. */
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function answers(port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited at start (code ${child.exitCode}): is another process on that port?`);
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      // not listening yet
    } finally {
      probe.disconnect();
    }
    if (Date.now() > end) throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `redis-server` (from PATH, or REDIS_SERVER) and resolves once it answers PING. */
export async function startOwnRedis(opts: { port?: number; args?: string[] } = {}): Promise<OwnRedis> {
  const port = opts.port ?? (await freePort());
  const bin = process.env.REDIS_SERVER ?? 'redis-server';
  // A directory of its own: a replica's full sync writes the primary's RDB there (not into the working directory).
  const dir = mkdtempSync(join(tmpdir(), 'autodialer-redis-'));
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...(opts.args ?? [])], { stdio: 'ignore' });
  void once(child, 'exit').then(() => rmSync(dir, { recursive: true, force: true }), () => undefined);
  const spawned = once(child, 'spawn').then(
    () => undefined,
    (err: Error) => {
      throw new Error(`could not start ${bin}: ${err.message} (install Redis 7, or set REDIS_SERVER to its path)`);
    },
  );
  await spawned;
  if (child.pid === undefined) throw new Error(`could not start ${bin}`);
  const pid = child.pid;
  const exited = once(child, 'exit');
  try {
    await answers(port, 10_000, child);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
