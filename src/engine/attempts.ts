/**
 * The attempt service: every change to an attempt and its contact goes
 * through here. It reads, asks the pure domain what happens next, and commits
 * with compare-and-set; a concurrent writer (a worker's dial result racing the
 * provider's callback) makes it read again and decide again.
 */
import type { Logger } from 'pino';
import type { AttemptOutcome, CallResult, ProviderFamily } from '../domain/types.js';
import type { DialOutcome } from '../providers/types.js';
import type { Pacer } from '../pacing/types.js';
import { createdAttempt, type AttemptFields, type StoredAttempt, type AttemptIndex, type BeginGuard, type BeginRefusal } from '../store/attempts.js';
import { encodeContactState, type ContactState } from '../store/contacts.js';
import type { ResolvedCampaign } from '../campaign/runtime.js';
import { attemptId, parseAttemptId } from '../store/ids.js';
import { applyEvent, changedFields, recordFields, type LifecycleEvent } from './lifecycle.js';
import { applyAttemptEvent, newAttempt } from '../domain/attempt.js';
import { casLoop, RETRY } from './cas.js';
import { makeAttemptCore, type AttemptCoreDeps, type Ctx } from './attempt-core.js';
import { makePreDialActions } from './pre-dial.js';
import { contactStatusOf, resultStats } from './contact-decision.js';

export interface AttemptServiceDeps extends AttemptCoreDeps {
  pacer: Pacer;
  log: Logger;
  /** Pauses a campaign (fatal provider answer). */
  pauseCampaign: (campaignId: string, reason: string) => Promise<void>;
}

/** 'unacknowledged': recorded, but not held by the replicas in time (AUTODIALER_REPLICA_ACKS): never dial it, end it with `unacknowledged`. */
export type BeginResult = 'began' | 'exists' | 'stale' | 'refused' | 'unacknowledged';

export type ResultEffect = 'final' | 'duplicate' | 'late' | 'conflict' | 'progress' | 'ignored';

/**
 * The attempt and contact as a begin of this process wrote them, kept until
 * that attempt's dial answer: the answer's compare-and-set starts from them
 * instead of reading them back. Bounded: the oldest entries go first (a job
 * that died between the two simply reads).
 */
function makeWrittenMemo(max: number) {
  const m = new Map<string, Ctx>();
  return {
    put(id: string, ctx: Ctx): void {
      m.set(id, ctx);
      if (m.size > max) {
        const oldest = m.keys().next();
        if (!oldest.done) m.delete(oldest.value);
      }
    },
    take(id: string): Ctx | null {
      const ctx = m.get(id) ?? null;
      if (ctx) m.delete(id);
      return ctx;
    },
  };
}

/** What the metrics of a final attempt need: its provider and when it was dialed (any process may see its end). */
function dialFacts(a: StoredAttempt): { family: string; dialedAt?: number } {
  return a.dialingAt !== null ? { family: a.family, dialedAt: a.dialingAt } : { family: a.family };
}

export function makeAttemptService(deps: AttemptServiceDeps) {
  const { attempts, contacts, campaigns, pacer, events, now } = deps;

  const core = makeAttemptCore(deps);
  /** What this process's begin wrote, until its dial answer is applied. */
  const written = makeWrittenMemo(10_000);
  const { read, finalizeContact, resultDeadline, dialDeadline, releasesInCommit } = core;
  /** Frees the channel after a commit that could not do it itself (no hold keys given). */
  const releaseAfter = async (family: ProviderFamily, cid: string, id: string): Promise<void> => {
    if (!releasesInCommit) await pacer.release(family, cid, id);
  };

  /**
   * Records the attempt as dialing before the request leaves. 'exists' means
   * this attempt was already begun (a stalled job run again): never dial it.
   */
  async function begin(
    c: ResolvedCampaign,
    idx: number,
    n: number,
    number: string,
    /** The contact's state as the caller read it (saves a read; a conflict reads again). */
    known?: { raw: string; state: ContactState },
    /** The last checks, made atomically with the record (a refusal writes nothing). */
    guard?: BeginGuard,
  ): Promise<{ result: BeginResult; id: string; deadline: number; refusal?: BeginRefusal }> {
    const cid = c.record.id;
    const id = attemptId({ campaignId: cid, contact: idx, attempt: n });
    const t = now();
    const d = c.record.definition;
    const deadline = dialDeadline(c, t);
    let first = known;
    let refusal: BeginRefusal | undefined;
    const result = await casLoop('begin', async () => {
      const { raw, state } = first ?? (await contacts.state(cid, idx));
      first = undefined;
      if (state.s !== 'pending' || state.n !== n) return (await attempts.get(id)) ? ('exists' as const) : ('stale' as const);
      // Object.assign, not spreads, on the hot paths: stored states and changed fields differ in their keys, and V8 copies such objects faster this way.
      const next: ContactState = Object.assign({}, state, { ph: 'dialing' as const, a: id, ld: t });
      const record = applyAttemptEvent(newAttempt(t), { type: 'dial_sent' }, t).record;
      const fields: AttemptFields = { ...recordFields(record), cid, idx, n, family: d.provider, number, deadline };
      const input = {
        cuuid: id,
        base: null,
        fields,
        contact: { idx, expectedRaw: raw, next, oldStatus: 'pending' as const, newStatus: 'pending' as const },
        dueAt: null,
        deadline,
        now: t,
        // Status callbacks (sipcall) carry only the callee: they find this attempt while it is live.
        ...(d.provider === 'sipcall' ? { index: { by: 'callee' as const, family: 'sipcall', number, ttlMs: deadline - t + 30_000 } } : {}),
      };
      const r = guard ? await attempts.begin({ ...input, guard }) : await attempts.commit(input);
      if (typeof r === 'object') {
        refusal = r;
        return 'refused' as const;
      }
      // A conflict is either a concurrent change of the contact (decide again) or this attempt already begun.
      if (r === 'conflict') return (await attempts.get(id)) ? ('exists' as const) : RETRY;
      written.put(id, { a: createdAttempt(id, fields), raw: encodeContactState(next), state: next });
      return r === 'unacknowledged' ? r : ('began' as const);
    });
    if (result === 'began') events.emit('attempt:dialing', { campaignId: cid, attemptId: id });
    return refusal ? { result, id, deadline, refusal } : { result, id, deadline };
  }

  /**
   * Ends a begin the replicas did not acknowledge in time. Its request was
   * never sent, but a failover could lose its record, so nothing can tell
   * whether another worker will find the contact undialed: it ends in doubt,
   * as an attempt whose fate is unknown does (its contact retried only as the
   * in_doubt retry policy says). False when the record is not there: the
   * begin was lost with a failover before any replica held it, and its
   * contact is as it was before the begin (never dialed).
   */
  async function unacknowledged(id: string, reason: string): Promise<boolean> {
    const t = now();
    let known = written.take(id);
    const ended = await casLoop('unacknowledged', async () => {
      const ctx = known ?? (await read(id));
      known = null;
      if (!ctx) return 'missing' as const;
      const { a } = ctx;
      // A dialing attempt at its deadline: final in_doubt.
      const step = applyEvent(a, { type: 'deadline' }, t);
      if (step.effect !== 'final') return 'done' as const;
      const fields: AttemptFields = { ...changedFields(a, step.record), outcome: 'in_doubt', inDoubt: true, error: `in doubt: ${reason}` };
      const r = await finalizeContact(ctx, 'in_doubt', fields, true, { release: true });
      if (r === 'conflict') return RETRY;
      await releaseAfter(a.family, a.cid, id);
      events.emit('attempt:final', { campaignId: a.cid, attemptId: id, outcome: 'in_doubt', late: false, source: 'replicas', family: a.family });
      return 'done' as const;
    });
    return ended !== 'missing';
  }

  /** Applies the synchronous answer of the provider to a dialing attempt. */
  async function dialResult(id: string, family: ProviderFamily, outcome: DialOutcome): Promise<void> {
    const ref = parseAttemptId(id);
    if (!ref) throw new Error(`not an attempt id: ${id}`);
    const t = now();
    // "Too fast": the account slows down once per answer, before anything else (a compare-and-set that runs
    // again must not count the same refusal twice).
    if (outcome.kind === 'rejected' && outcome.tooFast) await pacer.penalize(family, null);
    else if (outcome.kind === 'transient' && outcome.httpStatus === 429) await pacer.penalize(family, outcome.retryAfterMs);
    // The first try starts from what begin wrote (no read); a conflict reads again.
    let known = written.take(id);
    await casLoop('dialResult', async () => {
      const ctx = known ?? (await read(id));
      known = null;
      if (!ctx) return 'missing' as const;
      const { a } = ctx;
      const step = applyEvent(a, { type: 'dial_result', kind: outcome.kind }, t);
      const c = await campaigns.get(a.cid);
      switch (outcome.kind) {
        case 'accepted': {
          if (step.effect !== 'advanced') {
            // The result callback beat the HTTP answer: keep the final record, note the call id.
            return attempts.commit({
              cuuid: id,
              base: a,
              fields: { providerCallId: outcome.providerCallId ?? a.providerCallId ?? '' },
              contact: { idx: a.idx, expectedRaw: ctx.raw, next: null, oldStatus: 'pending', newStatus: 'pending' },
              dueAt: null,
              deadline: null,
              now: t,
            }).then((r) => (r === 'conflict' ? RETRY : 'done'));
          }
          const deadline = c ? resultDeadline(c, t) : t + 180_000;
          if (outcome.providerCallId && family === 'pbx') {
            await attempts.rememberProviderCallId('pbx', outcome.providerCallId, id, deadline - t + 86_400_000);
          }
          const { raw, state } = ctx;
          const next = state.a === id && state.s === 'pending' ? Object.assign({}, state, { ph: 'waiting' as const }) : null;
          const fields = changedFields(a, step.record);
          fields.providerCallId = outcome.providerCallId ?? '';
          fields.deadline = deadline;
          const r = await attempts.commit({
            cuuid: id,
            base: a,
            fields,
            contact: { idx: a.idx, expectedRaw: raw, next, oldStatus: state.s, newStatus: state.s },
            dueAt: null,
            deadline,
            now: t,
          });
          // The channel was taken with a hold past this deadline (see the processor): it is freed at the
          // result, or expires shortly after the deadline, without another round trip here.
          return r === 'conflict' ? RETRY : 'done';
        }
        case 'in_doubt': {
          const { raw, state } = ctx;
          const next = state.a === id && state.s === 'pending' ? { ...state, ph: 'waiting' as const } : null;
          const r = await attempts.commit({
            cuuid: id,
            base: a,
            fields: { ...changedFields(a, step.record), inDoubt: true, error: `in doubt: ${outcome.reason}` },
            contact: { idx: a.idx, expectedRaw: raw, next, oldStatus: state.s, newStatus: state.s },
            dueAt: null,
            deadline: null,
            now: t,
          });
          return r === 'conflict' ? RETRY : 'done';
        }
        case 'rejected': {
          if (outcome.tooFast) {
            const r = await finalizeContact(ctx, 'failed', { ...changedFields(a, step.record), error: `too fast: ${outcome.reason}` }, false, {
              notSent: true,
              dueOverride: 2_000,
            });
            return r === 'conflict' ? RETRY : 'done';
          }
          const r = await finalizeContact(ctx, 'rejected', { ...changedFields(a, step.record), error: `rejected: ${outcome.reason}` }, true, { release: true });
          if (r !== 'conflict') {
            await releaseAfter(family, a.cid, id);
            events.emit('attempt:final', { campaignId: a.cid, attemptId: id, outcome: 'rejected', late: false, source: 'dial', ...dialFacts(a) });
          }
          return r === 'conflict' ? RETRY : 'done';
        }
        case 'fatal':
        case 'not_sent':
        case 'transient': {
          const reason = `${outcome.kind}: ${outcome.reason}`;
          const retryAfter = outcome.kind === 'transient' ? outcome.retryAfterMs : null;
          const r = await finalizeContact(ctx, 'failed', { ...changedFields(a, step.record), error: reason }, false, {
            notSent: true,
            release: true,
            ...(retryAfter !== null ? { dueOverride: retryAfter } : {}),
          });
          if (r !== 'conflict') {
            await releaseAfter(family, a.cid, id);
            if (outcome.kind === 'fatal') await deps.pauseCampaign(a.cid, `provider refused the credentials: ${outcome.reason}`);
          }
          return r === 'conflict' ? RETRY : 'done';
        }
      }
    });
    events.emit('attempt:dialed', {
      campaignId: ref.campaignId,
      attemptId: id,
      kind: outcome.kind,
      family,
      providerCallId: outcome.kind === 'accepted' ? outcome.providerCallId : null,
    });
  }

  /** A final result (CDR) for an attempt. */
  async function result(id: string, family: ProviderFamily, res: CallResult, callbackId: string): Promise<ResultEffect | 'unknown'> {
    const t = now();
    return casLoop('result', async () => {
      const ctx = await read(id);
      if (!ctx) return 'unknown' as const;
      const { a } = ctx;
      const step = applyEvent(a, { type: 'result', outcome: res.outcome }, t);
      // Written into the fresh object changedFields made (no spread: this runs for every result).
      const fields: AttemptFields = changedFields(a, step.record);
      fields.billsec = res.billsec;
      fields.answeredAt = res.answeredAt ?? '';
      fields.endedAt = res.endedAt ?? '';
      fields.hangupcause = res.hangupCause ?? '';
      fields.hangupdirection = res.hangupDirection ?? '';
      fields.userkey = res.userKey ?? '';
      fields.callUuid = res.providerCallId ?? a.callUuid ?? '';
      fields.callbackId = callbackId;
      // The CDR reveals the call uuid; it is indexed (with the commit) unless a status callback already did.
      const index: AttemptIndex | undefined =
        res.providerCallId && family === 'sipcall' && a.callUuid !== res.providerCallId ? { by: 'callUuid', uuid: res.providerCallId, ttlMs: 86_400_000 } : undefined;
      const withIndex = index ? { index } : {};
      switch (step.effect) {
        case 'final': {
          const r = await finalizeContact(ctx, res.outcome, fields, true, { stats: resultStats(res), release: true, index });
          if (r === 'conflict') return RETRY;
          await releaseAfter(family, a.cid, id);
          events.emit('attempt:final', { campaignId: a.cid, attemptId: id, outcome: res.outcome, late: false, source: 'callback', ...dialFacts(a) });
          return 'final';
        }
        case 'late_correction': {
          const r = await correctLate(ctx, res.outcome, { ...fields, late: true }, resultStats(res), index);
          if (r === 'conflict') return RETRY;
          events.emit('callback:late', { campaignId: a.cid, attemptId: id, outcome: res.outcome });
          return 'late';
        }
        case 'duplicate':
        case 'conflict': {
          const { raw, state } = ctx;
          const r = await attempts.commit({
            cuuid: id,
            base: a,
            fields: changedFields(a, step.record),
            contact: { idx: a.idx, expectedRaw: raw, next: null, oldStatus: state.s, newStatus: state.s },
            dueAt: null,
            deadline: null,
            now: t,
            ...withIndex,
          });
          if (r === 'conflict') return RETRY;
          if (step.effect === 'duplicate') events.emit('callback:duplicate', { campaignId: a.cid, attemptId: id });
          return step.effect;
        }
        default:
          if (index) await attempts.rememberCallUuid(index.uuid, id, index.ttlMs);
          return 'ignored';
      }
    });
  }

  /**
   * A result that arrives after the attempt went final by its deadline corrects
   * the record (flagged late) and, when the contact is still on that attempt,
   * its status; it never causes a call.
   */
  async function correctLate(
    ctx: Ctx,
    outcome: AttemptOutcome,
    fields: AttemptFields,
    stats: Record<string, number>,
    index?: AttemptIndex,
  ): Promise<'conflict' | 'ok' | 'completed'> {
    const { a, raw, state } = ctx;
    const onThisAttempt = state.a === a.id;
    let next: ContactState | null = null;
    let newStatus = state.s;
    if (onThisAttempt && (state.s !== 'pending' || state.ph === 'due' || outcome === 'answered')) {
      const o = { ...(state.o ?? {}) };
      if (a.outcome && o[a.outcome]) o[a.outcome] = o[a.outcome]! - 1;
      o[outcome] = (o[outcome] ?? 0) + 1;
      if (state.s !== 'pending' || outcome === 'answered') {
        // A final contact takes the corrected outcome; a pending retry is dropped when the call was in fact answered.
        newStatus = contactStatusOf(outcome);
        next = { ...state, s: newStatus, o, late: true };
        delete next.ph;
        delete next.e;
      } else {
        next = { ...state, o, late: true };
      }
    }
    return attempts.commit({
      cuuid: a.id,
      base: a,
      fields,
      contact: { idx: a.idx, expectedRaw: raw, next, oldStatus: state.s, newStatus },
      dueAt: null,
      deadline: 'del',
      now: now(),
      stats: { ...stats, late: 1 },
      ...(index ? { index } : {}),
    });
  }

  /** A progress callback (ring / answer / hangup): never final. */
  async function progress(id: string, status: 'ring' | 'answer' | 'hangup', callUuid: string | null): Promise<ResultEffect | 'unknown'> {
    const t = now();
    return casLoop('progress', async () => {
      const ctx = await read(id);
      if (!ctx) return 'unknown' as const;
      const { a } = ctx;
      const step = applyEvent(a, { type: 'progress', status }, t);
      // The first uuid seen for the call is indexed with the commit: later callbacks that carry only it find this attempt.
      const newUuid = callUuid !== null && !a.callUuid ? callUuid : null;
      if (step.effect !== 'advanced' && newUuid === null) return 'ignored';
      const { raw, state } = ctx;
      const fields: AttemptFields = { ...changedFields(a, step.record), callUuid: callUuid ?? a.callUuid ?? '' };
      const r = await attempts.commit({
        cuuid: id,
        base: a,
        fields,
        contact: { idx: a.idx, expectedRaw: raw, next: null, oldStatus: state.s, newStatus: state.s },
        dueAt: null,
        deadline: null,
        now: t,
        ...(newUuid !== null ? { index: { by: 'callUuid' as const, uuid: newUuid, ttlMs: 86_400_000 } } : {}),
      });
      if (r === 'conflict') return RETRY;
      if (step.effect === 'advanced') events.emit('attempt:progress', { campaignId: a.cid, attemptId: id, status });
      return step.effect === 'advanced' ? 'progress' : 'ignored';
    });
  }

  /** The result deadline passed with no result: no_result, in_doubt, or (pbx) no answer without CDR. */
  async function deadline(id: string): Promise<AttemptOutcome | null> {
    const t = now();
    return casLoop('deadline', async () => {
      const ctx = await read(id);
      if (!ctx) return null;
      const { a } = ctx;
      const step = applyEvent(a, { type: 'deadline' }, t);
      if (step.effect !== 'final') {
        // Nothing to do (already final): just drop the deadline entry.
        const { raw, state } = ctx;
        const r = await attempts.commit({
          cuuid: id,
          base: a,
          fields: null,
          contact: { idx: a.idx, expectedRaw: raw, next: null, oldStatus: state.s, newStatus: state.s },
          dueAt: null,
          deadline: 'del',
          now: t,
        });
        return r === 'conflict' ? RETRY : null;
      }
      let outcome: AttemptOutcome = step.record.outcome ?? 'no_result';
      let error = outcome === 'in_doubt' ? 'in doubt: no answer from the provider and no result by the deadline' : 'no result by the deadline';
      if (a.family === 'pbx' && outcome === 'no_result') {
        outcome = 'no_answer';
        error = 'no CDR by the deadline: the first party did not answer';
      }
      const r = await finalizeContact(ctx, outcome, { ...changedFields(a, step.record), outcome, error }, true, { release: true });
      if (r === 'conflict') return RETRY;
      await releaseAfter(a.family, a.cid, id);
      events.emit('attempt:final', { campaignId: a.cid, attemptId: id, outcome, late: false, source: 'deadline', ...dialFacts(a) });
      return outcome;
    });
  }

  return {
    begin,
    unacknowledged,
    dialResult,
    result,
    progress,
    deadline,
    resultDeadline,
    dialDeadline,
    uncountCall: (e164: string, id: string): Promise<void> => attempts.uncountCall(e164, id),
    ...makePreDialActions({ attempts, contacts, events, now }),
  };
}

export type AttemptService = ReturnType<typeof makeAttemptService>;
export type { LifecycleEvent };
