/**
 * Durable state of outbound notifications: the retry set with one record
 * per delivery waiting for its next try, the per-campaign counters and the
 * dead-letter lists. Every change that settles an outbox entry acknowledges
 * it in the same script.
 */
import { z } from 'zod';
import type { Redis } from 'ioredis';
import { CONTACT_STATUSES, type ContactStatus } from '../domain/types.js';
import type { Keys } from '../store/keys.js';
import { NOTIFIER_GROUP, notifyKeys } from './keys.js';
import { ENTRY_DEFERRED, ENTRY_DELIVERED, ENTRY_FAILED, LEASE_DUE, RESEND_DEAD, RETRY_DELIVERED, RETRY_DROP, RETRY_FAILED, RETRY_LATER, RETRY_RELEASE } from './scripts.js';

export interface NotificationCounts {
  delivered: number;
  /** Deliveries waiting for their next try. */
  retrying: number;
  /** Deliveries given up (see the dead-letter list). */
  failed: number;
}

/** A delivery given up, with the last error. */
export interface DeadLetter {
  delivery: string;
  campaignId: string;
  contact: number;
  status: ContactStatus;
  tries: number;
  firstAt: string;
  failedAt: string;
  reason: string;
  lastError: string;
  /** The body it was given up with is kept: it can be sent again (`resendDeadLetters`). */
  resendable: boolean;
}

/** A delivery waiting in the retry set. */
export interface PendingDelivery {
  delivery: string;
  campaignId: string;
  contact: number;
  status: ContactStatus;
  /** The body sent on every try, byte for byte. */
  body: string;
  tries: number;
  firstAt: number;
  lastAt: number;
  lastError: string;
}

const intString = z.string().regex(/^\d+$/).transform(Number);

const pendingSchema = z.object({
  cid: z.string().min(1),
  idx: intString,
  status: z.enum(CONTACT_STATUSES),
  body: z.string(),
  tries: intString,
  firstAt: intString,
  lastAt: intString,
  lastError: z.string(),
});

const deadLetterSchema = z.object({
  delivery: z.string(),
  campaignId: z.string(),
  contact: z.number().int(),
  status: z.enum(CONTACT_STATUSES),
  tries: z.number().int(),
  firstAt: z.string(),
  failedAt: z.string(),
  reason: z.string(),
  lastError: z.string(),
  /** The body sent on every try (absent when the contact could not be read, and in letters of older versions). */
  body: z.string().optional(),
});

export class DeliveryStoreError extends Error {
  readonly code = 'ERR_DELIVERY_STORE';
}

const num = (v: string | undefined): number => {
  const n = Number(v ?? 0);
  return Number.isFinite(n) ? n : 0;
};

/** Counters of one campaign's notifications; what the status report shows. */
export async function notificationCounts(redis: Redis, keys: Keys, cid: string): Promise<NotificationCounts> {
  const raw = await redis.hgetall(notifyKeys(keys).counts(cid));
  return { delivered: num(raw.delivered), retrying: num(raw.retrying), failed: num(raw.failed) };
}

/** The last given-up deliveries of one campaign, newest first. */
export async function deadLetters(redis: Redis, keys: Keys, cid: string, limit = 100): Promise<DeadLetter[]> {
  const raw = await redis.lrange(notifyKeys(keys).dead(cid), 0, Math.max(0, limit - 1));
  const out: DeadLetter[] = [];
  for (const line of raw) {
    try {
      const r = deadLetterSchema.safeParse(JSON.parse(line));
      if (!r.success) continue;
      // The body stays in Redis: it holds the contact's columns (phone numbers), and listing needs none of it.
      const { body, ...letter } = r.data;
      out.push({ ...letter, resendable: body !== undefined });
    } catch {
      // A line that is not JSON is not ours: skip it.
    }
  }
  return out;
}

/** The delivery ids of the letters RESEND_DEAD resends (a string body and delivery), each once, in list order. */
function resendable(lines: readonly string[]): string[] {
  const ids = new Set<string>();
  for (const line of lines) {
    let l: unknown;
    try {
      l = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof l !== 'object' || l === null || Array.isArray(l)) continue;
    const { delivery, body } = l as Record<string, unknown>;
    if (typeof delivery === 'string' && typeof body === 'string') ids.add(delivery);
  }
  return [...ids];
}

/**
 * Sends a campaign's given-up notifications again: each one whose body was
 * kept goes back to the retry set, due now, with the same delivery id and
 * body and a fresh schedule; the notifiers take it from there. The list is
 * read first so that the script is given every delivery key it writes (a
 * letter given up between the read and the script stays for the next resend).
 */
export async function resendDeadLetters(redis: Redis, keys: Keys, cid: string, now: number): Promise<{ resent: number; kept: number }> {
  const nk = notifyKeys(keys);
  const ids = resendable(await redis.lrange(nk.dead(cid), 0, -1));
  const keyList = [nk.dead(cid), nk.counts(cid), nk.retry, ...ids.map((id) => nk.delivery(id))];
  const reply = (await redis.eval(RESEND_DEAD, keyList.length, ...keyList, String(Math.round(now)), ...ids)) as unknown;
  const [resent, kept] = Array.isArray(reply) ? reply.map(Number) : [];
  if (resent === undefined || kept === undefined || !Number.isInteger(resent) || !Number.isInteger(kept)) {
    throw new DeliveryStoreError(`resending the given-up notifications of campaign ${cid} answered ${JSON.stringify(reply)}`);
  }
  return { resent, kept };
}

export function makeDeliveryStore(deps: { redis: Redis; keys: Keys; deadLetterLimit: number }) {
  const { redis, keys } = deps;
  const nk = notifyKeys(deps.keys);
  const keep = String(deps.deadLetterLimit);
  const run = async (script: string, keyList: string[], args: (string | number)[]): Promise<boolean> =>
    Number(await redis.eval(script, keyList.length, ...keyList, ...args.map(String))) === 1;

  function letter(
    d: { delivery: string; campaignId: string; contact: number; status: ContactStatus; tries: number; firstAt: number },
    failedAt: number,
    reason: string,
    lastError: string,
    body: string | null,
  ): string {
    const l: z.input<typeof deadLetterSchema> = {
      delivery: d.delivery,
      campaignId: d.campaignId,
      contact: d.contact,
      status: d.status,
      tries: d.tries,
      firstAt: new Date(d.firstAt).toISOString(),
      failedAt: new Date(failedAt).toISOString(),
      reason,
      lastError,
      ...(body !== null ? { body } : {}),
    };
    return JSON.stringify(l);
  }

  /** The first try of an outbox entry was acknowledged by the receiver. */
  function entryDelivered(entryId: string, cid: string): Promise<boolean> {
    return run(ENTRY_DELIVERED, [nk.outbox, nk.counts(cid), keys.campaigns], [NOTIFIER_GROUP, entryId, cid]);
  }

  /** The first try failed: keep the delivery for a retry at `dueAt`, and acknowledge the entry. False: acknowledged before, or its campaign was deleted (nothing scheduled). */
  function entryDeferred(entryId: string, d: Omit<PendingDelivery, 'tries' | 'lastAt'> & { at: number }, dueAt: number): Promise<boolean> {
    // Strings only: Lua would print large numbers in exponent form.
    const fields = { cid: d.campaignId, idx: String(d.contact), status: d.status, body: d.body, tries: '1', firstAt: String(d.firstAt), lastAt: String(d.at), lastError: d.lastError };
    return run(ENTRY_DEFERRED, [nk.outbox, nk.counts(d.campaignId), nk.retry, nk.delivery(d.delivery), keys.campaigns], [
      NOTIFIER_GROUP,
      entryId,
      d.delivery,
      dueAt,
      JSON.stringify(fields),
      d.campaignId,
    ]);
  }

  /** The entry's delivery is given up at once (no retry allowed, or it can never be sent). */
  function entryFailed(
    entryId: string,
    d: { delivery: string; campaignId: string; contact: number; status: ContactStatus; tries: number; firstAt: number },
    at: number,
    reason: string,
    lastError: string,
    /** What was sent (null: nothing could be built), kept with the letter so that it can be sent again. */
    body: string | null,
  ): Promise<boolean> {
    return run(ENTRY_FAILED, [nk.outbox, nk.counts(d.campaignId), nk.dead(d.campaignId), keys.campaigns], [NOTIFIER_GROUP, entryId, letter(d, at, reason, lastError, body), keep, d.campaignId]);
  }

  /** Takes up to `limit` due retries until `leaseUntil`; the lease is the token for what follows. */
  async function leaseDue(now: number, leaseUntil: number, limit: number): Promise<string[]> {
    const ids = (await redis.eval(LEASE_DUE, 1, nk.retry, String(now), String(leaseUntil), String(limit))) as unknown;
    return Array.isArray(ids) ? ids.map(String) : [];
  }

  async function get(delivery: string): Promise<PendingDelivery | null> {
    const raw = await redis.hgetall(nk.delivery(delivery));
    if (!raw.cid) return null;
    const r = pendingSchema.safeParse(raw);
    if (!r.success) {
      throw new DeliveryStoreError(`delivery ${delivery} record is damaged: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const p = r.data;
    return { delivery, campaignId: p.cid, contact: p.idx, status: p.status, body: p.body, tries: p.tries, firstAt: p.firstAt, lastAt: p.lastAt, lastError: p.lastError };
  }

  function retryDelivered(d: PendingDelivery, lease: number): Promise<boolean> {
    return run(RETRY_DELIVERED, [nk.retry, nk.delivery(d.delivery), nk.counts(d.campaignId), keys.campaigns], [d.delivery, lease, d.campaignId]);
  }

  function retryLater(d: PendingDelivery, lease: number, dueAt: number, tries: number, at: number, lastError: string): Promise<boolean> {
    return run(RETRY_LATER, [nk.retry, nk.delivery(d.delivery)], [d.delivery, lease, dueAt, tries, at, lastError]);
  }

  function retryFailed(d: PendingDelivery, lease: number, tries: number, at: number, reason: string, lastError: string): Promise<boolean> {
    return run(
      RETRY_FAILED,
      [nk.retry, nk.delivery(d.delivery), nk.counts(d.campaignId), nk.dead(d.campaignId), keys.campaigns],
      [d.delivery, lease, letter({ ...d, tries }, at, reason, lastError, d.body), keep, d.campaignId],
    );
  }

  function release(delivery: string, lease: number, dueAt: number): Promise<boolean> {
    return run(RETRY_RELEASE, [nk.retry], [delivery, lease, dueAt]);
  }

  /** Drops a retry and its record, counting nothing (its record is gone, or its campaign was deleted). */
  function drop(delivery: string, lease: number): Promise<boolean> {
    return run(RETRY_DROP, [nk.retry, nk.delivery(delivery)], [delivery, lease]);
  }

  /** Deliveries in the retry set, with when each is due (for operators and tests). */
  async function scheduled(limit = 1000): Promise<{ delivery: string; dueAt: number }[]> {
    const flat = await redis.zrange(nk.retry, 0, limit - 1, 'WITHSCORES');
    const out: { delivery: string; dueAt: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ delivery: flat[i]!, dueAt: Number(flat[i + 1]) });
    return out;
  }

  return { entryDelivered, entryDeferred, entryFailed, leaseDue, get, retryDelivered, retryLater, retryFailed, release, drop, scheduled };
}

export type DeliveryStore = ReturnType<typeof makeDeliveryStore>;
