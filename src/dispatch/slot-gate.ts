/**
 * The slot gate: jobs of one campaign in this process wait in line (first
 * come, first served) for a pacing slot. While the pacer keeps granting, up
 * to `maxAsking` of them ask at once; after a refusal only the head of the
 * line asks, once the pacer's retry hint has passed (or a short check
 * interval), with one timer for the whole line. Without it every job in hand
 * asks again, is refused and is handed back to the queue: a herd that costs
 * CPU and Redis in proportion to the jobs in hand, and whose event-loop lag
 * makes calls leave late and bunched.
 *
 * A waiter leaves the line without a slot when it is no longer wanted (asked
 * before each acquire: a paused or cancelled campaign drains its line at
 * once) or when its abort signal fires (the worker is stopping).
 */
import type { Pacer } from '../pacing/types.js';
import type { PacedAcquireRequest } from '../pacing/redis-pacer.js';

export interface SlotWaiter {
  /** The request, built when it is the waiter's turn (hold times start then). */
  request(): PacedAcquireRequest;
  /** Whether the job still wants to dial (e.g. its campaign is still running). */
  wanted(): Promise<boolean>;
  signal?: AbortSignal;
}

export interface SlotGrant {
  /** Milliseconds from the grant to the reserved slot. */
  waitMs: number;
  /** The reserved slot on this process's clock (epoch ms). */
  sendAt: number;
  /** A cps limit spaced this slot (no send-time admission is needed without one). */
  rated: boolean;
}

export interface SlotGate {
  /** Waits its turn and reserves a slot; null when the waiter left the line without one. */
  acquire(line: string, waiter: SlotWaiter): Promise<SlotGrant | null>;
  /** Waiters in line now, over every line. */
  waiting(): number;
}

interface Entry {
  waiter: SlotWaiter;
  asking: boolean;
  settle(grant: SlotGrant | null, err?: unknown): void;
}

interface Line {
  entries: Entry[];
  inFlight: number;
  /** The last answer was a refusal: one ask at a time until a grant. */
  refused: boolean;
  /** Sleeping until the retry hint; `wake` ends the sleep early. */
  sleeping: boolean;
  wake: (() => void) | null;
}

export function makeSlotGate(deps: {
  pacer: Pick<Pacer, 'acquire'>;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Longest sleep after a refusal before the head is checked and asks again. */
  maxIdleMs?: number;
  /** Asks in flight at once per line while the pacer grants. */
  maxAsking?: number;
}): SlotGate {
  const maxIdleMs = deps.maxIdleMs ?? 250;
  const maxAsking = deps.maxAsking ?? 16;
  const lines = new Map<string, Line>();

  function leave(line: Line, entry: Entry): void {
    const i = line.entries.indexOf(entry);
    if (i >= 0) line.entries.splice(i, 1);
  }

  function kick(key: string, line: Line): void {
    if (line.entries.length === 0 && line.inFlight === 0) {
      line.wake?.();
      if (lines.get(key) === line) lines.delete(key);
      return;
    }
    if (line.sleeping) return;
    const limit = line.refused ? 1 : maxAsking;
    for (const entry of line.entries) {
      if (line.inFlight >= limit) break;
      if (entry.asking) continue;
      void ask(key, line, entry);
    }
  }

  async function ask(key: string, line: Line, entry: Entry): Promise<void> {
    entry.asking = true;
    line.inFlight++;
    let retryInMs = 0;
    try {
      if (entry.waiter.signal?.aborted || !(await entry.waiter.wanted())) {
        leave(line, entry);
        entry.settle(null);
        return;
      }
      const result = await deps.pacer.acquire(entry.waiter.request());
      if (result.ok) {
        line.refused = false;
        leave(line, entry);
        entry.settle({ waitMs: result.waitMs, sendAt: deps.now() + result.waitMs, rated: result.rated ?? true });
        return;
      }
      line.refused = true;
      retryInMs = result.retryInMs;
    } catch (err) {
      leave(line, entry);
      entry.settle(null, err);
      return;
    } finally {
      entry.asking = false;
      line.inFlight--;
      if (retryInMs === 0) kick(key, line);
    }
    // Refused: the entry keeps its place; the line sleeps once for everyone.
    if (entry.waiter.signal?.aborted) {
      leave(line, entry);
      entry.settle(null);
    }
    if (line.sleeping) return kick(key, line);
    line.sleeping = true;
    await Promise.race([
      deps.sleep(Math.max(1, Math.min(retryInMs, maxIdleMs))),
      new Promise<void>((resolve) => {
        line.wake = resolve;
      }),
    ]);
    line.wake = null;
    line.sleeping = false;
    kick(key, line);
  }

  return {
    acquire(key, waiter) {
      return new Promise<SlotGrant | null>((resolve, reject) => {
        if (waiter.signal?.aborted) return resolve(null);
        let line = lines.get(key);
        if (!line) {
          line = { entries: [], inFlight: 0, refused: false, sleeping: false, wake: null };
          lines.set(key, line);
        }
        const own = line;
        const onAbort = (): void => {
          // An entry being asked for is settled by its ask, with whatever the pacer answered.
          if (entry.asking) return;
          leave(own, entry);
          entry.settle(null);
          kick(key, own);
        };
        const entry: Entry = {
          waiter,
          asking: false,
          settle: (grant, err) => {
            waiter.signal?.removeEventListener('abort', onAbort);
            if (err !== undefined) reject(err);
            else resolve(grant);
          },
        };
        waiter.signal?.addEventListener('abort', onAbort, { once: true });
        own.entries.push(entry);
        kick(key, own);
      });
    },
    waiting() {
      let n = 0;
      for (const line of lines.values()) n += line.entries.length;
      return n;
    },
  };
}
