/**
 * Contacts of a campaign waiting for their number's frequency cap: noted when
 * a begin is refused by a cap (the contact goes back to the due set until the
 * cap allows it), so that the campaign's status can say a cap holds it. An
 * entry counts until the instant the cap allows the call; older ones are
 * dropped when the next is noted, and the key expires with the last of them.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

export function makeCapWaits(deps: { redis: Redis; keys: Keys }) {
  const { redis, keys: k } = deps;

  async function note(cid: string, idx: number, until: number, nowMs: number): Promise<void> {
    const key = k.capWaits(cid);
    const at = Math.max(Math.round(until), Math.round(nowMs) + 1000);
    // The key lives until its latest entry: set when it has no expiry yet (NX), else only ever moved later (GT).
    await redis
      .multi()
      .zadd(key, Math.round(until), String(idx))
      .zremrangebyscore(key, '-inf', Math.round(nowMs))
      .pexpireat(key, at, 'NX')
      .pexpireat(key, at, 'GT')
      .exec();
  }

  /** Contacts still waiting for their cap at `nowMs`. */
  async function count(cid: string, nowMs: number): Promise<number> {
    return redis.zcount(k.capWaits(cid), `(${Math.round(nowMs)}`, '+inf');
  }

  return { note, count };
}

export type CapWaits = ReturnType<typeof makeCapWaits>;
