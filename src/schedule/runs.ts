/**
 * The record of each run of a schedule, in Redis: one hash per tick (its
 * decision, state, campaign, last error, tries) and an index by tick, newest
 * kept. A lease per tick keeps two processes from starting one tick at once.
 */
import { z } from 'zod';
import type { Redis } from 'ioredis';
import { luaScript, runScript } from '../infra/lua.js';

export type RunState = 'starting' | 'started' | 'skipped' | 'retrying' | 'failed';
const RUN_STATES = ['starting', 'started', 'skipped', 'retrying', 'failed'] as const satisfies readonly RunState[];

export interface RunRecord {
  name: string;
  tick: number;
  state: RunState;
  campaignId: string | null;
  error: string | null;
  attempts: number;
  /** Asked for by hand (`schedule run`), not by the schedule. */
  manual: boolean;
  updatedAt: string;
}

/** Runs kept per schedule (the oldest go first). */
export const RUNS_KEPT = 1000;

const recordSchema = z.object({
  state: z.enum(RUN_STATES),
  campaignId: z.string().optional(),
  error: z.string().optional(),
  attempts: z.string().regex(/^\d+$/).transform(Number).optional(),
  manual: z.enum(['0', '1']).optional(),
  updatedAt: z.string(),
});

export function scheduleKeys(prefix: string) {
  const base = `${prefix}:sched`;
  return {
    /** Ticks of one schedule's runs (member and score: the tick in epoch ms). */
    runs: (name: string) => `${base}:${name}:runs`,
    run: (name: string, tick: number) => `${base}:${name}:run:${tick}`,
    lease: (name: string, tick: number) => `${base}:${name}:lease:${tick}`,
  };
}

const RENEW = luaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`, 1);
const RELEASE = luaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`, 1);

export interface RunPatch {
  state: RunState;
  campaignId?: string | null;
  error?: string | null;
  attempts?: number;
  manual?: boolean;
}

export function makeRunStore(deps: { redis: Redis; prefix: string; now: () => number }) {
  const { redis, now } = deps;
  const k = scheduleKeys(deps.prefix);

  function fromHash(name: string, tick: number, raw: Record<string, string>): RunRecord | null {
    if (!raw.state) return null;
    const r = recordSchema.safeParse(raw);
    if (!r.success) return { name, tick, state: 'failed', campaignId: null, error: 'the run record is damaged', attempts: 0, manual: false, updatedAt: '' };
    return {
      name,
      tick,
      state: r.data.state,
      campaignId: r.data.campaignId ?? null,
      error: r.data.error ?? null,
      attempts: r.data.attempts ?? 0,
      manual: r.data.manual === '1',
      updatedAt: r.data.updatedAt,
    };
  }

  async function get(name: string, tick: number): Promise<RunRecord | null> {
    return fromHash(name, tick, await redis.hgetall(k.run(name, tick)));
  }

  /** Stores the first decision taken for a tick; returns the one that stands. */
  async function decide(name: string, tick: number, decision: 'run' | 'skip'): Promise<'run' | 'skip'> {
    await redis.hsetnx(k.run(name, tick), 'decision', decision);
    const stood = await redis.hget(k.run(name, tick), 'decision');
    return stood === 'skip' ? 'skip' : 'run';
  }

  async function save(name: string, tick: number, patch: RunPatch): Promise<void> {
    const fields: Record<string, string> = { state: patch.state, updatedAt: new Date(now()).toISOString() };
    if (patch.campaignId) fields.campaignId = patch.campaignId;
    if (patch.attempts !== undefined) fields.attempts = String(patch.attempts);
    if (patch.manual !== undefined) fields.manual = patch.manual ? '1' : '0';
    const m = redis.multi().hset(k.run(name, tick), fields).zadd(k.runs(name), tick, String(tick));
    if (patch.error) m.hset(k.run(name, tick), 'error', patch.error);
    else if (patch.error === null) m.hdel(k.run(name, tick), 'error');
    await m.exec();
    await trim(name);
  }

  async function trim(name: string): Promise<void> {
    const excess = (await redis.zcard(k.runs(name))) - RUNS_KEPT;
    if (excess <= 0) return;
    const old = await redis.zrange(k.runs(name), 0, excess - 1);
    if (old.length === 0) return;
    await redis
      .multi()
      .zrem(k.runs(name), ...old)
      .unlink(...old.map((t) => k.run(name, Number(t))))
      .exec();
  }

  async function records(name: string, ticks: string[]): Promise<RunRecord[]> {
    if (ticks.length === 0) return [];
    const p = redis.pipeline();
    for (const t of ticks) p.hgetall(k.run(name, Number(t)));
    const res = (await p.exec()) ?? [];
    const out: RunRecord[] = [];
    ticks.forEach((t, i) => {
      const raw = res[i]?.[1] as Record<string, string> | undefined;
      const r = raw ? fromHash(name, Number(t), raw) : null;
      if (r) out.push(r);
    });
    return out;
  }

  /** Runs, newest tick first. */
  async function list(name: string, limit = 50): Promise<RunRecord[]> {
    return records(name, await redis.zrevrange(k.runs(name), 0, limit - 1));
  }

  /** The latest runs of ticks before `tick`, newest first. */
  async function before(name: string, tick: number, limit: number): Promise<RunRecord[]> {
    return records(name, await redis.zrevrangebyscore(k.runs(name), `(${tick}`, '-inf', 'LIMIT', 0, limit));
  }

  async function acquire(name: string, tick: number, token: string, ttlMs: number): Promise<boolean> {
    return (await redis.set(k.lease(name, tick), token, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async function renew(name: string, tick: number, token: string, ttlMs: number): Promise<boolean> {
    return Number(await runScript(redis, RENEW, [k.lease(name, tick)], [token, ttlMs])) === 1;
  }

  async function release(name: string, tick: number, token: string): Promise<void> {
    await runScript(redis, RELEASE, [k.lease(name, tick)], [token]);
  }

  return { get, decide, save, list, before, acquire, renew, release };
}

export type RunStore = ReturnType<typeof makeRunStore>;
