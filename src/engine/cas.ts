/**
 * The compare-and-set loop every attempt and contact change runs in: a
 * concurrent writer won, so read again and decide again.
 */
const MAX_CAS_TRIES = 20;

/** Returned inside a compare-and-set loop: a concurrent writer won, read and decide again. */
export const RETRY: unique symbol = Symbol('retry');

export async function casLoop<T>(what: string, fn: () => Promise<T | typeof RETRY>): Promise<T> {
  for (let i = 0; i < MAX_CAS_TRIES; i++) {
    const r = await fn();
    if (r !== RETRY) return r as T;
  }
  throw new Error(`${what}: too many concurrent updates`);
}
