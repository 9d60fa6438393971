/**
 * Child processes of a chaos run: each started, followed and stopped by its
 * PID, its standard error kept in a log file of its own. A `Supervisor`
 * knows every process it started, so that none is left running at the end
 * (the run stops them one by one, by PID, and says which did not go).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';

/** A free TCP port on the loopback interface (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  /** A name for the report and the log file: `redis-1`, `worker-4`, `server-2`. */
  readonly name: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly exited: Promise<ChildExit>;
  /** Resolves when a line of its standard error (or output) matches the `ready` pattern; rejects if it exits first. */
  readonly ready: Promise<void>;
  running(): boolean;
  /** Sends a signal to this PID (nothing when it has exited). */
  signal(sig: NodeJS.Signals): void;
  /** Log lines at level error or above (pino's JSON), counted. */
  errorLines(): number;
}

export interface SpawnSpec {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** A line that says the process is ready (default: ready as soon as it started). */
  ready?: RegExp;
}

/** Lines of a stream, as they come. */
function onLines(stream: NodeJS.ReadableStream, each: (line: string) => void): void {
  let rest = '';
  stream.on('data', (chunk: Buffer) => {
    const text = rest + chunk.toString('utf8');
    const lines = text.split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) each(l);
  });
}

export class Supervisor {
  private readonly children: Child[] = [];
  private readonly counts = new Map<string, number>();

  /** `logDir`: where each process's output is kept (`<name>.log`); null: nowhere. */
  constructor(private readonly logDir: string | null) {}

  /** A name made unique by a counter: `worker` → `worker-3`. */
  nextName(base: string): string {
    const n = (this.counts.get(base) ?? 0) + 1;
    this.counts.set(base, n);
    return `${base}-${n}`;
  }

  spawn(spec: SpawnSpec): Child {
    const log = this.logDir === null ? null : createWriteStream(join(this.logDir, `${spec.name}.log`), { flags: 'a' });
    const proc: ChildProcess = spawn(spec.command, spec.args, {
      env: spec.env,
      cwd: spec.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (proc.pid === undefined) throw new Error(`could not start ${spec.name} (${spec.command})`);
    const pid = proc.pid;
    let errors = 0;
    let exitInfo: ChildExit | null = null;
    // Its output is read to the end (or for at most a second more: a child of
    // its own may hold the pipe open) and in its log file before `exited`
    // resolves, so a reader of the log after the exit sees every line.
    const streamsClosed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
    const exited = new Promise<ChildExit>((resolve) => {
      proc.once('exit', (code, signal) => {
        const info: ChildExit = { code, signal };
        exitInfo = info;
        void Promise.race([streamsClosed, delay(1000, undefined, { ref: false })])
          .then(() => {
            if (!log) return undefined;
            proc.stdout!.unpipe(log);
            proc.stderr!.unpipe(log);
            return new Promise<void>((done) => log.end(done));
          })
          .then(() => resolve(info));
      });
    });
    const ready = new Promise<void>((resolve, reject) => {
      if (!spec.ready) return resolve();
      const pattern = spec.ready;
      const look = (line: string) => {
        if (pattern.test(line)) resolve();
      };
      onLines(proc.stdout!, look);
      onLines(proc.stderr!, look);
      void exited.then((e) => reject(new Error(`${spec.name} (pid ${pid}) exited before it was ready (code ${e.code}, signal ${e.signal})`)));
    });
    ready.catch(() => undefined);
    onLines(proc.stderr!, (line) => {
      if (/"level":(5\d|60)/.test(line)) errors++;
    });
    if (log) {
      proc.stdout!.pipe(log, { end: false });
      proc.stderr!.pipe(log, { end: false });
    } else {
      proc.stdout!.resume();
      proc.stderr!.resume();
    }
    const child: Child = {
      name: spec.name,
      pid,
      startedAt: Date.now(),
      exited,
      ready,
      running: () => exitInfo === null,
      signal(sig) {
        if (exitInfo === null) {
          try {
            process.kill(pid, sig);
          } catch {
            // Gone between the check and the signal.
          }
        }
      },
      errorLines: () => errors,
    };
    this.children.push(child);
    return child;
  }

  all(): readonly Child[] {
    return this.children;
  }

  /**
   * Stops every process still running, by PID: SIGTERM, then SIGKILL after
   * `graceMs`. Returns the PIDs still alive afterwards (none, normally).
   */
  async stopAll(graceMs: number, order: (c: Child) => number = () => 0): Promise<number[]> {
    const live = this.children.filter((c) => c.running()).sort((a, b) => order(a) - order(b));
    // In groups of equal order (e.g. dialers before their Redis).
    const groups = new Map<number, Child[]>();
    for (const c of live) groups.set(order(c), [...(groups.get(order(c)) ?? []), c]);
    for (const [, group] of [...groups.entries()].sort((a, b) => a[0] - b[0])) {
      await Promise.all(group.map((c) => stopChild(c, graceMs)));
    }
    return this.children.filter((c) => alive(c.pid)).map((c) => c.pid);
  }
}

/** SIGTERM, then SIGKILL when it has not exited `graceMs` later. */
export async function stopChild(c: Child, graceMs: number): Promise<ChildExit> {
  c.signal('SIGTERM');
  const timer = setTimeout(() => c.signal('SIGKILL'), graceMs);
  const exit = await c.exited;
  clearTimeout(timer);
  return exit;
}

/** Whether a process of that PID exists (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Resolves once a Redis on this port answers PING; rejects after `timeoutMs`. */
export async function untilRedisAnswers(port: number, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  probe.on('error', () => undefined);
  try {
    for (;;) {
      try {
        if (probe.status !== 'ready') await probe.connect();
        if ((await probe.ping()) === 'PONG') return;
      } catch {
        probe.disconnect();
      }
      if (Date.now() > end) throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    probe.disconnect();
  }
}

export interface RedisServerSpec {
  port: number;
  /** Its working directory: the append-only file lives there and outlives a restart. Null: nothing kept. */
  dir: string | null;
  /** AOF fsync policy (Redis' default: everysec). */
  appendfsync?: 'always' | 'everysec' | 'no';
}

/**
 * A redis-server of its own on a loopback port, AOF on in `dir` (so that a
 * restart, clean or not, keeps what it acknowledged), no RDB snapshots,
 * nothing evicted. Resolves once it answers PING.
 */
export async function startRedisServer(sup: Supervisor, spec: RedisServerSpec): Promise<Child> {
  const child = sup.spawn({
    name: sup.nextName('redis'),
    command: 'redis-server',
    args: [
      ...['--port', String(spec.port), '--bind', '127.0.0.1', '--save', '', '--maxmemory-policy', 'noeviction'],
      ...(spec.dir === null ? ['--appendonly', 'no'] : ['--dir', spec.dir, '--appendonly', 'yes', '--appendfsync', spec.appendfsync ?? 'everysec']),
    ],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  await Promise.race([
    untilRedisAnswers(spec.port),
    child.exited.then((e) => {
      throw new Error(`redis-server exited at start (code ${e.code}, signal ${e.signal}): is redis-server 7 installed? (Debian: apt-get install redis-server)`);
    }),
  ]);
  return child;
}
