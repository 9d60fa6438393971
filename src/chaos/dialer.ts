/**
 * The dialer of a chaos run: `autodialer server` and `autodialer worker`
 * processes (bin/autodialer.js, as deployed) on one Redis prefix, and a pool
 * that keeps a number of workers running whatever happens to them.
 */
import { join } from 'node:path';
import type { Child, Supervisor } from './processes.js';

/** Variables of the parent that must not reach the dialer's processes (the run sets its own). */
const OWN = /^(AUTODIALER_|SIPCALL_|PBX_|REDIS_URL$|DATABASE_URL$|LOG_LEVEL$)/;

export interface DialerSettings {
  /** The checkout's root: bin/autodialer.js is run from there. */
  root: string;
  /** The processes' working directory (nothing in it is read: no .env, no jobs). */
  cwd: string;
  /** The dialer's configuration variables. */
  env: Record<string, string>;
  /** Run the TypeScript sources (AUTODIALER_DEV=1). */
  sources: boolean;
}

export function processEnv(settings: DialerSettings, extra: Record<string, string> = {}): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !OWN.test(k)) base[k] = v;
  if (process.env.AUTODIALER_DEV !== undefined) base.AUTODIALER_DEV = process.env.AUTODIALER_DEV;
  if (settings.sources) base.AUTODIALER_DEV = '1';
  return { ...base, ...settings.env, ...extra };
}

export function startServer(sup: Supervisor, settings: DialerSettings): Child {
  return sup.spawn({
    name: sup.nextName('server'),
    command: process.execPath,
    args: [join(settings.root, 'bin', 'autodialer.js'), 'server'],
    env: processEnv(settings, { LOG_LEVEL: 'info' }),
    cwd: settings.cwd,
    ready: /HTTP server listening/,
  });
}

export function startWorker(sup: Supervisor, settings: DialerSettings): Child {
  return sup.spawn({
    name: sup.nextName('worker'),
    command: process.execPath,
    args: [join(settings.root, 'bin', 'autodialer.js'), 'worker'],
    // Debug: each dial's line names its attempt, so a violation can be traced to the process that sent it.
    env: processEnv(settings, { LOG_LEVEL: 'debug' }),
    cwd: settings.cwd,
    ready: /worker running/,
  });
}

export interface WorkerPool {
  /** The workers running now that said they were ready. */
  ready(): Child[];
  /** SIGKILLs one of them and starts another in its place; resolves once the victim is gone. */
  killOne(pick: (n: number) => number): Promise<Child | null>;
  /** Stops replacing workers (the run is ending). */
  freeze(): void;
  /** Workers that exited without being killed by the run (e.g. started while Redis was down), with their exit. */
  readonly unexpected: { name: string; pid: number; code: number | null; signal: string | null }[];
}

/**
 * Keeps `size` workers: one the run kills is replaced at once; one that exits
 * on its own (a worker refuses to start while Redis does not answer) is
 * replaced a second later.
 */
export function startWorkerPool(sup: Supervisor, settings: DialerSettings, size: number, note: (what: string) => void): WorkerPool {
  const live = new Set<Child>();
  const ready = new Set<Child>();
  const killed = new Set<Child>();
  const unexpected: WorkerPool['unexpected'] = [];
  let frozen = false;

  function add(): Child {
    const w = startWorker(sup, settings);
    live.add(w);
    w.ready.then(
      () => ready.add(w),
      () => undefined,
    );
    void w.exited.then((e) => {
      live.delete(w);
      ready.delete(w);
      if (killed.has(w) || frozen) return;
      unexpected.push({ name: w.name, pid: w.pid, code: e.code, signal: e.signal });
      note(`${w.name} (pid ${w.pid}) exited by itself (code ${e.code}, signal ${e.signal}): another starts in 1 s`);
      setTimeout(() => {
        if (!frozen) add();
      }, 1000);
    });
    return w;
  }

  for (let i = 0; i < size; i++) add();

  return {
    ready: () => [...ready].filter((w) => w.running()),
    async killOne(pick) {
      const candidates = [...ready].filter((w) => w.running());
      if (candidates.length === 0 || frozen) return null;
      const victim = candidates[pick(candidates.length)]!;
      killed.add(victim);
      victim.signal('SIGKILL');
      await victim.exited;
      if (!frozen) add();
      return victim;
    },
    freeze() {
      frozen = true;
    },
    unexpected,
  };
}
