/**
 * Ends attempts whose result deadline passed without a result: `no_result`,
 * `in_doubt` (a request that may have left, e.g. a worker killed mid-call),
 * or for pbx "no answer, no CDR". Safe to run in every process at once:
 * each ending is a compare-and-set.
 */
import type { Logger } from 'pino';
import type { AttemptService } from '../engine/attempts.js';
import type { AttemptStore } from '../store/attempts.js';

export function makeDeadlineSweeper(deps: { attempts: AttemptStore; service: AttemptService; now: () => number; log: Logger; batch?: number }) {
  const batch = deps.batch ?? 200;

  async function tick(): Promise<number> {
    const ids = await deps.attempts.overdue(deps.now(), batch);
    let ended = 0;
    for (const id of ids) {
      try {
        if ((await deps.service.deadline(id)) !== null) ended++;
      } catch (err) {
        deps.log.error({ err, attemptId: id }, 'deadline sweep failed for attempt');
      }
    }
    return ended;
  }

  return { tick };
}

export type DeadlineSweeper = ReturnType<typeof makeDeadlineSweeper>;
