/**
 * The dial job processor: one job = one attempt of one contact.
 * Order matters: campaign state → calling window → DNC → pacing slot (in
 * line behind this process's other jobs of the campaign) → wait for the slot
 * → send-time admission → attempt recorded as dialing, atomically with the
 * last checks (campaign running, window still open, DNC lists, frequency
 * caps: a refusal frees the slot and ends or reschedules the contact as the
 * early checks do; with replica acks, held by the replicas, else it ends in
 * doubt unsent) → request → classified answer recorded.
 *
 * A job that cannot dial now but has no attempt yet (campaign paused, window
 * closed, worker stopping) is kept and delayed, never completed: it is the
 * only thing that carries this attempt to a worker (completed jobs are
 * deleted; a job enqueued again for an attempt already begun is never dialed:
 * the begin's compare-and-set refuses it).
 *
 * A job may carry a group of contacts (the feeder groups the contacts of a
 * campaign with no rate and no channel cap: docs/campaign.md): each goes
 * through the same steps, at once; one that cannot dial now gets a job of its
 * own (delayed, or waiting when the worker stops) before the group's job
 * completes, so the group's job is never the last holder of a contact that
 * was not dialed.
 */
import { DelayedError, WaitingError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { ProviderFamily } from '../domain/types.js';
import type { DialOutcome, ProviderAdapter } from '../providers/types.js';
import type { Pacer } from '../pacing/types.js';
import type { AttemptService } from '../engine/attempts.js';
import type { CampaignCache, ResolvedCampaign } from '../campaign/runtime.js';
import { parseContactRow, parseContactState, type ContactRow, type ContactState, type ContactStore } from '../store/contacts.js';
import type { DncStore } from '../store/dnc.js';
import type { QueueRegistry, DialJobData } from '../infra/queues.js';
import { nextCallableTime } from '../domain/window.js';
import { parseFrequencyCap, type FrequencyCap } from '../domain/frequency-cap.js';
import type { CampaignDefinition } from '../campaign/definition.js';
import type { BeginRefusal } from '../store/attempts.js';
import type { CapWaits } from '../store/cap-waits.js';
import { attemptId } from '../store/ids.js';
import { makeSlotGate, type SlotGate } from './slot-gate.js';
import { makeWindowCheck } from './window-check.js';

/** A contact of a job: its attempt, and its row and state when the feeder gave them (packed, as stored). */
export interface JobContact {
  idx: number;
  n: number;
  carried?: { row: string; st: string };
}

function jobContact(idx: unknown, n: unknown, row: unknown, st: unknown): JobContact | null {
  if (!Number.isInteger(idx) || !Number.isInteger(n) || (idx as number) < 0 || (n as number) < 1) return null;
  if (row === undefined && st === undefined) return { idx: idx as number, n: n as number };
  if (typeof row !== 'string' || typeof st !== 'string') return null;
  return { idx: idx as number, n: n as number, carried: { row, st } };
}

/**
 * The job's data as the feeder wrote it: one contact { idx ≥ 0, n ≥ 1, row?, st? },
 * or a group { group: [[idx, n] or [idx, n, row, st], …] } (at least one).
 * Null when unreadable (checked by hand: it runs for every dial).
 */
export function readJobData(data: unknown): { contacts: JobContact[]; grouped: boolean } | null {
  if (typeof data !== 'object' || data === null) return null;
  const { idx, n, row, st, group } = data as Record<string, unknown>;
  if (group === undefined) {
    const one = jobContact(idx, n, row, st);
    return one ? { contacts: [one], grouped: false } : null;
  }
  if (!Array.isArray(group) || group.length === 0) return null;
  const contacts: JobContact[] = [];
  for (const ref of group as unknown[]) {
    if (!Array.isArray(ref) || (ref.length !== 2 && ref.length !== 4)) return null;
    const one = jobContact(ref[0], ref[1], ref[2], ref[3]);
    if (!one) return null;
    contacts.push(one);
  }
  return { contacts, grouped: true };
}

export type ProcessResult = 'dialed' | 'exists' | 'stale' | 'ended' | 'missing' | 'requeued';

/** What became of each contact of a group job, counted. */
export type GroupResult = Partial<Record<ProcessResult | 'deferred', number>>;

/** A contact in hand that is not dialed now: it waits until `at` (no attempt made), or goes back to the queue (worker stopping). */
type Deferral = { defer: 'later'; at: number } | { defer: 'back' };

const isDeferral = (r: ProcessResult | Deferral): r is Deferral => typeof r === 'object';

/** While a campaign is paused, a job in hand looks again this often. */
const PAUSED_RECHECK_MS = 1000;

/**
 * Dial slots are spaced (1000 + this) / cps ms apart. The cap itself is kept
 * by the send-time admission; this spacing keeps the reservations about as
 * slow as what the admission lets through (each send counts from its
 * admission to one second after its response), so that calls rarely queue at
 * the admission (docs/pacing.md). Costs margin / 1000 of the rate.
 */
export const DIAL_SAFETY_MARGIN_MS = 5;

/** Flight bound of a dial when the deps give none: no provider request lasts longer. */
export const DEFAULT_DIAL_FLIGHT_MS = 30_000;
/** A request leaves at most this long after its send-time admission (or a quarter of its flight bound, if less); later, it is not sent. */
export const STALE_ADMISSION_MS = 500;

/**
 * No slot sooner than this from the grant: the work between the grant and
 * the slot (the wait, the admission) never makes the send late.
 */
export const DIAL_LEAD_MS = 50;

export interface DialProcessorDeps {
  providers: ReadonlyMap<ProviderFamily, ProviderAdapter>;
  service: AttemptService;
  campaigns: CampaignCache;
  contacts: ContactStore;
  dnc: DncStore;
  pacer: Pacer;
  queues: QueueRegistry;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  log: Logger;
  pauseCampaign: (campaignId: string, reason: string) => Promise<void>;
  /** Where jobs wait for pacing slots (default: a gate of this processor's own). */
  gate?: SlotGate;
  /** Default DIAL_SAFETY_MARGIN_MS. */
  safetyMarginMs?: number;
  /**
   * Frequency caps of every campaign, and how long each number's attempts are
   * kept to count them (0: not kept). Default: none, not kept.
   */
  frequency?: { caps: FrequencyCap[]; historyMs: number };
  /** Where contacts waiting for their number's cap are noted (the status says a cap holds the campaign). */
  capWaits?: Pick<CapWaits, 'note'>;
  /**
   * Longest a provider request may take (its connect + response timeouts): the
   * send-time admission counts a dial whose worker died mid-request until then.
   * Default DEFAULT_DIAL_FLIGHT_MS.
   */
  requestTimeoutMs?: (family: ProviderFamily) => number;
}

export function campaignOfQueue(queueName: string): string {
  return queueName.startsWith('dial-') ? queueName.slice(5) : queueName;
}

function dialing(c: ResolvedCampaign | null): boolean {
  const state = c?.record.state;
  return state === 'running' || state === 'importing';
}

export function makeDialProcessor(deps: DialProcessorDeps) {
  const { service, campaigns, contacts, pacer, now, log } = deps;
  const gate = deps.gate ?? makeSlotGate({ pacer, now, sleep: deps.sleep });
  const openUntil = makeWindowCheck();
  const frequency = deps.frequency ?? { caps: [], historyMs: 0 };
  /** The caps a campaign's calls are under: the deployment's and the campaign's own (both hold). */
  const capsMemo = new WeakMap<CampaignDefinition, FrequencyCap[]>();
  const capsOf = (d: CampaignDefinition): FrequencyCap[] => {
    let caps = capsMemo.get(d);
    if (!caps) {
      caps = d.frequencyCap === '' ? frequency.caps : [...frequency.caps, ...parseFrequencyCap(d.frequencyCap)];
      capsMemo.set(d, caps);
    }
    return caps;
  };
  const safetyMarginMs = deps.safetyMarginMs ?? DIAL_SAFETY_MARGIN_MS;
  /**
   * How long after its admission a request may still leave: a small part of its flight bound (the send log
   * counts it until admission + flight bound, and its arrival must fall within that).
   */
  const staleAdmissionMs = (flight: number): number => Math.min(STALE_ADMISSION_MS, flight / 4);
  const flightMs = (family: ProviderFamily): number => deps.requestTimeoutMs?.(family) ?? DEFAULT_DIAL_FLIGHT_MS;
  const admissions = makeAdmissionLines();

  /** Keeps the job (same id, no attempt made) and runs it again at `at`. */
  async function later(job: Job<DialJobData>, token: string | undefined, at: number): Promise<never> {
    await job.moveToDelayed(at, token);
    throw new DelayedError();
  }

  /** Hands the job back to the queue at once (this worker is stopping). */
  async function handBack(job: Job<DialJobData>, token: string | undefined): Promise<never> {
    await job.moveToWait(token);
    throw new WaitingError();
  }

  /**
   * The row and state the feeder put in the job, or null (none, or unreadable:
   * the dial reads them from the store instead).
   */
  function carriedRowAndState(cid: string, k: JobContact): { row: ContactRow | null; raw: string; state: ContactState } | null {
    if (!k.carried) return null;
    try {
      const where = `campaign ${cid} contact ${k.idx} (dial job)`;
      return { row: parseContactRow(k.carried.row, where), raw: k.carried.st, state: parseContactState(k.carried.st, where) };
    } catch (err) {
      log.warn({ err, campaignId: cid, contact: k.idx }, 'dial job carries an unreadable row or state: read from the store');
      return null;
    }
  }

  /** A contact whose calling window is closed at `t`: it waits for the next opening, or ends expired when there is none. */
  async function windowClosed(cid: string, idx: number, n: number, c: ResolvedCampaign, zone: string, t: number, why: string): Promise<ProcessResult | Deferral> {
    const next = nextCallableTime(c.window, zone, t);
    if (next !== null) return waitInDueSet(cid, idx, n, next);
    await service.endContact(cid, idx, 'expired', why);
    return 'ended';
  }

  /**
   * A contact that may not be called before `at` (its window, its number's
   * cap) goes back to the due set, where the feeder takes it again when due
   * and a cancel or an expiry ends it, instead of a job delayed for hours.
   * When it cannot (its state moved on meanwhile), the job simply waits.
   */
  async function waitInDueSet(cid: string, idx: number, n: number, at: number): Promise<ProcessResult | Deferral> {
    return (await service.requeue(cid, idx, n, at)) ? 'requeued' : { defer: 'later', at };
  }

  /** What becomes of a contact whose begin was refused by its last checks (nothing was recorded). */
  async function refused(cid: string, idx: number, n: number, c: ResolvedCampaign, zone: string, why: BeginRefusal): Promise<ProcessResult | Deferral> {
    const t = now();
    switch (why.refused) {
      case 'state':
        if (why.state === 'cancelled') {
          await service.endContact(cid, idx, 'cancelled', 'campaign cancelled before this contact was dialed');
          return 'ended';
        }
        if (why.state === 'gone') return 'missing';
        return { defer: 'later', at: t + PAUSED_RECHECK_MS };
      case 'window':
        return windowClosed(cid, idx, n, c, zone, t, 'the calling window closed for good before this contact was dialed');
      case 'dnc':
        await service.endContact(cid, idx, 'dnc', `number added to do-not-call list ${why.lists.join(', ')} before it was dialed`);
        return 'ended';
      case 'cap': {
        // Over its frequency cap: it waits until the cap allows the next call and its window is open.
        const next = c.window.expiresAt !== null && why.retryAt >= c.window.expiresAt ? null : nextCallableTime(c.window, zone, Math.max(t, why.retryAt));
        if (next !== null) {
          await deps.capWaits?.note(cid, idx, next, t);
          return waitInDueSet(cid, idx, n, next);
        }
        await service.endContact(cid, idx, 'expired', `frequency cap reached: the next call was allowed at ${new Date(why.retryAt).toISOString()}, after the campaign expired`);
        return 'ended';
      }
    }
  }

  /** One contact of a job in hand, from the campaign's state to the recorded answer. */
  async function dialContact(cid: string, k: JobContact, signal: AbortSignal | undefined): Promise<ProcessResult | Deferral> {
    const { idx, n } = k;
    const c = await campaigns.get(cid);
    if (!c) return 'missing';
    const state = c.record.state;
    if (state === 'cancelled') {
      await service.endContact(cid, idx, 'cancelled', 'campaign cancelled before this contact was dialed');
      return 'ended';
    }
    if (!dialing(c)) return { defer: 'later', at: now() + PAUSED_RECHECK_MS };
    // The row (number, zone) and the contact's state, as the feeder put them in the job or read in one round trip:
    // the begin starts from this state (its compare-and-set reads again if the contact changed meanwhile).
    const { row, ...known } = carriedRowAndState(cid, k) ?? (await contacts.rowAndState(cid, idx));
    if (!row || !row.d || !row.e) {
      log.error({ campaignId: cid, contact: idx }, 'dial job for a contact without a number');
      return 'missing';
    }
    const t = now();
    const zone = row.z ?? c.zone;
    // Early checks: a contact that cannot be called now takes no slot. They are made again, atomically, when
    // the attempt is recorded right before the request leaves (the begin's guard), whatever changed meanwhile.
    const windowUntil = openUntil(c.window, zone, t);
    if (windowUntil === null) return windowClosed(cid, idx, n, c, zone, t, 'the calling window closed for good before this contact was dialed');
    const d = c.record.definition;
    if (d.dnc.length > 0) {
      const on = await deps.dnc.check(row.e, d.dnc);
      if (on.length > 0) {
        await service.endContact(cid, idx, 'dnc', `number added to do-not-call list ${on.join(', ')} before it was dialed`);
        return 'ended';
      }
    }
    const adapter = deps.providers.get(d.provider);
    if (!adapter) {
      await deps.pauseCampaign(cid, `provider ${d.provider} is not configured in this worker`);
      return { defer: 'later', at: now() + 5000 };
    }

    const id = attemptId({ campaignId: cid, contact: idx, attempt: n });
    // A channel is held past the latest result deadline this call can get (freed earlier by its result).
    const holdMs = service.dialDeadline(c, t) - t + 30_000;
    const slot = await gate.acquire(`${d.provider}|${cid}`, {
      request: () => ({ account: d.provider, campaignId: cid, attemptId: id, holdUntilMs: now() + holdMs, safetyMarginMs, leadMs: DIAL_LEAD_MS }),
      // A contact whose window closed while it waited in line leaves it at once (it takes no slot).
      wanted: async () => now() < windowUntil && dialing(await campaigns.get(cid)),
      ...(signal ? { signal } : {}),
    });
    if (slot === null) {
      // No slot and no attempt: the campaign stopped dialing, the window closed, or this worker is stopping.
      const current = await campaigns.get(cid);
      if (current?.record.state === 'cancelled') {
        await service.endContact(cid, idx, 'cancelled', 'campaign cancelled before this contact was dialed');
        return 'ended';
      }
      if (signal?.aborted) return { defer: 'back' };
      if (now() >= windowUntil) return windowClosed(cid, idx, n, c, zone, now(), 'the calling window closed for good before this contact was dialed');
      return { defer: 'later', at: now() + PAUSED_RECHECK_MS };
    }

    // The request leaves at its reserved slot, and only once the send-time log admits it (a sender that woke
    // late never bunches calls).
    const wait = slot.sendAt - now();
    if (wait > 0) await deps.sleep(wait);
    let admittedAt = 0;
    if (slot.rated) {
      const flight = flightMs(d.provider);
      const admit = () => pacer.admit(d.provider, cid, id, flight);
      await admissions.run(`${d.provider}|${cid}`, async () => {
        for (let admitted = await admit(); !admitted.ok; admitted = await admit()) await deps.sleep(admitted.retryInMs);
      });
      admittedAt = now();
    }
    // The attempt is recorded as dialing right before the request leaves, and the same script makes the last
    // checks (campaign running, window open, DNC lists, frequency caps) at that instant: nothing that changed
    // while this contact waited for its slot is missed. A worker that dies while waiting leaves no attempt.
    // The begin also indexes the callee (sipcall status callbacks carry only the number).
    const begun = await service.begin(c, idx, n, row.d, known, {
      windowUntil: Number.isFinite(windowUntil) ? windowUntil : null,
      e164: row.e,
      dnc: d.dnc,
      caps: capsOf(d),
      keepMs: frequency.historyMs,
    });
    if (begun.result === 'unacknowledged') {
      // Recorded, but no replica held it in time (AUTODIALER_REPLICA_ACKS): a failover could lose the record and
      // another worker dial this contact again. Never sent: the admitted send and the cap count go, the attempt
      // ends in doubt (its channel freed with it).
      await Promise.all([slot.rated ? pacer.withdraw(d.provider, cid, id) : undefined, service.uncountCall(row.e, id)]);
      if (await service.unacknowledged(id, 'the replicas did not acknowledge the attempt in time (AUTODIALER_REPLICA_ACKS): not dialed')) {
        log.warn({ campaignId: cid, attemptId: id }, 'attempt not dialed: the replicas did not acknowledge it in time; it ends in doubt');
        return 'ended';
      }
      // The record is gone: a failover lost the begin (the connection dropped before any replica held it), and
      // the primary now has the contact as it was before it. Never sent, so nothing is in doubt: the channel is
      // free again and the job goes back to be dialed, as if this worker had never taken it.
      await pacer.release(d.provider, cid, id);
      log.warn({ campaignId: cid, attemptId: id }, 'attempt not dialed: a failover lost its record before a replica held it; its contact goes back to be dialed');
      return { defer: 'back' };
    }
    if (begun.result !== 'began') {
      // Never sent: the channel and the admitted place in the send log are free again.
      await Promise.all([pacer.release(d.provider, cid, id), slot.rated ? pacer.withdraw(d.provider, cid, id) : undefined]);
      if (begun.refusal) {
        log.info({ campaignId: cid, attemptId: id, refused: begun.refusal }, 'attempt not dialed: refused by its last checks');
        return refused(cid, idx, n, c, zone, begun.refusal);
      }
      log.warn({ campaignId: cid, attemptId: id, result: begun.result }, 'attempt not dialed: already begun or no longer due');
      return begun.result === 'refused' ? 'stale' : begun.result;
    }
    if (slot.rated && now() - admittedAt > staleAdmissionMs(flightMs(d.provider))) {
      // The begin was held up (Redis away and back, a long pause) past what the send log vouches for: its entry
      // counts this send only until the admission time plus the flight bound, and a request leaving this late
      // could share a second with a full window of sends admitted meanwhile. Never sent: the admitted place goes,
      // and the attempt ends not sent (the contact is dialed again through the pacer).
      await Promise.all([pacer.withdraw(d.provider, cid, id), service.uncountCall(row.e, id)]);
      const late = now() - admittedAt;
      await service.dialResult(id, d.provider, { kind: 'not_sent', reason: `request not sent: the attempt was recorded ${late} ms after its send-time admission`, code: 'ADMISSION_STALE' });
      log.warn({ campaignId: cid, attemptId: id, lateMs: late }, 'attempt not dialed: its send-time admission went stale while it was recorded; dialed again later');
      return 'requeued';
    }
    // Admitted, the send is logged as in flight: it is landed once the exchange is over, whatever happened
    // (a failure to land only keeps it counted until its flight bound).
    const land = async (): Promise<void> => {
      if (!slot.rated) return;
      await pacer.landed(d.provider, cid, id).catch((err: unknown) => log.warn({ err, campaignId: cid, attemptId: id }, 'could not land a send in the pacing log'));
    };
    let outcome: DialOutcome;
    try {
      outcome = await adapter.dial({ attemptId: id, number: row.d, action: d.action, params: { ...d.params, ...(row.c ?? {}) } });
    } catch (err) {
      await land();
      throw err;
    }
    // The exchange is over, the arrival behind us: landed first, in the same pipeline as the result.
    // A request that placed no call stops counting towards the number's frequency caps.
    const placedNoCall = outcome.kind !== 'accepted' && outcome.kind !== 'in_doubt';
    await Promise.all([land(), service.dialResult(id, d.provider, outcome), placedNoCall ? service.uncountCall(row.e, id) : undefined]);
    log.debug({ campaignId: cid, attemptId: id, outcome: outcome.kind }, 'dialed');
    return 'dialed';
  }

  /**
   * The contacts of a group job that were not dialed get jobs of their own
   * (job id = attempt id, as the feeder's: adding one twice is harmless), then
   * the group's job completes. When none was dialed, the group's job itself
   * goes back (all handed back) or waits until the first of them may dial.
   */
  async function processGroup(job: Job<DialJobData>, token: string | undefined, signal: AbortSignal | undefined, cid: string, group: JobContact[]): Promise<GroupResult> {
    const settled = await Promise.allSettled(group.map((k) => dialContact(cid, k, signal)));
    const counts: GroupResult = {};
    const own: { name: string; data: DialJobData; opts: { jobId: string; delay?: number } }[] = [];
    const failures: unknown[] = [];
    let back = 0;
    const t = now();
    settled.forEach((s, i) => {
      const k = group[i] as JobContact;
      if (s.status === 'rejected') {
        failures.push(s.reason);
        return;
      }
      const r = s.value;
      if (!isDeferral(r)) {
        counts[r] = (counts[r] ?? 0) + 1;
        return;
      }
      if (r.defer === 'back') back++;
      counts.deferred = (counts.deferred ?? 0) + 1;
      const jobId = attemptId({ campaignId: cid, contact: k.idx, attempt: k.n });
      own.push({ name: 'dial', data: { idx: k.idx, n: k.n, ...(k.carried ?? {}) }, opts: r.defer === 'later' && r.at > t ? { jobId, delay: r.at - t } : { jobId } });
    });
    if (back === group.length) return handBack(job, token);
    // None dialed and none back (a paused campaign, a window not open for any): the group waits as one job.
    if (own.length === group.length && back === 0) return later(job, token, Math.min(...settled.map((s) => (s.status === 'fulfilled' && isDeferral(s.value) && s.value.defer === 'later' ? s.value.at : t))));
    if (own.length > 0) await deps.queues.get(cid).addBulk(own);
    if (failures.length > 0) {
      const first = failures[0];
      throw new Error(`${failures.length} of ${group.length} contacts of this dial job failed: ${first instanceof Error ? first.message : String(first)}`, { cause: first });
    }
    return counts;
  }

  return async function processDial(job: Job<DialJobData>, token?: string, signal?: AbortSignal): Promise<ProcessResult | GroupResult> {
    const cid = campaignOfQueue(job.queueName);
    const data = readJobData(job.data);
    if (!data) {
      log.error({ campaignId: cid, jobId: job.id }, 'dial job with unreadable data dropped');
      return 'missing';
    }
    if (data.grouped) return processGroup(job, token, signal, cid, data.contacts);
    const r = await dialContact(cid, data.contacts[0] as JobContact, signal);
    if (!isDeferral(r)) return r;
    return r.defer === 'later' ? later(job, token, r.at) : handBack(job, token);
  };
}

/**
 * Admission polls of one line (provider account and campaign) in this
 * process, one at a time in arrival order. Without it, every send held back
 * by the admission would sleep until the same entry leaves the log and ask
 * at once: a herd of refusals, one admitted, all others asking again.
 */
function makeAdmissionLines() {
  const tails = new Map<string, Promise<void>>();
  return {
    run(key: string, poll: () => Promise<void>): Promise<void> {
      const before = tails.get(key) ?? Promise.resolve();
      const mine = before.then(poll);
      const tail = mine.catch(() => undefined);
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return mine;
    },
  };
}
