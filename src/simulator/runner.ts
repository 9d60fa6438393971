/**
 * Runs the callback steps of each placed call in order (each post, retries
 * included, finishes before the next one starts), tracks how many calls
 * still have callbacks to post, and cancels them all on reset or close.
 *
 * Cancellation is a generation number plus a set of pending timers (not an
 * AbortSignal: thousands of listeners on one signal make every wait O(n)).
 */
import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { CallbackStep } from './callbacks.js';
import type { CallbackPoster, Sleeper } from './delivery.js';
import type { CallbackEvent, SimulatorEvents } from './events.js';
import type { Family } from './ledger.js';
import type { StatsCounters } from './stats.js';

export interface CallMeta {
  family: Family;
  number: string;
  customuuid: string | null;
  callId: string;
}

export interface CallRunner {
  start(steps: readonly CallbackStep[], meta: CallMeta): void;
  readonly pending: number;
  whenIdle(): Promise<void>;
  /** Cancels every pending callback (a post already on the wire still completes). */
  cancelAll(): void;
}

export function makeCallRunner(deps: {
  poster: CallbackPoster | null;
  events: EventEmitter<SimulatorEvents>;
  stats: StatsCounters;
}): CallRunner {
  const { poster, events, stats } = deps;
  let generation = 0;
  let pending = 0;
  const waits = new Map<NodeJS.Timeout, (done: boolean) => void>();

  const sleeperFor = (gen: number): Sleeper => (ms) => {
    if (gen !== generation) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waits.delete(timer);
        resolve(gen === generation);
      }, ms);
      waits.set(timer, resolve);
    });
  };

  async function run(steps: readonly CallbackStep[], meta: CallMeta, p: CallbackPoster, gen: number): Promise<void> {
    const sleep = sleeperFor(gen);
    const t0 = performance.now();
    for (const step of steps) {
      if (!(await sleep(t0 + step.atMs - performance.now()))) return;
      const r = await p.post(step.kind, step.body, sleep);
      if (r === null || gen !== generation) return;
      const event: CallbackEvent = {
        kind: step.kind,
        family: meta.family,
        path: r.path,
        body: step.body,
        attempts: r.attempts,
        number: meta.number,
        customuuid: meta.customuuid,
        callId: meta.callId,
      };
      stats.callbackRetries += r.attempts - 1;
      if (r.ok) {
        stats.callbacksPosted++;
        events.emit('callback:sent', event);
      } else {
        stats.callbacksFailed++;
        events.emit('callback:failed', { ...event, error: r.error });
      }
    }
  }

  return {
    start(steps, meta) {
      if (steps.length === 0) return;
      if (poster === null) {
        stats.callbacksSkipped += steps.length;
        return;
      }
      pending++;
      run(steps, meta, poster, generation)
        .catch(() => {
          // A post never rejects; a listener that throws must not stop the others.
        })
        .finally(() => {
          pending--;
          if (pending === 0) events.emit('idle');
        });
    },
    get pending() {
      return pending;
    },
    whenIdle() {
      if (pending === 0) return Promise.resolve();
      return new Promise((resolve) => events.once('idle', () => resolve()));
    },
    cancelAll() {
      generation++;
      for (const [timer, resolve] of waits) {
        clearTimeout(timer);
        resolve(false);
      }
      waits.clear();
    },
  };
}
