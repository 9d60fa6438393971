/**
 * Attempt records (one per dial, keyed by customuuid) and the compare-and-set
 * commit that moves an attempt and its contact together.
 */
import { z } from 'zod';
import type { Redis } from 'ioredis';
import { ATTEMPT_OUTCOMES, ATTEMPT_STATES, PROVIDER_FAMILIES, type ContactStatus } from '../domain/types.js';
import type { Keys } from './keys.js';
import { COMMIT } from './scripts.js';
import { luaScript, runScript } from '../infra/lua.js';
import { encodeContactState, type ContactState } from './contacts.js';
import { parseAttemptId } from './ids.js';

const optNum = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? null : Number(v)));
const optStr = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? null : v));

export const storedAttemptSchema = z.object({
  cid: z.string(),
  idx: z.string().transform(Number),
  n: z.string().transform(Number),
  family: z.enum(PROVIDER_FAMILIES),
  number: z.string(),
  state: z.enum(ATTEMPT_STATES),
  outcome: z.union([z.enum(ATTEMPT_OUTCOMES), z.literal('')]).optional().transform((v) => (v ? v : null)),
  late: z.enum(['0', '1']).optional().transform((v) => v === '1'),
  inDoubt: z.enum(['0', '1']).optional().transform((v) => v === '1'),
  ver: z.string().transform(Number),
  dialingAt: optNum,
  acceptedAt: optNum,
  ringingAt: optNum,
  answeredAt: optStr,
  endedAt: optStr,
  finalAt: optNum,
  deadline: optNum,
  billsec: optNum,
  hangupcause: optStr,
  hangupdirection: optStr,
  userkey: optStr,
  providerCallId: optStr,
  callUuid: optStr,
  dialKind: z.enum(['accepted', 'rejected', 'fatal', 'not_sent', 'transient', 'in_doubt']).optional().transform((v) => v ?? null),
  answerSeenAt: optNum,
  hangupAt: optNum,
  correctedAt: optNum,
  correctedFrom: z.union([z.enum(ATTEMPT_OUTCOMES), z.literal('')]).optional().transform((v) => (v ? v : null)),
  resultSource: optStr,
  error: optStr,
  duplicates: optNum,
  conflicts: optNum,
  callbackId: optStr,
});

export type StoredAttempt = z.infer<typeof storedAttemptSchema> & { id: string };

export class AttemptStoreError extends Error {
  readonly code = 'ERR_ATTEMPT_STORE';
}

/** Field values written to the attempt hash: strings or numbers, null clears nothing (skipped). */
export type AttemptFields = Record<string, string | number | boolean | null>;

export interface CommitInput {
  cuuid: string;
  /** The version read; 0 when the attempt must not exist yet. */
  expectedVersion: number;
  fields: AttemptFields | null;
  contact: {
    idx: number;
    expectedRaw: string;
    next: ContactState | null;
    oldStatus: ContactStatus;
    newStatus: ContactStatus;
  };
  dueAt: number | null;
  deadline: 'del' | number | null;
  now: number;
  /** Increments of the campaign's report sums, applied with the commit. */
  stats?: Record<string, number>;
}

export type CommitResult = 'conflict' | 'ok' | 'completed';

function flatten(fields: AttemptFields): string {
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(fields)) {
    if (v === null) continue;
    out[key] = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
  }
  return JSON.stringify(out);
}

const COMMIT_SCRIPT = luaScript(COMMIT, 10);

export function makeAttemptStore(deps: { redis: Redis; keys: Keys }) {
  const { redis, keys: k } = deps;

  async function get(cuuid: string): Promise<StoredAttempt | null> {
    const raw = await redis.hgetall(k.attempt(cuuid));
    if (!raw.ver) return null;
    const r = storedAttemptSchema.safeParse(raw);
    if (!r.success) {
      throw new AttemptStoreError(`attempt ${cuuid} record is damaged: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    return { ...r.data, id: cuuid };
  }

  async function commit(input: CommitInput): Promise<CommitResult> {
    const ref = parseAttemptId(input.cuuid);
    if (!ref) throw new AttemptStoreError(`not an attempt id: ${input.cuuid}`);
    const cid = ref.campaignId;
    const keyList = [
      k.attempt(input.cuuid),
      k.contactState(cid),
      k.counts(cid),
      k.due(cid),
      k.deadlines,
      k.campaign(cid),
      k.active,
      k.feeding(cid),
      k.outbox,
      k.stats(cid),
    ];
    const res = await runScript(redis, COMMIT_SCRIPT, keyList, [
      String(input.expectedVersion),
      input.fields ? flatten(input.fields) : '',
      String(input.contact.idx),
      input.contact.expectedRaw,
      input.contact.next ? encodeContactState(input.contact.next) : '',
      input.contact.oldStatus,
      input.contact.newStatus,
      input.dueAt === null ? '' : String(Math.round(input.dueAt)),
      input.deadline === null ? '' : String(input.deadline === 'del' ? 'del' : Math.round(input.deadline)),
      input.cuuid,
      new Date(input.now).toISOString(),
      cid,
      input.stats && Object.keys(input.stats).length > 0 ? JSON.stringify(input.stats) : '',
    ]);
    return String(res) as CommitResult;
  }

  /** Attempts whose result deadline has passed. */
  async function overdue(now: number, limit: number): Promise<string[]> {
    return redis.zrangebyscore(k.deadlines, '-inf', now, 'LIMIT', 0, limit);
  }

  async function rememberProviderCallId(family: 'pbx', providerCallId: string, cuuid: string, ttlMs: number): Promise<void> {
    void family;
    await redis.set(k.pbxCallId(providerCallId), cuuid, 'PX', Math.max(1000, ttlMs));
  }

  async function byProviderCallId(providerCallId: string): Promise<string | null> {
    return redis.get(k.pbxCallId(providerCallId));
  }

  async function rememberCallUuid(uuid: string, cuuid: string, ttlMs: number): Promise<void> {
    await redis.set(k.callUuid(uuid), cuuid, 'PX', Math.max(1000, ttlMs));
  }

  async function byCallUuid(uuid: string): Promise<string | null> {
    return redis.get(k.callUuid(uuid));
  }

  /** The attempt currently calling a number (sipcall status callbacks carry only the callee). */
  async function rememberCallee(family: string, number: string, cuuid: string, ttlMs: number): Promise<void> {
    await redis.set(k.callee(family, number), cuuid, 'PX', Math.max(1000, ttlMs));
  }

  async function byCallee(family: string, number: string): Promise<string | null> {
    return redis.get(k.callee(family, number));
  }

  return {
    get,
    commit,
    overdue,
    rememberProviderCallId,
    byProviderCallId,
    rememberCallUuid,
    byCallUuid,
    rememberCallee,
    byCallee,
  };
}

export type AttemptStore = ReturnType<typeof makeAttemptStore>;
