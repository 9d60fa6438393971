/**
 * The dialer's roles as the soak runs them: `autodialer server` and
 * `autodialer worker`, each in a process of its own (the sources, through
 * tsx), with the soak probe loaded first so that the soak can ask each
 * process for its memory. Their log lines are kept (the last few, and how
 * many were warnings or errors).
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MemorySample } from './soak-probe.js';

const root = resolve(import.meta.dirname, '..');
const MAIN = join(root, 'src', 'cli', 'main.ts');
const PROBE = pathToFileURL(join(root, 'scripts', 'soak-probe.ts')).href;
/** Variables of the parent's environment that would configure the dialer: the soak sets its own. */
const OWN = /^(AUTODIALER_|SIPCALL_|PBX_|REDIS_URL$|DATABASE_URL$|LOG_LEVEL$)/;

export type Role = 'server' | 'worker';

export interface DialerProcess {
  readonly role: Role;
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its memory (after a full collection). */
  sample(timeoutMs?: number): Promise<MemorySample>;
  /** SIGTERM; SIGKILL if it has not exited `killAfterMs` later. */
  stop(killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Log lines at warn (40) and at error (50) or above so far, Node's process warnings, and the last lines of its output. */
  log(): { warnings: number; errors: number; nodeWarnings: string[]; tail: string[] };
}

export function spawnRole(role: Role, env: Record<string, string>): DialerProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !OWN.test(k)));
  const child = spawn(process.execPath, ['--expose-gc', '--trace-warnings', '--import', 'tsx', '--import', PROBE, MAIN, role], {
    cwd: root,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  if (child.pid === undefined) throw new Error(`could not start autodialer ${role}`);
  const pid = child.pid;
  const tail: string[] = [];
  let warnings = 0;
  let errors = 0;
  const nodeWarnings: string[] = [];
  let stackLines = 0;
  let partial = '';
  const onOutput = (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      const level = /^\{.*"level":(\d+)/.exec(line)?.[1];
      if (level !== undefined) {
        if (Number(level) >= 50) errors++;
        else if (Number(level) >= 40) warnings++;
      } else if (/^\(node:\d+\) \w*Warning/.test(line) && nodeWarnings.length < 20) {
        nodeWarnings.push(line);
        stackLines = 8;
      } else if (stackLines > 0 && /^\s+at /.test(line)) {
        // --trace-warnings: where it came from.
        nodeWarnings[nodeWarnings.length - 1] += `\n${line}`;
        stackLines--;
      }
      tail.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
      if (tail.length > 20) tail.shift();
    }
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));

  return {
    role,
    pid,
    exited,
    sample(timeoutMs = 15_000) {
      return new Promise((resolveSample, reject) => {
        const timer = setTimeout(() => {
          child.off('message', on);
          reject(new Error(`autodialer ${role} (pid ${pid}) did not report its memory within ${timeoutMs} ms`));
        }, timeoutMs);
        const on = (m: unknown) => {
          if (typeof m !== 'object' || m === null || (m as { type?: unknown }).type !== 'memory') return;
          clearTimeout(timer);
          child.off('message', on);
          resolveSample(m as MemorySample);
        };
        child.on('message', on);
        if (!child.connected) {
          clearTimeout(timer);
          child.off('message', on);
          reject(new Error(`autodialer ${role} (pid ${pid}) has exited`));
          return;
        }
        child.send({ type: 'sample' });
      });
    },
    async stop(killAfterMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
    log: () => ({ warnings, errors, nodeWarnings: [...nodeWarnings], tail: [...tail] }),
  };
}
