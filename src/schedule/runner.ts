/**
 * A tick → a run: a campaign made from the definition and its contacts, with
 * an id derived from both, so that a tick delivered twice, two processes or a
 * restart never make two. Each tick's decision (run or skip) is taken once
 * and stored; a run that cannot start leaves no campaign behind and is tried
 * again by its own policy.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { CampaignDefinition } from '../campaign/definition.js';
import type { CampaignState } from '../domain/types.js';
import type { ByteSource } from '../ingest/source.js';
import { decideTick, isTick, runCampaignId, runName, type ScheduleSpec } from './match.js';
import type { ContactsSource, ParsedDefinition } from './parse.js';
import type { RunRecord, RunStore } from './runs.js';

/** What a scheduler carries to each of its ticks: the definition as it was synced. */
export const runPayloadSchema = z.object({
  v: z.literal(1),
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  file: z.string(),
  fingerprint: z.string(),
  raw: z.record(z.string(), z.unknown()),
  contacts: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('file'), path: z.string() }),
    z.object({ kind: z.literal('url'), url: z.string() }),
  ]),
  /** The zone tick times are named in. */
  timezone: z.string(),
  schedule: z
    .object({
      timing: z.discriminatedUnion('kind', [z.object({ kind: z.literal('cron'), cron: z.string() }), z.object({ kind: z.literal('every'), everyMs: z.number() })]),
      timezone: z.string(),
      startMs: z.number().nullable(),
      endMs: z.number().nullable(),
      overlap: z.enum(['skip', 'parallel']),
    })
    .nullable(),
});

export type RunPayload = z.infer<typeof runPayloadSchema>;

/** The payload of a definition that has contacts (null: it has none, so it cannot run). */
export function runPayload(def: ParsedDefinition): RunPayload | null {
  if (!def.contacts) return null;
  const window = def.raw.window as { timezone?: unknown } | undefined;
  const schedule: ScheduleSpec | null = def.schedule
    ? { timing: def.schedule.timing, timezone: def.schedule.timezone, startMs: def.schedule.startMs, endMs: def.schedule.endMs, overlap: def.schedule.overlap }
    : null;
  return {
    v: 1,
    name: def.name,
    file: def.file,
    fingerprint: def.fingerprint,
    raw: def.raw,
    contacts: def.contacts,
    timezone: schedule?.timezone ?? (typeof window?.timezone === 'string' ? window.timezone : 'UTC'),
    schedule,
  };
}

/** The schedule and tick a campaign was made for (on its record and in its status). */
export interface CampaignSchedule {
  name: string;
  /** ISO time of the tick. */
  tick: string;
}

export interface LaunchDeps {
  runs: RunStore;
  campaigns: { get(id: string): Promise<{ state: CampaignState; importDone: boolean } | null> };
  /** Parses a raw definition with the deployment's defaults; throws when its provider is not configured. */
  definition: (raw: unknown) => CampaignDefinition;
  /** Creates the campaign with this id and imports its list; with an id that exists and has not finished importing, finishes it. */
  createCampaign: (def: CampaignDefinition, source: ByteSource, fileName: string, opts: { id: string; schedule: CampaignSchedule }) => Promise<{ id: string }>;
  /** Removes a campaign whose creation failed (it may have no calls yet). */
  discard: (id: string) => Promise<void>;
  openContacts: (src: ContactsSource) => Promise<{ source: ByteSource; fileName: string }>;
  now: () => number;
  log: Logger;
  /** How long a process holds a tick it is starting without renewing (renewed while it works). */
  leaseMs?: number;
}

export interface LaunchInput {
  payload: RunPayload;
  tick: number;
  manual: boolean;
  /** This try (1-based) and whether no other follows a failure. */
  attempt: number;
  lastAttempt: boolean;
}

/** Another process is starting this tick right now. */
export class RunBusyError extends Error {
  readonly code = 'ERR_SCHEDULE_RUN_BUSY';
}

/** A run that could not start; `final` when it will not be tried again. */
export class RunStartError extends Error {
  readonly code = 'ERR_SCHEDULE_RUN_START';
  constructor(
    message: string,
    readonly record: RunRecord | null,
    readonly final: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RunStartError';
  }
}

const ACTIVE: readonly CampaignState[] = ['importing', 'running', 'paused'];
/** Earlier runs looked at for an overlap. */
const OVERLAP_LOOKBACK = 20;

export function makeRunLauncher(deps: LaunchDeps) {
  const { runs, log } = deps;
  const leaseMs = deps.leaseMs ?? 120_000;

  async function activeEarlier(name: string, tick: number): Promise<number> {
    let n = 0;
    for (const r of await runs.before(name, tick, OVERLAP_LOOKBACK)) {
      // A run still starting has its campaign (importing) before its record names it.
      const id = r.campaignId ?? (r.state === 'starting' ? runCampaignId(name, r.tick) : null);
      if (!id) continue;
      const c = await deps.campaigns.get(id);
      if (c && ACTIVE.includes(c.state)) n++;
    }
    return n;
  }

  async function start(input: LaunchInput): Promise<RunRecord | null> {
    const { payload: p, tick, manual } = input;
    const existing = await runs.get(p.name, tick);
    if (existing && (existing.state === 'started' || existing.state === 'skipped')) return existing;
    const decision = await runs.decide(p.name, tick, decideTick({ overlap: p.schedule?.overlap ?? 'parallel', manual, activeEarlierRuns: manual ? 0 : await activeEarlier(p.name, tick) }));
    if (decision === 'skip') {
      await runs.save(p.name, tick, { state: 'skipped', manual });
      log.info({ schedule: p.name, tick: new Date(tick).toISOString() }, 'tick skipped: the previous run is still active');
      return runs.get(p.name, tick);
    }
    const id = runCampaignId(p.name, tick);
    const schedule: CampaignSchedule = { name: p.name, tick: new Date(tick).toISOString() };
    const made = await deps.campaigns.get(id);
    if (made?.importDone) {
      await runs.save(p.name, tick, { state: 'started', campaignId: id, error: null, manual });
      return runs.get(p.name, tick);
    }
    if (made && made.state !== 'importing') {
      // A campaign of this tick that failed and could not be taken away: its id is spent.
      throw new RunStartError(`run ${id} of ${p.name} failed earlier and its campaign is ${made.state}`, existing, true);
    }
    await runs.save(p.name, tick, { state: 'starting', attempts: input.attempt, manual });
    try {
      const list = await deps.openContacts(p.contacts);
      const def = deps.definition({ ...p.raw, name: runName(p.name, tick, p.timezone) });
      await deps.createCampaign(def, list.source, list.fileName, { id, schedule });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      let spent = false;
      if (await deps.campaigns.get(id)) {
        try {
          await deps.discard(id);
        } catch (discardErr) {
          spent = true;
          log.error({ err: discardErr, campaignId: id, schedule: p.name }, 'a run that failed to start left a campaign that cannot be removed');
        }
      }
      const final = input.lastAttempt || spent;
      await runs.save(p.name, tick, { state: final ? 'failed' : 'retrying', error: message, attempts: input.attempt, manual, campaignId: spent ? id : null });
      log.warn({ err, schedule: p.name, tick: schedule.tick, attempt: input.attempt, final }, final ? 'run could not start: given up' : 'run could not start: it will be tried again');
      throw new RunStartError(`run of ${p.name} at ${schedule.tick} could not start: ${message}`, await runs.get(p.name, tick), final, { cause: err });
    }
    await runs.save(p.name, tick, { state: 'started', campaignId: id, error: null, attempts: input.attempt, manual });
    log.info({ schedule: p.name, tick: schedule.tick, campaignId: id }, 'scheduled run started');
    return runs.get(p.name, tick);
  }

  /**
   * Starts the run of a tick once: returns its record (null for a time that
   * is not a tick of the schedule any more). Throws RunBusyError while
   * another process holds the tick, RunStartError when it cannot start.
   */
  async function launch(input: LaunchInput): Promise<RunRecord | null> {
    const { payload: p, tick } = input;
    if (!input.manual && p.schedule && !isTick(p.schedule, tick)) {
      log.info({ schedule: p.name, tick: new Date(tick).toISOString() }, 'not a tick of the schedule (past its end, or from an older version): ignored');
      return null;
    }
    const token = randomBytes(8).toString('hex');
    if (!(await runs.acquire(p.name, tick, token, leaseMs))) {
      throw new RunBusyError(`another process is starting the run of ${p.name} at ${new Date(tick).toISOString()}`);
    }
    const renew = setInterval(() => void runs.renew(p.name, tick, token, leaseMs).catch(() => undefined), Math.max(1000, Math.floor(leaseMs / 3)));
    renew.unref();
    try {
      return await start(input);
    } finally {
      clearInterval(renew);
      await runs.release(p.name, tick, token).catch(() => undefined);
    }
  }

  return { launch };
}

export type RunLauncher = ReturnType<typeof makeRunLauncher>;
