/**
 * The attempt store: attempt records (one per dial, keyed by customuuid; the
 * record and its decoder are in attempt-record.ts), the compare-and-set commit
 * that moves an attempt and its contact together, and the look-up indexes.
 */
import type { Redis } from 'ioredis';
import type { ContactStatus } from '../domain/types.js';
import type { Keys } from './keys.js';
import { COMMIT, COMMIT_MANY } from './commit-script.js';
import { READ_WITH_STATE } from './scripts.js';
import { keyTable, luaScript, runScript } from '../infra/lua.js';
import { makeTurnBatcher, type BatchOutcome } from '../infra/turn-batch.js';
import { encodeContactState, type ContactState } from './contacts.js';
import { parseAttemptId } from './ids.js';
import type { FrequencyCap } from '../domain/frequency-cap.js';
import { AttemptStoreError, decodeAttemptValue, encodeAttemptValue, packAttemptFields, type AttemptFields, type StoredAttempt } from './attempt-record.js';
import type { ReplicaAcks } from './replica-acks.js';

export {
  AttemptStoreError,
  createdAttempt,
  decodeAttemptValue,
  decodeStoredAttempt,
  encodeAttemptValue,
  packAttemptFields,
  type AttemptFields,
  type PackedAttempt,
  type StoredAttempt,
} from './attempt-record.js';

export interface CommitInput {
  cuuid: string;
  /** The attempt as read (its version is the compare-and-set token); null when it must not exist yet. */
  base: StoredAttempt | null;
  /** Fields written over the base (null: the record is left as it is, version included). */
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
  /** A look-up key written with the commit (same script): how callbacks without a customuuid find the attempt. */
  index?: AttemptIndex;
  /** The pacer's channel holds (campaign, account) to free with the commit (same script). */
  release?: readonly [campaignHolds: string, accountHolds: string];
  /** A begin: the last checks before the call, made in the same script (see BeginGuard). */
  guard?: BeginGuard;
}

/**
 * What a begin checks atomically with recording the attempt, at `now` of the
 * commit: the campaign is running (or importing), the contact's calling
 * window is still open (`windowUntil`: when it closes; null: never), the
 * number is on none of the DNC lists, and no frequency cap is reached. A
 * begin that passes counts towards the number's caps (its recent attempts
 * are kept `keepMs`, 0: not kept) and the campaign's recent rate.
 */
export interface BeginGuard {
  windowUntil: number | null;
  /** The number as DNC lists and caps key it (E.164). */
  e164: string;
  dnc: readonly string[];
  caps: readonly FrequencyCap[];
  keepMs: number;
}

/** Why a guarded begin was refused (nothing was written). */
export type BeginRefusal =
  | { refused: 'state'; state: string }
  | { refused: 'window' }
  | { refused: 'dnc'; lists: string[] }
  | { refused: 'cap'; retryAt: number };

/** Where a callback that lacks the customuuid finds its attempt; the value is the attempt id. */
export type AttemptIndex = { ttlMs: number } & (
  | { by: 'callee'; family: string; number: string }
  | { by: 'callUuid'; uuid: string }
  | { by: 'pbxCallId'; providerCallId: string }
);

export type CommitResult = 'conflict' | 'ok' | 'completed';

/**
 * A begin written but not held by enough replicas in time (see ReplicaAcks):
 * a failover could lose it, and the contact be dialed again elsewhere. Never
 * dial it.
 */
export type Unacknowledged = 'unacknowledged';

/** How a stored contact state (JSON, as encodeContactState and the take script's cjson write it) says it was taken by the feeder. */
const QUEUED = '"ph":"queued"';

const COMMIT_SCRIPT = luaScript(COMMIT, null);
const COMMIT_MANY_SCRIPT = luaScript(COMMIT_MANY, null);
const READ_SCRIPT = luaScript(READ_WITH_STATE, null);

/**
 * Commits (and reads) gathered in one turn of the event loop go to Redis as one
 * script call of at most this many: about a millisecond of Redis time, so that
 * a batch never holds up the other clients of the (single-threaded) server for long.
 */
export const STORE_BATCH = 32;

const COMMIT_RESULTS: ReadonlySet<string> = new Set(['conflict', 'ok', 'completed']);

function refusal(r: string): BeginRefusal | null {
  const [, kind, rest = ''] = r.split(':', 3) as [string, string | undefined, string | undefined];
  const full = r.slice(`refused:${kind ?? ''}:`.length);
  switch (kind) {
    case 'state':
      return { refused: 'state', state: full };
    case 'window':
      return { refused: 'window' };
    case 'dnc':
      return { refused: 'dnc', lists: full.split(',').filter((l) => l !== '') };
    case 'cap': {
      const retryAt = Number(rest);
      return Number.isFinite(retryAt) ? { refused: 'cap', retryAt } : null;
    }
    default:
      return null;
  }
}

function commitResult(reply: unknown): BatchOutcome<CommitResult | BeginRefusal> {
  const r = String(reply);
  if (COMMIT_RESULTS.has(r)) return r as CommitResult;
  const refused = r.startsWith('refused:') ? refusal(r) : null;
  return refused ?? new AttemptStoreError(`attempt commit failed: ${r}`);
}

/** An attempt with its contact's raw state, as one read returns them (null: no such attempt). */
export interface AttemptWithState {
  a: StoredAttempt;
  /** The contact's state as stored ('' when it has none yet): the compare-and-set token. */
  raw: string;
}

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A call uuid as its look-up key names it: a canonical (lower-case) uuid
 * as `~` and its 16 bytes in base64url (23 characters instead of 36: the
 * key fits a smaller allocation), any other id as it is.
 */
export function callUuidKeyPart(uuid: string): string {
  return CANONICAL_UUID.test(uuid) ? `~${Buffer.from(uuid.replace(/-/g, ''), 'hex').toString('base64url')}` : uuid;
}

/**
 * `acks`: begins go through its connection and return once enough replicas
 * hold them (or 'unacknowledged'); without, they share the stores' connection
 * and nothing waits.
 */
export function makeAttemptStore(deps: { redis: Redis; keys: Keys; acks?: ReplicaAcks | null }) {
  const { redis, keys: k } = deps;
  const acks = deps.acks ?? null;

  function indexKey(index: AttemptIndex): string {
    switch (index.by) {
      case 'callee':
        return k.callee(index.family, index.number);
      case 'callUuid':
        return k.callUuid(callUuidKeyPart(index.uuid));
      case 'pbxCallId':
        return k.pbxCallId(index.providerCallId);
    }
  }

  async function get(cuuid: string): Promise<StoredAttempt | null> {
    const value = await redis.get(k.attempt(cuuid));
    return value === null ? null : decodeAttemptValue(cuuid, value);
  }

  /** The keys and args of one commit, as COMMIT takes them. */
  function commitCall(input: CommitInput): { keys: string[]; args: string[] } {
    const ref = parseAttemptId(input.cuuid);
    if (!ref) throw new AttemptStoreError(`not an attempt id: ${input.cuuid}`);
    const cid = ref.campaignId;
    const keys = [k.attempt(input.cuuid), k.campaign(cid), k.deadlines, k.active, k.outbox];
    if (input.index) keys.push(indexKey(input.index));
    if (input.release) keys.push(input.release[0], input.release[1]);
    const guard = input.guard;
    if (guard) {
      keys.push(k.sends(cid), k.numberCalls(guard.e164));
      for (const list of guard.dnc) keys.push(k.dnc(list));
    }
    // The campaign's own keys, last: the script declares every key it touches.
    keys.push(k.contactState(cid), k.counts(cid), k.due(cid), k.feeding(cid), k.stats(cid));
    const ver = input.base?.ver ?? 0;
    const args = [
      String(ver),
      input.fields ? encodeAttemptValue(ver + 1, packAttemptFields(input.base?.packed ?? null, input.fields)) : '',
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
      '',
      input.index ? String(Math.max(1000, Math.round(input.index.ttlMs))) : '',
      input.index ? input.cuuid : '',
      input.release ? '1' : '',
      // Only a contact taken by the feeder and not begun yet (or one with no state) can be in the feeding set.
      input.contact.expectedRaw === '' || input.contact.expectedRaw.includes(QUEUED) ? '1' : '',
      guard ? '1' : '',
    ];
    // The stats increments follow the 18 fixed args, as pairs (ARGV[13] says how many).
    if (input.stats) {
      let n = 0;
      for (const field in input.stats) {
        args.push(field, String(input.stats[field]));
        n++;
      }
      if (n > 0) args[12] = String(n);
    }
    if (guard) {
      args.push(String(Math.round(input.now)), guard.windowUntil === null ? '' : String(Math.round(guard.windowUntil)), guard.e164, String(guard.dnc.length), ...guard.dnc);
      args.push(String(guard.caps.length), String(Math.max(0, Math.round(guard.keepMs))));
      for (const cap of guard.caps) args.push(String(cap.count), String(cap.periodMs));
    }
    return { keys, args };
  }

  /**
   * Compare-and-set commit of an attempt and its contact. Commits made in the
   * same turn of the event loop go as one script call, each still its own
   * compare-and-set with its own answer.
   */
  const commitOn = (conn: Redis) =>
    makeTurnBatcher<{ keys: string[]; args: string[] }, CommitResult | BeginRefusal>({
      max: STORE_BATCH,
      async run(batch) {
        if (batch.length === 1) return [commitResult(await runScript(conn, COMMIT_SCRIPT, batch[0]!.keys, batch[0]!.args))];
        const table = keyTable();
        const args: string[] = [String(batch.length)];
        for (const c of batch) {
          args.push(String(c.keys.length), String(c.args.length));
          for (const key of c.keys) args.push(table.place(key));
          args.push(...c.args);
        }
        const replies = await runScript(conn, COMMIT_MANY_SCRIPT, table.keys, args);
        if (!Array.isArray(replies)) throw new AttemptStoreError(`a batch of ${batch.length} commits answered ${String(replies)}`);
        return replies.map(commitResult);
      },
    });
  const commit = commitOn(redis);
  /** Begins waited for by replicas have the acks' connection: the WAIT after them blocks it, not the stores' one. */
  const beginCommit = acks ? commitOn(acks.redis) : commit;

  /** A guarded begin; with acks, 'unacknowledged' when it was written but no WAIT of its connection saw it held in time. */
  async function begin(input: CommitInput & { guard: BeginGuard }): Promise<CommitResult | BeginRefusal | Unacknowledged> {
    const r = await beginCommit(commitCall(input));
    if (!acks || typeof r === 'object' || r === 'conflict') return r;
    // Taken as the reply is in (no await between): the WAIT must come back over this same connection.
    const mark = acks.mark();
    return (await acks.held(mark)) ? r : 'unacknowledged';
  }

  /**
   * An attempt with its contact's stored state, read together (the state is
   * the compare-and-set token of the next commit). Reads made in the same
   * turn of the event loop go as one script call.
   */
  const readWithState = makeTurnBatcher<string, AttemptWithState | null>({
    max: STORE_BATCH,
    async run(ids) {
      const table = keyTable();
      const args: string[] = [];
      for (const id of ids) {
        const ref = parseAttemptId(id);
        // Not an attempt id: nothing to read (an unknown key pair answers as a missing attempt).
        const att = table.place(k.attempt(id));
        args.push(att, ref ? table.place(k.contactState(ref.campaignId)) : att, ref ? String(ref.contact) : '');
      }
      const replies = await runScript(redis, READ_SCRIPT, table.keys, args);
      if (!Array.isArray(replies) || replies.length !== ids.length) throw new AttemptStoreError(`a batch of ${ids.length} attempt reads answered ${String(replies)}`);
      return ids.map((id, i): BatchOutcome<AttemptWithState | null> => {
        const pair: unknown = replies[i];
        if (!Array.isArray(pair)) return new AttemptStoreError(`reading attempt ${id} answered ${String(pair)}`);
        const [value, raw] = pair as unknown[];
        if (typeof value !== 'string' || !parseAttemptId(id)) return null;
        try {
          return { a: decodeAttemptValue(id, value), raw: typeof raw === 'string' ? raw : '' };
        } catch (err) {
          return err instanceof Error ? err : new AttemptStoreError(String(err));
        }
      });
    },
  });

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
    await redis.set(k.callUuid(callUuidKeyPart(uuid)), cuuid, 'PX', Math.max(1000, ttlMs));
  }

  async function byCallUuid(uuid: string): Promise<string | null> {
    const key = k.callUuid(callUuidKeyPart(uuid));
    if (key === k.callUuid(uuid)) return redis.get(key);
    // A look-up written before uuids were shortened in their keys (they expire within a day).
    const [found, before] = await redis.mget(key, k.callUuid(uuid));
    return found ?? before ?? null;
  }

  /** The attempt currently calling a number (sipcall status callbacks carry only the callee). */
  async function rememberCallee(family: string, number: string, cuuid: string, ttlMs: number): Promise<void> {
    await redis.set(k.callee(family, number), cuuid, 'PX', Math.max(1000, ttlMs));
  }

  async function byCallee(family: string, number: string): Promise<string | null> {
    return redis.get(k.callee(family, number));
  }

  /** An attempt that placed no call (never sent, refused by the provider) stops counting towards the number's frequency caps. */
  async function uncountCall(e164: string, cuuid: string): Promise<void> {
    await redis.zrem(k.numberCalls(e164), cuuid);
  }

  return {
    get,
    readWithState,
    commit: async (input: CommitInput): Promise<CommitResult> => {
      const r = await commit(commitCall(input));
      if (typeof r === 'object') throw new AttemptStoreError(`attempt ${input.cuuid}: a commit without a guard was refused (${r.refused})`);
      return r;
    },
    /** A commit with the begin's last checks: refused (nothing written) when one fails; with acks, unacknowledged when no replica held it in time. */
    begin,
    overdue,
    rememberProviderCallId,
    byProviderCallId,
    rememberCallUuid,
    byCallUuid,
    rememberCallee,
    byCallee,
    uncountCall,
  };
}

export type AttemptStore = ReturnType<typeof makeAttemptStore>;
