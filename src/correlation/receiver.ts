/**
 * Callback receiver: stores every well-formed callback raw before anything
 * else, then interprets it — find the attempt (customuuid, pbx originated
 * call id, sipcall call uuid or callee), and hand the result to the attempt
 * service. Orphans, duplicates and late callbacks are kept and counted; none
 * of them crashes anything or changes a final outcome twice.
 *
 * Malformed means the body cannot be read as the provider's callback for its
 * route: empty, neither JSON nor form fields, not an object, or a field the
 * provider's format requires missing or of the wrong kind (the parser's
 * CallbackParseError). Such a body is counted (`malformed`) and logged (its
 * first bytes, long digit runs masked), never stored.
 *
 * `accept` is the HTTP path: parse, store (one round trip), and queue the
 * interpretation, which runs off the request with bounded concurrency. Every
 * stored entry stays in the log's pending set until its interpretation is
 * settled, so entries a dead process never interpreted are picked up by
 * `recover`. Replay and recovery never apply or count an entry twice.
 */
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { ProviderFamily } from '../domain/types.js';
import type { Correlation, ParsedCallback } from '../providers/types.js';
import type { AttemptService } from '../engine/attempts.js';
import type { AttemptStore } from '../store/attempts.js';
import type { CallbackCounter, CallbackLog, RawCallback, RecordedResult, Settlement, StoredCallback, StoredCallbackKind } from '../store/callback-log.js';
import { isCampaignId, parseAttemptId } from '../store/ids.js';
import type { DialerEvents } from '../engine/events.js';
import type { Keys } from '../store/keys.js';
import { correlationKey, parseCallback, type ParseOutcome, type ReceiverSettings } from './parse.js';
import { makeWorkQueue } from './queue.js';
import { makeSettler } from './settler.js';

export { decodeBody, type ReceiverSettings } from './parse.js';

export type Interpretation =
  | { kind: 'malformed'; reason: string; field: string | null }
  | { kind: 'orphan'; key: string }
  | { kind: 'final' | 'duplicate' | 'late' | 'conflict' | 'progress' | 'ignored'; attemptId: string };

/** What the HTTP route answers from: stored, or malformed (and not stored). */
export type Accepted = { id: string; malformed: null } | { id: null; malformed: { reason: string; field: string | null } };

/** Bytes of a malformed body that reach the log at most. */
const EXCERPT_BYTES = 64;

/** The start of a body for a log line: at most EXCERPT_BYTES, runs of 5 digits or more masked (phone numbers). */
export function bodyExcerpt(body: string): string {
  // Masked before it is cut, so that no number is cut to a short run that would show.
  const masked = body.slice(0, 2 * EXCERPT_BYTES).replace(/\d{5,}/g, (d) => `<${d.length} digits>`);
  return Buffer.from(masked, 'utf8').subarray(0, EXCERPT_BYTES).toString('utf8').replace(/\uFFFD+$/, '');
}

export interface ReceiverOptions {
  /** Interpretations running at once (default 64). */
  concurrency?: number;
  /** Interpretations waiting before `accept` makes the answer wait (default 5000). */
  capacity?: number;
  /** Settlements written per transaction at most (default 256). */
  settleBatch?: number;
  /**
   * Store only: `accept` parses and stores (a malformed callback is still
   * counted and answered 400) and leaves stored ones pending, for `pull`
   * in a worker or correlator process.
   */
  deferred?: boolean;
}

/** Interpretations whose effect reached the attempt: never applied again by replay. */
const APPLIED: ReadonlySet<string> = new Set(['final', 'duplicate', 'late', 'conflict', 'progress', 'ignored']);

const FAMILY_OF: Record<StoredCallbackKind, ProviderFamily> = { 'sipcall-cdr': 'sipcall', 'sipcall-status': 'sipcall', 'pbx-cdr': 'pbx' };

function campaignOf(attemptId: string | null): string | null {
  const cid = attemptId ? (parseAttemptId(attemptId)?.campaignId ?? null) : null;
  return cid && isCampaignId(cid) ? cid : null;
}

/** The counter an interpretation goes to. A status callback that cannot be tied is progress, not an orphan. */
function counterOf(r: Interpretation, parsed: ParsedCallback | null): CallbackCounter {
  switch (r.kind) {
    case 'malformed':
      return 'malformed';
    case 'orphan':
      return parsed?.kind === 'progress' ? 'progress' : 'orphan';
    case 'final':
      return 'correlated';
    case 'ignored':
    case 'progress':
      return 'progress';
    default:
      return r.kind;
  }
}

function settlementOf(id: string, r: Interpretation, parsed: ParsedCallback | null): Settlement {
  const attemptId = 'attemptId' in r ? r.attemptId : null;
  return { id, counter: counterOf(r, parsed), kind: r.kind, attemptId, campaignId: campaignOf(attemptId) };
}

interface Work {
  cb: StoredCallback;
  parsed: ParsedCallback;
  /** Check the attempt first: this entry may already have been applied (recovery). */
  guard: boolean;
}

export function makeCallbackReceiver(deps: {
  redis: Redis;
  keys: Keys;
  callbackLog: CallbackLog;
  attempts: Pick<AttemptStore, 'get' | 'byProviderCallId' | 'byCallUuid' | 'byCallee'>;
  service: Pick<AttemptService, 'result' | 'progress'>;
  events: DialerEvents;
  settings: ReceiverSettings;
  log: Logger;
  options?: ReceiverOptions;
}) {
  const { callbackLog, attempts, service, events, settings, log } = deps;
  const opts = deps.options ?? {};
  const parkKey = (id: string) => `${deps.keys.pbxCallId(id)}:parked`;
  const settler = makeSettler({ callbackLog, maxBatch: opts.settleBatch ?? 256 });
  /** Entries queued or running in this process (recovery leaves them alone). */
  const inFlight = new Set<string>();

  const parse = (cb: RawCallback): ParseOutcome => parseCallback(cb.kind, cb.contentType, cb.body, settings);

  async function find(c: Correlation): Promise<string | null> {
    switch (c.by) {
      case 'customuuid':
        return parseAttemptId(c.value) ? c.value : null;
      case 'provider_call_id':
        return attempts.byProviderCallId(c.value);
      case 'call_uuid': {
        const byUuid = await attempts.byCallUuid(c.value);
        if (byUuid) return byUuid;
        return c.callee ? attempts.byCallee('sipcall', c.callee) : null;
      }
    }
  }

  /** A result this very entry already made (its id is on the attempt): what it was then. */
  async function alreadyApplied(attemptId: string, cb: StoredCallback): Promise<'final' | 'late' | null> {
    const a = await attempts.get(attemptId);
    if (!a || a.callbackId !== cb.id) return null;
    return a.late ? 'late' : 'final';
  }

  /** Applies a parsed callback to its attempt (the effect), or keeps it as an orphan. Counts nothing. */
  async function apply(cb: StoredCallback, parsed: ParsedCallback, guard: boolean): Promise<Interpretation> {
    const attemptId = await find(parsed.correlation);
    if (attemptId) {
      const done = guard && parsed.kind === 'result' ? await alreadyApplied(attemptId, cb) : null;
      if (done) return { kind: done, attemptId };
      const effect =
        parsed.kind === 'result'
          ? await service.result(attemptId, FAMILY_OF[cb.kind], parsed.result, cb.id)
          : await service.progress(attemptId, parsed.status, parsed.correlation.by === 'call_uuid' ? parsed.correlation.value : null);
      if (effect !== 'unknown') return { kind: effect, attemptId };
    }
    const key = correlationKey(parsed);
    if (parsed.kind === 'progress') return { kind: 'orphan', key };
    if (parsed.correlation.by === 'provider_call_id') {
      // The CDR may beat the originate response: park it until the id is known.
      await deps.redis.set(parkKey(parsed.correlation.value), cb.id, 'EX', 86_400);
    }
    events.emit('callback:orphan', { id: cb.id, kind: cb.kind, key });
    log.warn({ callbackId: cb.id, kind: cb.kind, correlation: parsed.correlation.by }, 'callback for an unknown attempt kept as orphan');
    return { kind: 'orphan', key };
  }

  function malformed(cb: StoredCallback, reason: string, field: string | null): Interpretation {
    events.emit('callback:malformed', { id: cb.id, kind: cb.kind, reason });
    return { kind: 'malformed', reason, field };
  }

  /** Interprets and settles one entry; `prev` is its earlier settlement, replaced when the answer changed. */
  async function interpretOnce(cb: StoredCallback, outcome: ParseOutcome, guard: boolean, prev: RecordedResult | null): Promise<Interpretation> {
    const r = outcome.ok ? await apply(cb, outcome.parsed, guard) : malformed(cb, outcome.reason, outcome.field);
    const s = settlementOf(cb.id, r, outcome.ok ? outcome.parsed : null);
    if (!prev || prev.counter !== s.counter || prev.attemptId !== s.attemptId || prev.kind !== s.kind) await settler.settle(s, prev);
    return r;
  }

  const queue = makeWorkQueue<Work>({
    concurrency: opts.concurrency ?? 64,
    capacity: opts.capacity ?? 5000,
    keyOf: (w) => correlationKey(w.parsed),
    run: async (w) => {
      try {
        await interpretOnce(w.cb, { ok: true, parsed: w.parsed }, w.guard, null);
      } finally {
        inFlight.delete(w.cb.id);
      }
    },
    onError: (err, w) => {
      // The entry stays pending in the log: `recover` interprets it again later.
      log.error({ err, callbackId: w.cb.id, kind: w.cb.kind }, 'interpreting a stored callback failed; it stays pending');
    },
  });

  /**
   * Parses the callback; a well-formed one is stored raw and queued for
   * interpretation (the caller answers at once); a malformed one is counted
   * and logged, not stored.
   */
  async function accept(raw: RawCallback): Promise<Accepted> {
    let outcome: ParseOutcome;
    try {
      outcome = parse(raw);
    } catch (err) {
      // A parser failure that is not the body's fault: stored all the same, pending, for `recover` once it is fixed.
      log.error({ err, kind: raw.kind }, 'parsing a callback failed unexpectedly; it is stored and stays pending');
      const id = await callbackLog.append(raw);
      events.emit('callback:stored', { id, kind: raw.kind });
      return { id, malformed: null };
    }
    if (!outcome.ok) {
      await callbackLog.count('malformed', null);
      log.warn({ kind: raw.kind, reason: outcome.reason, field: outcome.field, bytes: Buffer.byteLength(raw.body), start: bodyExcerpt(raw.body) }, 'malformed callback refused, not stored');
      return { id: null, malformed: { reason: outcome.reason, field: outcome.field } };
    }
    const id = await callbackLog.append(raw);
    events.emit('callback:stored', { id, kind: raw.kind });
    const cb: StoredCallback = { ...raw, id };
    if (opts.deferred) return { id, malformed: null };
    inFlight.add(id);
    await queue.push({ cb, parsed: outcome.parsed, guard: false });
    return { id, malformed: null };
  }

  /**
   * Leases up to `limit` pending entries from the log (any process may have
   * stored them) and queues their interpretation here; `push` waits while the
   * queue is full, so a correlator never takes more than it can hold. An entry
   * leased before and never settled is checked against its attempt first.
   * Returns how many entries the lease returned (a full page: call again).
   */
  async function pull(options: { limit?: number; leaseMs?: number; now?: number } = {}): Promise<number> {
    const now = options.now ?? Date.now();
    const limit = options.limit ?? 256;
    const { entries, gone, damaged } = await callbackLog.lease(now, now + (options.leaseMs ?? 60_000), limit);
    if (gone.length > 0) log.error({ ids: gone }, 'pending callbacks whose log entry is gone were dropped from the pending set');
    for (const id of damaged) {
      log.error({ callbackId: id }, 'a stored callback entry is unreadable: settled as malformed');
      await settler.settle({ id, counter: 'malformed', kind: 'malformed', attemptId: null, campaignId: null });
    }
    for (const { cb, leasedBefore } of entries) {
      if (inFlight.has(cb.id)) continue;
      const outcome = parse(cb);
      if (!outcome.ok) {
        await interpretOnce(cb, outcome, leasedBefore, null);
        continue;
      }
      inFlight.add(cb.id);
      await queue.push({ cb, parsed: outcome.parsed, guard: leasedBefore });
    }
    return entries.length + gone.length + damaged.length;
  }

  /** Interprets one stored entry now, unless its effect is already on record. */
  async function interpret(cb: StoredCallback): Promise<Interpretation> {
    const [prev = null] = await callbackLog.results([cb.id]);
    if (prev && APPLIED.has(prev.kind) && prev.attemptId) return { kind: prev.kind as 'final', attemptId: prev.attemptId };
    return interpretOnce(cb, parse(cb), true, prev);
  }

  /** A pbx CDR parked as orphan before its originate response arrived: interpret it now. */
  async function adoptParked(providerCallId: string): Promise<boolean> {
    const cbId = await deps.redis.getdel(parkKey(providerCallId));
    if (!cbId) return false;
    const cb = await callbackLog.get(cbId);
    if (!cb) return false;
    const r = await interpret(cb);
    return r.kind !== 'orphan' && r.kind !== 'malformed';
  }

  /**
   * Interprets stored callbacks again, in order. An entry whose effect reached
   * an attempt is reported as it was (never applied or counted twice); orphans
   * and malformed entries are tried again, and their counts move when they now
   * tie to an attempt.
   */
  async function replay(options: { from?: string; to?: string } = {}): Promise<Record<string, number>> {
    const tally: Record<string, number> = {};
    for await (const cb of callbackLog.read({ ...options })) {
      if (inFlight.has(cb.id)) continue;
      const r = await interpret(cb);
      tally[r.kind] = (tally[r.kind] ?? 0) + 1;
    }
    return tally;
  }

  /**
   * Interprets entries stored at least `olderThanMs` ago that were never
   * settled (the process that stored them stopped first). Returns how many
   * were queued; `idle()` waits for them.
   */
  async function recover(options: { olderThanMs?: number; now?: number } = {}): Promise<number> {
    // Store-only: the correlators' leases take what a dead process left (see `pull`).
    if (opts.deferred) return 0;
    const now = options.now ?? Date.now();
    const before = now - (options.olderThanMs ?? 60_000);
    const ids: string[] = [];
    for (;;) {
      // Claimed entries are re-scored to `now`, so the loop ends and no other process takes them too.
      const page = await callbackLog.claimPending(Math.min(before, now - 1), now, 1000);
      ids.push(...page.filter((id) => !inFlight.has(id)));
      if (page.length < 1000) break;
    }
    let queued = 0;
    for (const id of ids) {
      const cb = await callbackLog.get(id);
      if (!cb) continue;
      const outcome = parse(cb);
      if (!outcome.ok) {
        await interpretOnce(cb, outcome, true, null);
        continue;
      }
      inFlight.add(id);
      await queue.push({ cb, parsed: outcome.parsed, guard: true });
      queued++;
    }
    if (ids.length > 0) log.warn({ entries: ids.length }, 'recovering stored callbacks that were never interpreted');
    return queued;
  }

  /** Resolves once every accepted callback has been interpreted and settled. */
  function idle(): Promise<void> {
    return queue.idle();
  }

  return {
    accept,
    pull,
    interpret,
    adoptParked,
    replay,
    recover,
    idle,
    get backlog() {
      return { queued: queue.queued, running: queue.running };
    },
  };
}

export type CallbackReceiver = ReturnType<typeof makeCallbackReceiver>;
