/**
 * Redis keys of outbound notifications, beside the outbox stream they drain.
 */
import type { Keys } from '../store/keys.js';

export const NOTIFIER_GROUP = 'notifier';

export function notifyKeys(keys: Keys) {
  return {
    /** The stream the commit script appends final contacts to. */
    outbox: keys.outbox,
    /** Deliveries waiting for their next try: a sorted set scored by when it is due. */
    retry: `${keys.outbox}:retry`,
    /** One hash per delivery in the retry set: body, tries, last error. */
    delivery: (id: string) => `${keys.outbox}:d:${id}`,
    /** Per campaign: delivered, retrying, failed. */
    counts: (cid: string) => `${keys.campaign(cid)}:notify`,
    /** Per campaign: deliveries given up, newest first (JSON, with the last error). */
    dead: (cid: string) => `${keys.campaign(cid)}:notify:dead`,
  };
}

export type NotifyKeys = ReturnType<typeof notifyKeys>;
