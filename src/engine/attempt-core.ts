/**
 * The core every attempt change shares: deadlines, reading an attempt with
 * its contact, and committing an attempt's end with what its contact becomes
 * (a retry, or a final status), by compare-and-set.
 */
import type { AttemptOutcome, ProviderFamily } from '../domain/types.js';
import type { AttemptStore, AttemptFields, AttemptIndex, StoredAttempt } from '../store/attempts.js';
import { parseContactState, type ContactStore, type ContactState } from '../store/contacts.js';
import type { CampaignCache, ResolvedCampaign } from '../campaign/runtime.js';
import { parseAttemptId } from '../store/ids.js';
import { nextContact, notSentContact, type ContactDecision } from './contact-decision.js';
import type { DialerEvents } from './events.js';

/** An attempt with its contact's state as read (the raw text is the compare-and-set token). */
export interface Ctx {
  a: StoredAttempt;
  raw: string;
  state: ContactState;
}

export interface AttemptCoreDeps {
  attempts: AttemptStore;
  contacts: ContactStore;
  campaigns: CampaignCache;
  events: DialerEvents;
  now: () => number;
  random: () => number;
  /** Extra wait after a pbx ring timeout before "no answer, no CDR". */
  pbxGraceMs?: number;
  /** How long a dial request may take (the adapter's connect + response timeouts), per provider. */
  requestTimeoutMs?: (family: ProviderFamily) => number;
  /**
   * The pacer's channel-hold keys (campaign, account) of an attempt: when
   * given, an attempt's end frees its channel in the same commit; without
   * them the service asks the pacer after the commit.
   */
  holdKeys?: (family: ProviderFamily, campaignId: string) => readonly [campaignHolds: string, accountHolds: string];
}

export function makeAttemptCore(deps: AttemptCoreDeps) {
  const { attempts, contacts, campaigns, events, now } = deps;

  /** While the request is out, the deadline covers the request timeout and then the result wait. */
  function dialDeadline(c: ResolvedCampaign, at: number): number {
    return resultDeadline(c, at) + (deps.requestTimeoutMs?.(c.record.definition.provider) ?? 30_000);
  }

  /** The result deadline of an accepted attempt. */
  function resultDeadline(c: ResolvedCampaign, at: number): number {
    const d = c.record.definition;
    if (d.provider === 'pbx') {
      const ring = Number(d.params.timeout ?? '30');
      const ringMs = (Number.isFinite(ring) && ring > 0 ? ring : 30) * 1000;
      return at + Math.max(d.resultTimeoutMs, ringMs + (deps.pbxGraceMs ?? 15_000));
    }
    return at + d.resultTimeoutMs;
  }

  /** The attempt and its contact's state, read together (one script call for all reads of a turn). */
  async function read(id: string): Promise<Ctx | null> {
    const ref = parseAttemptId(id);
    if (!ref) return null;
    const got = await attempts.readWithState(id);
    if (!got) return null;
    return { a: got.a, raw: got.raw, state: parseContactState(got.raw, `campaign ${ref.campaignId} contact ${ref.contact} state`) };
  }

  async function finalizeContact(
    ctx: Ctx,
    outcome: AttemptOutcome,
    fields: AttemptFields,
    placed: boolean,
    opts: { dueOverride?: number; notSent?: boolean; stats?: Record<string, number>; release?: boolean; index?: AttemptIndex } = {},
  ): Promise<'conflict' | 'ok' | 'completed'> {
    const { a, raw, state } = ctx;
    // Built without spreads: this runs for every attempt's end.
    const release = opts.release && deps.holdKeys ? deps.holdKeys(a.family, a.cid) : undefined;
    if (state.a !== a.id || state.s !== 'pending') {
      // The contact has moved on (or is final already): only the attempt record changes.
      const r = await attempts.commit({
        cuuid: a.id,
        base: a,
        fields,
        contact: { idx: a.idx, expectedRaw: raw, next: null, oldStatus: state.s, newStatus: state.s },
        dueAt: null,
        deadline: 'del',
        now: now(),
        stats: opts.stats,
        index: opts.index,
        release,
      });
      return r;
    }
    let decision: ContactDecision;
    if (opts.notSent) {
      decision = notSentContact(state, typeof fields.error === 'string' ? fields.error : 'not sent', now(), opts.dueOverride);
    } else {
      const c = await campaigns.get(a.cid);
      decision = nextContact(c, c?.zone ?? 'UTC', state, outcome, placed, now(), deps.random);
      if (decision.status === 'pending' && c) {
        // A retry is placed in the contact's own calling window: its zone is on its row.
        const zone = (await contacts.row(a.cid, a.idx))?.z;
        if (zone && zone !== c.zone) decision = nextContact(c, zone, state, outcome, placed, now(), deps.random);
      }
      if (typeof fields.error === 'string' && decision.status !== 'pending') decision.next.e = fields.error;
      else if (decision.status !== 'pending') delete decision.next.e;
    }
    let stats = opts.stats;
    if (decision.status === 'pending' && !opts.notSent) stats = Object.assign({}, stats, { retries: (stats?.retries ?? 0) + 1 });
    const r = await attempts.commit({
      cuuid: a.id,
      base: a,
      fields,
      contact: { idx: a.idx, expectedRaw: raw, next: decision.next, oldStatus: 'pending', newStatus: decision.status },
      dueAt: decision.dueAt,
      deadline: 'del',
      now: now(),
      stats,
      index: opts.index,
      release,
    });
    if (r !== 'conflict') {
      if (decision.status === 'pending' && decision.dueAt !== null) {
        events.emit('contact:retry', { campaignId: a.cid, contact: a.idx, at: decision.dueAt });
      } else if (decision.status !== 'pending') {
        events.emit('contact:final', { campaignId: a.cid, contact: a.idx, status: decision.status, attemptId: a.id });
      }
      if (r === 'completed') events.emit('campaign:completed', { campaignId: a.cid });
    }
    return r;
  }

  return { read, finalizeContact, resultDeadline, dialDeadline, releasesInCommit: deps.holdKeys !== undefined };
}

export type AttemptCore = ReturnType<typeof makeAttemptCore>;
