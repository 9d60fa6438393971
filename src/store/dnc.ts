/**
 * Named do-not-call lists, held in Redis as sets of dedupe keys (E.164).
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

export const DNC_LIST_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export class DncError extends Error {
  readonly code = 'ERR_DNC';
}

export function makeDncStore(deps: { redis: Redis; keys: Keys }) {
  const { redis, keys: k } = deps;

  function checkName(list: string): void {
    if (!DNC_LIST_NAME.test(list)) throw new DncError(`DNC list name ${JSON.stringify(list)} may hold letters, digits, _ . - (1 to 64)`);
  }

  async function add(list: string, numbers: string[]): Promise<number> {
    checkName(list);
    if (numbers.length === 0) return 0;
    const [[, added]] = (await redis.multi().sadd(k.dnc(list), ...numbers).sadd(k.dncLists, list).exec()) as [[Error | null, number]];
    return added;
  }

  async function remove(list: string, numbers: string[]): Promise<number> {
    checkName(list);
    if (numbers.length === 0) return 0;
    return redis.srem(k.dnc(list), ...numbers);
  }

  /** The lists (among `lists`) that hold the number. */
  async function check(number: string, lists: string[]): Promise<string[]> {
    if (lists.length === 0) return [];
    const m = redis.multi();
    for (const l of lists) m.sismember(k.dnc(l), number);
    const res = (await m.exec()) ?? [];
    return lists.filter((_, i) => res[i]?.[1] === 1);
  }

  async function lists(): Promise<{ name: string; size: number }[]> {
    const names = (await redis.smembers(k.dncLists)).sort();
    const sizes = await Promise.all(names.map((n) => redis.scard(k.dnc(n))));
    return names.map((name, i) => ({ name, size: sizes[i] ?? 0 }));
  }

  return { add, remove, check, lists };
}

export type DncStore = ReturnType<typeof makeDncStore>;
