/**
 * Runs a Lua script by its SHA1 (EVALSHA), loading it with EVAL when the
 * server does not know it yet (first call, or after a restart or SCRIPT FLUSH).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface LuaScript {
  readonly source: string;
  readonly sha: string;
  /** null: the script takes any number of keys (e.g. a list of do-not-call sets). */
  readonly numberOfKeys: number | null;
}

export function luaScript(source: string, numberOfKeys: number | null): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex'), numberOfKeys };
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

export async function runScript(
  redis: Redis,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number | Buffer)[],
): Promise<unknown> {
  if (script.numberOfKeys !== null && keys.length !== script.numberOfKeys) {
    throw new Error(`script expects ${script.numberOfKeys} keys, got ${keys.length}`);
  }
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!isNoScript(err)) throw err;
    return redis.eval(script.source, keys.length, ...keys, ...args);
  }
}

/**
 * The KEYS of a batched script call, each named once: a batch of items from
 * one campaign repeats the same few keys, and each item passes its keys as
 * places in KEYS instead (the bytes written and parsed shrink with them).
 */
export function keyTable(): { keys: string[]; place(key: string): string } {
  const keys: string[] = [];
  const places = new Map<string, string>();
  return {
    keys,
    place(key: string): string {
      let p = places.get(key);
      if (p === undefined) {
        keys.push(key);
        p = String(keys.length);
        places.set(key, p);
      }
      return p;
    },
  };
}
