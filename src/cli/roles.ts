/**
 * `autodialer start | worker | server`: long-running roles, stopped cleanly
 * by SIGTERM/SIGINT within the configured grace period.
 */
import { getPriority, setPriority } from 'node:os';
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { createContainer, type Container } from '../app/container.js';
import { createLogger } from '../infra/logger.js';
import { CliExit, type CliIo } from './shared.js';
import { formatProblem } from '../schedule/index.js';

/**
 * Stops the container on SIGTERM/SIGINT: `stopped` resolves once it is closed.
 * The handlers are installed when this is called; `dispose` takes them away.
 */
function onSignals(c: Container, io: CliIo): { stopped: Promise<void>; dispose: () => void } {
  let dispose = (): void => undefined;
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      c.log.info({ signal, graceMs: c.config.shutdownGraceMs }, 'stopping: no new jobs, finishing those in hand');
      dispose();
      void c.close().then(resolve, (err: unknown) => {
        io.err(`shutdown failed: ${(err as Error).message}\n`);
        resolve();
      });
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    dispose = () => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
    };
  });
  return { stopped, dispose };
}

/**
 * Scheduled campaigns in a serving process: the job schedulers synced with
 * the definition files now and on each SIGHUP, and due ticks run here.
 * Returns what takes the SIGHUP handler away.
 */
async function startSchedules(c: Container): Promise<() => void> {
  const sync = async (reason: string) => {
    try {
      const r = await c.schedules.sync();
      for (const p of r.problems) c.log.error({ problem: formatProblem(p) }, 'definition file has errors: it is left as it was scheduled');
      const changed = r.changes.filter((x) => x.change !== 'unchanged' && x.change !== 'not scheduled').map((x) => `${x.change} ${x.name}`);
      c.log.info({ dir: c.config.jobsDir, reason, changed, scheduled: r.changes.filter((x) => x.next !== null).length }, 'schedules synced');
    } catch (err) {
      c.log.error({ err, reason }, 'schedule sync failed: the schedulers stay as they were');
    }
  };
  await sync('start');
  c.schedules.startRunner();
  const onHup = () => void sync('SIGHUP');
  process.on('SIGHUP', onHup);
  return () => process.off('SIGHUP', onHup);
}

/** Starts the roles asked for in this process and says so in the log. */
async function startRoles(c: Container, roles: Roles): Promise<() => void> {
  const { config, log } = c;
  if (roles.server) {
    await c.startServer();
    log.info({ port: config.httpPort, publicUrl: config.publicUrl }, 'HTTP server listening (callbacks, API)');
  }
  const stopSchedules = roles.server ? await startSchedules(c) : () => undefined;
  if (roles.worker) {
    c.startWorker();
    log.info({ providers: [...c.providers.keys()] }, 'worker running');
  }
  if (roles.correlator) {
    // Interpretation waits in the log and can wait a little: on a shared host the HTTP answers and Redis go first.
    if (config.correlatorNice > 0) {
      try {
        setPriority(Math.max(getPriority(), config.correlatorNice));
      } catch (err) {
        log.warn({ err, nice: config.correlatorNice }, 'could not lower the correlator process priority; it runs at the normal one');
      }
    }
    c.startCorrelator();
    log.info({ nice: getPriority() }, 'correlator running: interpreting stored callbacks');
  }
  // Servers archive too when there is a history store: one archiver at a time works, the others stand by.
  if ((roles.server || roles.archiver) && (await c.startArchiver())) {
    log.info({ redisKeepMs: config.history.redisKeepMs, callbackThread: config.history.callbackThread }, 'archiver running: finished calls, contacts and callbacks move to the history store');
  }
  return stopSchedules;
}

interface Roles {
  server: boolean;
  worker: boolean;
  correlator?: boolean;
  archiver?: boolean;
}

export function addRoleCommands(program: Command, io: CliIo): void {
  const start = async (roles: Roles) => {
    const config = loadConfig(io.env);
    const log = createLogger({ level: config.logLevel });
    if (roles.archiver && !config.history.databaseUrl) {
      throw new CliExit(2, 'autodialer archiver: set DATABASE_URL to the history store (PostgreSQL), for example postgres://autodialer@127.0.0.1:5432/autodialer');
    }
    if (roles.correlator && config.correlateIn !== 'worker') {
      // Servers interpret what they receive themselves: a correlator beside them would take the same entries.
      throw new CliExit(2, 'autodialer correlator: set AUTODIALER_CORRELATE_IN=worker (servers then store callbacks and leave them to correlators)');
    }
    const c = await createContainer(config, { log });
    // Before anything starts or says it runs: a SIGTERM from then on stops cleanly, never kills.
    const signals = onSignals(c, io);
    let stopSchedules = (): void => undefined;
    try {
      stopSchedules = await startRoles(c, roles);
    } catch (err) {
      // A role that cannot start (a port in use, say): close what did start, so the process ends with the error.
      signals.dispose();
      await c.close().catch(() => undefined);
      throw err;
    }
    await signals.stopped;
    stopSchedules();
  };
  program
    .command('start')
    .description('run the HTTP server (callbacks, API) and the workers in one process')
    .action(() => start({ server: true, worker: true }));
  program
    .command('worker')
    .description('run the workers only (dialing, feeder, result deadlines)')
    .action(() => start({ server: false, worker: true }));
  program
    .command('correlator')
    .description('interpret stored callbacks only (with AUTODIALER_CORRELATE_IN=worker; workers do it too)')
    .action(() => start({ server: false, worker: false, correlator: true }));
  program
    .command('archiver')
    .description('move finished calls, contacts and callbacks from Redis to the history store only (needs DATABASE_URL; servers do it too)')
    .action(() => start({ server: false, worker: false, archiver: true }));
  program
    .command('server')
    .description('run the HTTP server only (callbacks, API)')
    .action(() => start({ server: true, worker: false }));
}
