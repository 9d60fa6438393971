/**
 * A periodic task that never overlaps itself and stops cleanly.
 */
import type { Logger } from 'pino';

export interface Loop {
  stop(): Promise<void>;
  /** Runs one pass now (after the current one, if any). */
  kick(): Promise<void>;
}

export function startLoop(name: string, everyMs: number, fn: () => Promise<unknown>, log: Logger): Loop {
  let running: Promise<void> | null = null;
  let stopped = false;
  const run = (): Promise<void> => {
    if (running) return running;
    running = (async () => {
      try {
        await fn();
      } catch (err) {
        log.error({ err, loop: name }, 'periodic task failed');
      } finally {
        running = null;
      }
    })();
    return running;
  };
  const timer = setInterval(() => {
    if (!stopped) void run();
  }, everyMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (running) await running;
    },
    async kick() {
      if (running) await running;
      if (!stopped) await run();
    },
  };
}
