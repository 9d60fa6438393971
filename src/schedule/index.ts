/**
 * Scheduled campaigns: definition files → parsed definitions → BullMQ job
 * schedulers → runs. The one entry point the container wires.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CampaignDefinition } from '../campaign/definition.js';
import type { CampaignRecord, StatusCounts } from '../store/campaigns.js';
import type { ByteSource } from '../ingest/source.js';
import { openContacts, type ContactsOptions, DEFAULT_CONTACTS_OPTIONS } from './contacts.js';
import { localTime, nextTick } from './match.js';
import { formatProblem, loadDefinitions, type LoadedDefinitions } from './parse.js';
import { makeScheduleQueue, startScheduleWorker } from './queue.js';
import { makeRunLauncher, runPayload, RunStartError, type CampaignSchedule } from './runner.js';
import { makeRunStore, type RunRecord } from './runs.js';
import { syncSchedulers, type SyncReport } from './sync.js';

export { formatProblem, loadDefinitions, type DefinitionProblem, type ParsedDefinition } from './parse.js';
export type { SyncChange, SyncReport } from './sync.js';
export type { CampaignSchedule } from './runner.js';
export { RunStartError, RunBusyError } from './runner.js';

export interface ScheduleDeps {
  /** BullMQ's connection (it makes its blocking ones from it). */
  connection: Redis;
  redis: Redis;
  prefix: string;
  bullPrefix: string;
  jobsDir: string;
  campaigns: { get(id: string): Promise<CampaignRecord | null>; counts(id: string): Promise<{ byStatus: StatusCounts }> };
  definition: (raw: unknown) => CampaignDefinition;
  createCampaign: (def: CampaignDefinition, source: ByteSource, fileName: string, opts: { id: string; schedule: CampaignSchedule }) => Promise<{ id: string }>;
  discard: (id: string) => Promise<void>;
  contacts?: Partial<ContactsOptions>;
  now: () => number;
  log: Logger;
  /** Delays between the tries of a run that cannot start (default 30s, 2m, 10m). */
  retryDelaysMs?: readonly number[];
}

export interface ScheduleListing {
  name: string;
  file: string;
  cron?: string;
  every?: string;
  timezone: string;
  overlap: 'skip' | 'parallel' | null;
  /** The next tick: UTC and local time in the schedule's zone (null: none left, or no schedule). */
  next: { utc: string; local: string } | null;
  lastRun: { id: string | null; tick: string; state: string } | null;
  /** A scheduler is in place with this version of the file (else run `schedule sync`). */
  synced: boolean;
}

export interface RunView {
  id: string | null;
  tick: string;
  state: string;
  counts: StatusCounts | null;
  manual?: boolean;
  error?: string;
  attempts?: number;
}

export class ScheduleError extends Error {
  readonly code = 'ERR_SCHEDULE';
}

export function makeSchedules(deps: ScheduleDeps) {
  const { log, now } = deps;
  const runs = makeRunStore({ redis: deps.redis, prefix: deps.prefix, now });
  const queue = makeScheduleQueue({ connection: deps.connection, bullPrefix: deps.bullPrefix, log, ...(deps.retryDelaysMs ? { retryDelaysMs: deps.retryDelaysMs } : {}) });
  const contactsOptions: ContactsOptions = { ...DEFAULT_CONTACTS_OPTIONS, ...deps.contacts };
  const launcher = makeRunLauncher({
    runs,
    campaigns: deps.campaigns,
    definition: deps.definition,
    createCampaign: deps.createCampaign,
    discard: deps.discard,
    openContacts: (src) => openContacts(src, contactsOptions),
    now,
    log,
  });
  const closers: (() => Promise<void>)[] = [];

  const load = (dir = deps.jobsDir): LoadedDefinitions => loadDefinitions(dir);

  /** Makes the schedulers match the files of `dir`. */
  async function sync(dir = deps.jobsDir): Promise<SyncReport> {
    return syncSchedulers(queue, load(dir), now());
  }

  /** What a run is now: its campaign's state when it has one. */
  async function view(r: RunRecord): Promise<RunView> {
    const tick = new Date(r.tick).toISOString();
    if (r.state === 'skipped') return { id: null, tick, state: 'skipped', counts: null, ...(r.manual ? { manual: true } : {}) };
    const c = r.campaignId ? await deps.campaigns.get(r.campaignId) : null;
    const counts = c ? (await deps.campaigns.counts(c.id)).byStatus : null;
    return {
      id: r.campaignId,
      tick,
      state: c && r.state === 'started' ? c.state : r.campaignId && !c && r.state === 'started' ? 'deleted' : r.state,
      counts,
      ...(r.manual ? { manual: true } : {}),
      ...(r.error ? { error: r.error, attempts: r.attempts } : {}),
    };
  }

  async function list(dir = deps.jobsDir): Promise<{ schedules: ScheduleListing[]; problems: LoadedDefinitions['problems'] }> {
    const loaded = load(dir);
    const schedulers = new Map((await queue.schedulers()).map((s) => [s.name, s]));
    const t = now();
    const schedules: ScheduleListing[] = [];
    for (const def of loaded.definitions) {
      const payload = runPayload(def);
      if (!payload) continue;
      const s = def.schedule;
      const installed = schedulers.get(def.name);
      const synced = s !== null && installed?.fingerprint === def.fingerprint;
      const nextMs = s ? (synced && installed.next !== null && installed.next >= t ? installed.next : nextTick(s, t)) : null;
      const [last] = await runs.list(def.name, 1);
      const lastView = last ? await view(last) : null;
      schedules.push({
        name: def.name,
        file: def.file,
        ...(s?.source.cron ? { cron: s.source.cron } : {}),
        ...(s?.source.every ? { every: s.source.every } : {}),
        timezone: payload.timezone,
        overlap: s?.overlap ?? null,
        next: nextMs !== null ? { utc: new Date(nextMs).toISOString(), local: `${localTime(nextMs, payload.timezone)} ${payload.timezone}` } : null,
        lastRun: lastView ? { id: lastView.id, tick: lastView.tick, state: lastView.state } : null,
        synced,
      });
    }
    return { schedules, problems: loaded.problems };
  }

  async function runsOf(name: string, limit = 50): Promise<RunView[]> {
    return Promise.all((await runs.list(name, limit)).map(view));
  }

  /** One run of a definition now, outside its schedule (in this process, tried once). */
  async function runNow(name: string, dir = deps.jobsDir): Promise<RunRecord> {
    const loaded = load(dir);
    const def = loaded.definitions.find((d) => d.name === name);
    if (!def) {
      const problem = loaded.problems.find((p) => p.file.replace(/^.*[/\\]/, '').replace(/\.[^.]+$/, '') === name);
      throw new ScheduleError(problem ? `${name} cannot run: its file has errors: ${formatProblem(problem)}` : `no definition named ${name} in ${dir}`);
    }
    const payload = runPayload(def);
    if (!payload) throw new ScheduleError(`${name} has no contacts: add contacts (a path relative to ${def.file}, or an http(s) URL) to run it`);
    const r = await launcher.launch({ payload, tick: now(), manual: true, attempt: 1, lastAttempt: true });
    if (!r) throw new RunStartError(`${name} did not run`, null, true);
    return r;
  }

  /** Takes due ticks in this process until stopped. */
  function startRunner(opts: { concurrency?: number } = {}): { stop(): Promise<void> } {
    const w = startScheduleWorker({
      connection: deps.connection,
      bullPrefix: deps.bullPrefix,
      launcher,
      log,
      ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
      ...(deps.retryDelaysMs ? { retryDelaysMs: deps.retryDelaysMs } : {}),
    });
    closers.push(() => w.close());
    return { stop: () => w.close() };
  }

  async function close(): Promise<void> {
    for (const c of closers.splice(0)) await c().catch(() => undefined);
    await queue.close();
  }

  return { load, sync, list, runs: runsOf, runNow, startRunner, launcher, close };
}

export type Schedules = ReturnType<typeof makeSchedules>;
