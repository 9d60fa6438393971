/**
 * The outbox stream, read through a consumer group: each entry goes to one
 * consumer, stays pending until a script settles it, and is taken over by
 * another consumer when its own has been silent too long.
 */
import { z } from 'zod';
import type { Redis } from 'ioredis';
import { CONTACT_STATUSES, type ContactStatus } from '../domain/types.js';
import { NOTIFIER_GROUP } from './keys.js';

/** A contact that reached (or changed) a final status. */
export interface OutboxEntry {
  id: string;
  campaignId: string;
  contact: number;
  status: ContactStatus;
  from: ContactStatus;
  /** When the status was committed (epoch ms, from the entry id). */
  at: number;
}

export type ReadEntry = { ok: true; entry: OutboxEntry } | { ok: false; id: string; reason: string };

const fieldsSchema = z.object({
  cid: z.string().min(1),
  idx: z.string().regex(/^\d+$/, 'idx must be a contact index').transform(Number),
  status: z.enum(CONTACT_STATUSES).refine((s) => s !== 'pending', 'status must be final'),
  from: z.enum(CONTACT_STATUSES),
});

const rawEntry = z.tuple([z.string(), z.array(z.string())]);
const readReply = z.array(z.tuple([z.string(), z.array(rawEntry)])).nullable();
const claimReply = z.tuple([z.string(), z.array(rawEntry.nullable()), z.array(z.string()).optional()]).rest(z.unknown());

export class OutboxError extends Error {
  readonly code = 'ERR_OUTBOX';
}

export function parseOutboxEntry(id: string, flat: string[]): ReadEntry {
  const obj: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) obj[flat[i]!] = flat[i + 1]!;
  const r = fieldsSchema.safeParse(obj);
  if (!r.success) return { ok: false, id, reason: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  const ms = Number(id.split('-')[0]);
  return { ok: true, entry: { id, campaignId: r.data.cid, contact: r.data.idx, status: r.data.status, from: r.data.from, at: Number.isFinite(ms) ? ms : 0 } };
}

function isError(err: unknown, prefix: string): boolean {
  return err instanceof Error && err.message.startsWith(prefix);
}

export function makeOutboxReader(deps: { redis: Redis; stream: string; consumer: string }) {
  const { redis, stream, consumer } = deps;

  /** Creates the group (from the start of the stream, so entries written before any notifier ran are sent). */
  async function ensureGroup(): Promise<void> {
    try {
      await redis.xgroup('CREATE', stream, NOTIFIER_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!isError(err, 'BUSYGROUP')) throw err;
    }
  }

  async function withGroup<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      // The stream (and its group) was deleted under us: create them again.
      if (!isError(err, 'NOGROUP')) throw err;
      await ensureGroup();
      return fn();
    }
  }

  function parseEntries(list: ([string, string[]] | null)[]): ReadEntry[] {
    return list.filter((e): e is [string, string[]] => e !== null).map(([id, flat]) => parseOutboxEntry(id, flat));
  }

  /** Entries never delivered to any consumer. */
  async function readNew(count: number): Promise<ReadEntry[]> {
    const reply: unknown = await withGroup(() => redis.xreadgroup('GROUP', NOTIFIER_GROUP, consumer, 'COUNT', count, 'STREAMS', stream, '>'));
    const r = readReply.safeParse(reply);
    if (!r.success) throw new OutboxError(`unexpected XREADGROUP reply: ${r.error.issues[0]?.message ?? ''}`);
    return parseEntries((r.data ?? []).flatMap(([, entries]) => entries));
  }

  /** Entries pending with some consumer for at least `minIdleMs`, taken over; `cursor` walks the pending list. */
  async function claimStale(minIdleMs: number, cursor: string, count: number): Promise<{ next: string; entries: ReadEntry[] }> {
    const reply: unknown = await withGroup(() => redis.xautoclaim(stream, NOTIFIER_GROUP, consumer, minIdleMs, cursor, 'COUNT', count));
    const r = claimReply.safeParse(reply);
    if (!r.success) throw new OutboxError(`unexpected XAUTOCLAIM reply: ${r.error.issues[0]?.message ?? ''}`);
    return { next: r.data[0], entries: parseEntries(r.data[1]) };
  }

  /** Settles an entry that carries nothing to send. */
  async function discard(id: string): Promise<void> {
    await redis.multi().xack(stream, NOTIFIER_GROUP, id).xdel(stream, id).exec();
  }

  /** Leaves the group when this consumer holds nothing (its pending entries would be lost otherwise). */
  async function leave(): Promise<boolean> {
    const pending: unknown = await redis.xpending(stream, NOTIFIER_GROUP, '-', '+', 1, consumer).catch(() => null);
    if (!Array.isArray(pending) || pending.length > 0) return false;
    await redis.xgroup('DELCONSUMER', stream, NOTIFIER_GROUP, consumer);
    return true;
  }

  return { ensureGroup, readNew, claimStale, discard, leave };
}

export type OutboxReader = ReturnType<typeof makeOutboxReader>;
