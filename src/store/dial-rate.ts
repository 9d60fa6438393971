/**
 * A campaign's recent dial rate: the begin script counts each attempt it
 * records in a hash of per-second buckets (field: epoch second), keeping only
 * the last DIAL_RATE_KEEP_S seconds; this reads them back.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

/** Seconds of buckets the begin script keeps (older ones are removed when a new second starts). */
export const DIAL_RATE_KEEP_S = 20;

/** The window the recent rate is taken over. */
export const DIAL_RATE_WINDOW_S = 10;

export function makeDialRate(deps: { redis: Redis; keys: Keys }) {
  const { redis, keys: k } = deps;

  /**
   * Attempts begun per second over the last `windowS` whole seconds before
   * `nowMs` (the current, partial second is left out).
   */
  async function recent(cid: string, nowMs: number, windowS = DIAL_RATE_WINDOW_S): Promise<number> {
    const sec = Math.floor(nowMs / 1000);
    const fields: string[] = [];
    for (let s = sec - windowS; s < sec; s++) fields.push(String(s));
    const values = await redis.hmget(k.sends(cid), ...fields);
    let sum = 0;
    for (const v of values) {
      const n = v === null ? 0 : Number(v);
      if (Number.isFinite(n) && n > 0) sum += n;
    }
    return sum / windowS;
  }

  return { recent };
}

export type DialRate = ReturnType<typeof makeDialRate>;
