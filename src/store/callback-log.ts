/**
 * Every callback received is appended here, raw, with its time of receipt,
 * before it is interpreted: an append-only Redis stream that replay reads.
 */
import { z } from 'zod';
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

export const CALLBACK_KINDS = ['sipcall-cdr', 'sipcall-status', 'pbx-cdr'] as const;
export type StoredCallbackKind = (typeof CALLBACK_KINDS)[number];

export interface RawCallback {
  kind: StoredCallbackKind;
  receivedAt: number;
  remoteIp: string;
  contentType: string;
  body: string;
}

export interface StoredCallback extends RawCallback {
  id: string;
}

const entrySchema = z.object({
  kind: z.enum(CALLBACK_KINDS),
  at: z.string().regex(/^\d+$/).transform(Number),
  ip: z.string(),
  ct: z.string(),
  body: z.string(),
});

/** Counters of what callbacks turned out to be, per campaign and overall. */
export const CALLBACK_COUNTERS = [
  'received',
  'correlated',
  'progress',
  'orphan',
  'duplicate',
  'late',
  'conflict',
  'malformed',
  'unauthorized',
  'forbidden',
] as const;
export type CallbackCounter = (typeof CALLBACK_COUNTERS)[number];

export function makeCallbackLog(deps: { redis: Redis; keys: Keys }) {
  const { redis, keys: k } = deps;

  async function append(cb: RawCallback): Promise<string> {
    const id = await redis.xadd(k.callbackLog, '*', 'kind', cb.kind, 'at', String(cb.receivedAt), 'ip', cb.remoteIp, 'ct', cb.contentType, 'body', cb.body);
    return id ?? '';
  }

  function parseEntry(id: string, fields: string[]): StoredCallback | null {
    const obj: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) obj[fields[i]!] = fields[i + 1]!;
    const r = entrySchema.safeParse(obj);
    if (!r.success) return null;
    return { id, kind: r.data.kind, receivedAt: r.data.at, remoteIp: r.data.ip, contentType: r.data.ct, body: r.data.body };
  }

  /** Reads the log in order, `from` and `to` included (stream ids), a page at a time. */
  async function* read(options: { from?: string; to?: string; pageSize?: number } = {}): AsyncGenerator<StoredCallback> {
    let start = options.from ?? '-';
    const end = options.to ?? '+';
    const page = options.pageSize ?? 500;
    for (;;) {
      const entries = await redis.xrange(k.callbackLog, start, end, 'COUNT', page);
      for (const [id, fields] of entries) {
        const e = parseEntry(id, fields);
        if (e) yield e;
      }
      if (entries.length < page) return;
      start = `(${entries[entries.length - 1]![0]}`;
    }
  }

  async function length(): Promise<number> {
    return redis.xlen(k.callbackLog);
  }

  async function count(counter: CallbackCounter, campaignId: string | null, by = 1): Promise<void> {
    const m = redis.multi().hincrby(k.callbackTotals, counter, by);
    if (campaignId) m.hincrby(k.callbackCounts(campaignId), counter, by);
    await m.exec();
  }

  async function counters(campaignId: string | null): Promise<Record<CallbackCounter, number>> {
    const raw = await redis.hgetall(campaignId ? k.callbackCounts(campaignId) : k.callbackTotals);
    return Object.fromEntries(CALLBACK_COUNTERS.map((c) => [c, Number(raw[c] ?? 0)])) as Record<CallbackCounter, number>;
  }

  return { append, read, length, count, counters };
}

export type CallbackLog = ReturnType<typeof makeCallbackLog>;
