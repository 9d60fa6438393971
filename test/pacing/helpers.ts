import type { Redis } from 'ioredis';
import { createRedisPacer, type RedisPacer, type RedisPacerOptions } from '../../src/pacing/index.js';
import { connectRedis } from '../support/redis.js';

/** A clock the test moves by hand (epoch ms). */
export interface ManualClock {
  now(): number;
  advance(ms: number): void;
}

export function manualClock(startMs = 1_700_000_000_000): ManualClock {
  let t = startMs;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

/** Several pacers on independent connections, as several worker processes would have. */
export function pacerFleet(
  n: number,
  prefix: string,
  extra: Omit<RedisPacerOptions, 'redis' | 'prefix'> = {},
): { pacers: RedisPacer[]; connections: Redis[]; close: () => void } {
  const connections = Array.from({ length: n }, () => connectRedis());
  const pacers = connections.map((redis) => createRedisPacer({ redis, prefix, ...extra }));
  return { pacers, connections, close: () => connections.forEach((c) => c.disconnect()) };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Far enough ahead that holds never expire during a test. */
export const FAR = 1_000_000;
