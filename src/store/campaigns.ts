/**
 * Campaign records in Redis: definition, state, import progress, counts.
 */
import { z } from 'zod';
import type { Redis } from 'ioredis';
import { campaignDefinitionSchema, type CampaignDefinition } from '../campaign/definition.js';
import { CAMPAIGN_STATES, CONTACT_STATUSES, type CampaignState, type ContactStatus } from '../domain/types.js';
import { newCampaignId } from './ids.js';
import type { Keys } from './keys.js';
import { FINISH_IMPORT } from './scripts.js';
import { luaScript, runScript } from '../infra/lua.js';

const FINISH_IMPORT_SCRIPT = luaScript(FINISH_IMPORT, 3);
/** KEYS: campaign, campaigns, active; ARGV: id, score, field, value, …. Creates the record whole, or nothing when the id exists. */
const CREATE_WITH_ID_SCRIPT = luaScript(
  `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1`,
  3,
);

const jsonOf = <T extends z.ZodType>(schema: T) =>
  z.string().transform((s, ctx) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not JSON' });
      return z.NEVER;
    }
  }).pipe(schema);

const intString = z.string().regex(/^-?\d+$/).transform(Number);

const campaignHashSchema = z.object({
  id: z.string(),
  def: jsonOf(campaignDefinitionSchema),
  state: z.enum(CAMPAIGN_STATES),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  pausedReason: z.string().optional(),
  header: jsonOf(z.array(z.string())).optional(),
  total: intString.optional(),
  importDone: z.enum(['0', '1']).optional(),
  importSummary: jsonOf(z.record(z.string(), z.unknown())).optional(),
  schedule: z.string().optional(),
  tick: z.string().optional(),
});

export interface CampaignRecord {
  id: string;
  definition: CampaignDefinition;
  state: CampaignState;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  pausedReason: string | null;
  header: string[];
  total: number;
  importDone: boolean;
  importSummary: Record<string, unknown> | null;
  /** The schedule and tick that launched it (scheduled runs only). */
  schedule?: { name: string; tick: string };
}

export class CampaignStoreError extends Error {
  readonly code = 'ERR_CAMPAIGN_STORE';
}

export type StatusCounts = Record<ContactStatus, number>;

export function emptyCounts(): StatusCounts {
  return Object.fromEntries(CONTACT_STATUSES.map((s) => [s, 0])) as StatusCounts;
}

export function makeCampaignStore(deps: { redis: Redis; keys: Keys; now: () => number }) {
  const { redis, keys: k, now } = deps;
  const iso = () => new Date(now()).toISOString();

  const initialFields = (definition: CampaignDefinition): Record<string, string> => ({
    def: JSON.stringify(definition),
    state: 'importing',
    createdAt: iso(),
    total: '0',
    importDone: '0',
    notify: definition.webhook ? '1' : '0',
  });

  async function create(definition: CampaignDefinition): Promise<string> {
    for (let tries = 0; tries < 5; tries++) {
      const id = newCampaignId();
      const created = await redis.hsetnx(k.campaign(id), 'id', id);
      if (created === 0) continue;
      await redis
        .multi()
        .hset(k.campaign(id), initialFields(definition))
        .zadd(k.campaigns, now(), id)
        .sadd(k.active, id)
        .exec();
      return id;
    }
    throw new CampaignStoreError('could not allocate a campaign id');
  }

  /**
   * Creates a campaign with a given id (a scheduled run's, derived from its
   * tick); false when that id exists already (then nothing is written).
   */
  async function createWithId(id: string, definition: CampaignDefinition, schedule: { name: string; tick: string } | null): Promise<boolean> {
    const fields = { ...initialFields(definition), ...(schedule ? { schedule: schedule.name, tick: schedule.tick } : {}) };
    const created = await runScript(redis, CREATE_WITH_ID_SCRIPT, [k.campaign(id), k.campaigns, k.active], [id, now(), ...Object.entries(fields).flat()]);
    return Number(created) === 1;
  }

  async function get(id: string): Promise<CampaignRecord | null> {
    const raw = await redis.hgetall(k.campaign(id));
    if (!raw.id) return null;
    const parsed = campaignHashSchema.safeParse(raw);
    if (!parsed.success) {
      throw new CampaignStoreError(`campaign ${id} record is damaged: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const r = parsed.data;
    return {
      id: r.id,
      definition: r.def,
      state: r.state,
      createdAt: r.createdAt,
      startedAt: r.startedAt ?? null,
      finishedAt: r.finishedAt ?? null,
      pausedReason: r.pausedReason ?? null,
      header: r.header ?? [],
      total: r.total ?? 0,
      importDone: r.importDone === '1',
      importSummary: r.importSummary ?? null,
      ...(r.schedule && r.tick ? { schedule: { name: r.schedule, tick: r.tick } } : {}),
    };
  }

  async function require(id: string): Promise<CampaignRecord> {
    const c = await get(id);
    if (!c) throw new CampaignStoreError(`no campaign with id ${id}`);
    return c;
  }

  async function list(): Promise<string[]> {
    return redis.zrange(k.campaigns, 0, -1);
  }

  async function activeIds(): Promise<string[]> {
    return redis.smembers(k.active);
  }

  async function setHeader(id: string, header: string[]): Promise<void> {
    await redis.hset(k.campaign(id), 'header', JSON.stringify(header));
  }

  async function beginImport(id: string): Promise<void> {
    await redis.multi().hset(k.campaign(id), 'importDone', '0').sadd(k.active, id).exec();
  }

  async function finishImport(id: string, summary: Record<string, unknown>, nextState: 'running' | 'paused'): Promise<string> {
    await redis.hset(k.campaign(id), 'importSummary', JSON.stringify(summary));
    const result = await runScript(redis, FINISH_IMPORT_SCRIPT, [k.campaign(id), k.counts(id), k.active], [iso(), id, nextState]);
    return String(result);
  }

  /** Moves a campaign to a new state; returns false when the move is not allowed. */
  async function setState(id: string, state: CampaignState, reason: string | null = null): Promise<boolean> {
    const c = await require(id);
    const allowed: Record<CampaignState, CampaignState[]> = {
      importing: [],
      running: ['paused', 'importing'],
      paused: ['running', 'importing'],
      cancelled: ['running', 'paused', 'importing'],
      completed: ['running', 'paused'],
    };
    if (c.state === state) return true;
    if (!allowed[state].includes(c.state)) return false;
    const m = redis.multi().hset(k.campaign(id), 'state', state);
    if (state === 'paused') m.hset(k.campaign(id), 'pausedReason', reason ?? 'paused by operator');
    else m.hdel(k.campaign(id), 'pausedReason');
    if (state === 'cancelled' || state === 'completed') m.hset(k.campaign(id), 'finishedAt', iso());
    await m.exec();
    return true;
  }

  async function counts(id: string): Promise<{ byStatus: StatusCounts; final: number }> {
    const raw = await redis.hgetall(k.counts(id));
    const byStatus = emptyCounts();
    for (const s of CONTACT_STATUSES) byStatus[s] = Number(raw[s] ?? 0);
    return { byStatus, final: Number(raw._final ?? 0) };
  }

  return { create, createWithId, get, require, list, activeIds, setHeader, beginImport, finishImport, setState, counts };
}

export type CampaignStore = ReturnType<typeof makeCampaignStore>;
