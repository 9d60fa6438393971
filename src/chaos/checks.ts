/**
 * What a chaos run must show, checked from what the provider saw (the
 * simulator's ledger and the callbacks it delivered) against what the dialer
 * reports (the results and attempts exports): pure functions of those facts.
 *
 * - no number called more often than the policy allows, no attempt sent
 *   twice, no two calls to one number overlapping;
 * - an attempt in doubt never dialed again;
 * - every contact final, none lost;
 * - the export agrees with the ledger, contact by contact;
 * - every request the provider received is an attempt on record, and every
 *   CDR the dialer acknowledged reached its attempt (none left pending);
 * - no one-second window with more requests than the account's rate.
 */
import type { LedgerEntry } from '../simulator/index.js';
import { parseAttemptId } from '../store/ids.js';
import { maxInSlidingWindow } from '../pacing/sliding-window.js';

/** What became of a call's CDR posts: when the first one was done with, and whether any was acknowledged. */
export interface CdrDelivery {
  firstAt: number;
  delivered: boolean;
}

/** A row of the results export (JSONL: every value a string). */
export interface ResultRow {
  phone: string;
  status: string;
  attempts: string;
  customuuid: string;
  billsec: string;
  provider_call_id: string;
  error: string;
}

/** A row of the attempts export. */
export interface AttemptRow {
  customuuid: string;
  attempt: string;
  outcome: string;
  dial_result: string;
  state: string;
}

export interface ChaosPolicy {
  contacts: number;
  maxAttempts: number;
  resultTimeoutMs: number;
  /** The account's calls per second (whole). */
  cps: number;
}

export interface CheckInput {
  policy: ChaosPolicy;
  campaignId: string;
  campaignState: string;
  /** The campaign's requests, in order of arrival. */
  ledger: readonly LedgerEntry[];
  /** By customuuid. */
  cdrs: ReadonlyMap<string, CdrDelivery>;
  results: readonly ResultRow[];
  attempts: readonly AttemptRow[];
  /** Stored callbacks still pending at the end (each was acknowledged to the provider). */
  pendingCallbacks: readonly PendingCallback[];
  /** The history store's view, when there is one. */
  history?: HistoryView;
}

/** A callback the dialer stored and never interpreted. */
export interface PendingCallback {
  id: string;
  kind: string;
  receivedAt: number;
  customuuid: string | null;
}

export interface HistoryView {
  contacts: readonly { number: string; status: string; attempts: number; customuuid: string | null }[];
  attemptIds: ReadonlySet<string>;
}

export interface Violation {
  /** The number, contact or window concerned. */
  subject: string;
  detail: string;
  /** Attempts involved (to find them in the processes' logs); `<campaign>-<index>-` stands for every attempt of a contact. */
  attemptIds: string[];
}

export interface CheckResult {
  name: string;
  ok: boolean;
  /** The figure that backs it, e.g. "most calls to one number: 3 (policy 3)". */
  figure: string;
  violations: Violation[];
}

const CALL_STATUS: Record<string, string> = { answered: 'answered', no_answer: 'no_answer', busy: 'busy', failed: 'failed', unallocated: 'failed' };
const NEVER_SENT = /never reached the provider/;

const attemptNo = (customuuid: string | null): number => (customuuid ? (parseAttemptId(customuuid)?.attempt ?? 0) : 0);

function groupBy<T>(items: readonly T[], key: (t: T) => string | null): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    if (k === null) continue;
    const list = out.get(k);
    if (list) list.push(t);
    else out.set(k, [t]);
  }
  return out;
}

function result(name: string, figure: string, violations: Violation[]): CheckResult {
  return { name, ok: violations.length === 0, figure, violations };
}

/** Calls placed (or possibly placed: a reset or an unanswered request) per number, and requests per attempt. */
export function checkCallsPerNumber(input: CheckInput, byNumber: Map<string, LedgerEntry[]>): CheckResult {
  const v: Violation[] = [];
  let most = 0;
  for (const [number, entries] of byNumber) {
    const placed = entries.filter((e) => e.placed);
    most = Math.max(most, placed.length);
    if (placed.length > input.policy.maxAttempts) {
      v.push({ subject: number, detail: `${placed.length} calls placed, the policy allows ${input.policy.maxAttempts}`, attemptIds: placed.map((e) => e.customuuid ?? '?') });
    }
  }
  for (const [id, entries] of groupBy(input.ledger, (e) => e.customuuid)) {
    if (entries.length > 1) v.push({ subject: id, detail: `attempt sent ${entries.length} times (answers: ${entries.map((e) => e.answer).join(', ')})`, attemptIds: [id] });
  }
  return result('calls per number within the policy, each attempt sent once', `most calls to one number: ${most} (policy ${input.policy.maxAttempts})`, v);
}

/**
 * Consecutive calls to one number: the next must arrive after the previous
 * one was over, i.e. after its CDR was posted, or (no CDR) after its result
 * deadline. A request that was reset or never answered counts as a call.
 */
export function checkOverlap(input: CheckInput, byNumber: Map<string, LedgerEntry[]>): CheckResult {
  const v: Violation[] = [];
  let pairs = 0;
  for (const [number, entries] of byNumber) {
    const placed = entries.filter((e) => e.placed).sort((a, b) => a.at - b.at);
    for (let i = 1; i < placed.length; i++) {
      const prev = placed[i - 1]!;
      const next = placed[i]!;
      pairs++;
      const cdr = prev.customuuid ? input.cdrs.get(prev.customuuid) : undefined;
      const over = Math.min(cdr?.firstAt ?? Infinity, prev.at + input.policy.resultTimeoutMs);
      if (next.at <= over) {
        v.push({
          subject: number,
          detail: `${next.customuuid} arrived ${next.at - prev.at} ms after ${prev.customuuid} (${prev.answer}), which was over only ${over - prev.at} ms after it (${cdr ? 'its CDR' : 'its deadline'})`,
          attemptIds: [prev.customuuid ?? '?', next.customuuid ?? '?'],
        });
      }
    }
  }
  return result('no two calls to one number overlapping', `${pairs} numbers' later calls checked against the call before`, v);
}

/** An attempt that ended in doubt is never followed by another attempt of its contact (in doubt is never retried here). */
export function checkInDoubt(input: CheckInput): CheckResult {
  const v: Violation[] = [];
  const contactOf = (id: string) => {
    const r = parseAttemptId(id);
    return r ? `${r.campaignId}-${r.contact}` : null;
  };
  const attemptsByContact = groupBy(input.attempts, (a) => contactOf(a.customuuid));
  const ledgerByContact = groupBy(input.ledger, (e) => (e.customuuid ? contactOf(e.customuuid) : null));
  let inDoubt = 0;
  for (const a of input.attempts) {
    if (a.outcome !== 'in_doubt') continue;
    inDoubt++;
    const contact = contactOf(a.customuuid);
    if (contact === null) continue;
    const n = attemptNo(a.customuuid);
    const later = [
      ...(attemptsByContact.get(contact) ?? []).filter((b) => attemptNo(b.customuuid) > n).map((b) => b.customuuid),
      ...(ledgerByContact.get(contact) ?? []).filter((e) => attemptNo(e.customuuid) > n).map((e) => e.customuuid ?? '?'),
    ];
    if (later.length > 0) v.push({ subject: contact, detail: `${a.customuuid} ended in doubt, then ${[...new Set(later)].join(', ')} followed`, attemptIds: [a.customuuid, ...new Set(later)] });
  }
  return result('attempts in doubt never dialed again', `${inDoubt} attempts in doubt`, v);
}

export function checkFinal(input: CheckInput): CheckResult {
  const v: Violation[] = [];
  if (input.campaignState !== 'completed') v.push({ subject: 'campaign', detail: `state ${input.campaignState}, not completed`, attemptIds: [] });
  if (input.results.length !== input.policy.contacts) v.push({ subject: 'export', detail: `${input.results.length} rows for ${input.policy.contacts} contacts`, attemptIds: [] });
  // The export lists contacts in order: a row's place is its contact's index (its attempts are `<campaign>-<index>-<n>`).
  const pending = input.results.map((r, idx) => ({ r, idx })).filter(({ r }) => r.status === 'pending' || r.status === '');
  for (const { r, idx } of pending.slice(0, 50)) {
    v.push({ subject: r.phone, detail: `still ${r.status || 'without a status'}${r.customuuid ? ` after ${r.customuuid}` : ', never dialed'}`, attemptIds: [`${input.campaignId}-${idx}-`] });
  }
  if (pending.length > 50) v.push({ subject: 'export', detail: `${pending.length - 50} more contacts not final`, attemptIds: [] });
  const final = input.results.length - pending.length;
  return result('every contact final (none lost)', `${final} of ${input.policy.contacts} final`, v);
}

/** One contact's export row against the requests and CDRs of its number. */
function rowProblems(row: ResultRow, entries: readonly LedgerEntry[], cdrs: ReadonlyMap<string, CdrDelivery>, policy: ChaosPolicy): string[] {
  const problems: string[] = [];
  const placed = entries.filter((e) => e.placed).length;
  const counted = Number(row.attempts);
  if (!Number.isInteger(counted)) return [`attempts "${row.attempts}" is not a number`];
  if (counted < placed) problems.push(`export counts ${counted} attempts, the provider placed ${placed} calls`);
  if (counted > policy.maxAttempts) problems.push(`export counts ${counted} attempts, the policy allows ${policy.maxAttempts}`);
  const lastN = attemptNo(row.customuuid);
  const beyond = entries.filter((e) => attemptNo(e.customuuid) > lastN);
  if (beyond.length > 0) problems.push(`the provider received ${beyond.map((e) => e.customuuid).join(', ')}, later than the export's last attempt ${row.customuuid || '(none)'}`);
  const last = row.customuuid ? entries.find((e) => e.customuuid === row.customuuid) : undefined;
  const cdr = row.customuuid ? cdrs.get(row.customuuid) : undefined;
  const s = row.status;
  if (s in CALL_STATUS && !(s === 'failed' && NEVER_SENT.test(row.error))) {
    if (!last) return [...problems, `${s}, but no request of ${row.customuuid || 'its last attempt'} reached the provider`];
    if (!last.placed || !last.result) return [...problems, `${s}, but the provider answered ${row.customuuid} ${last.answer} and placed no call`];
    if (!cdr?.delivered) problems.push(`${s}, but no CDR of ${row.customuuid} was acknowledged`);
    const expected = CALL_STATUS[last.result.disposition] ?? last.result.disposition;
    if (expected !== s) problems.push(`${s}, the provider's CDR says ${last.result.disposition}`);
    if (s === 'answered' && Number(row.billsec) !== last.result.billsec) problems.push(`billsec ${row.billsec}, the CDR says ${last.result.billsec}`);
    if (row.provider_call_id !== '' && last.callUuid !== null && row.provider_call_id !== last.callUuid) problems.push(`call id ${row.provider_call_id}, the provider's is ${last.callUuid}`);
  } else if (s === 'failed') {
    if (last?.placed) problems.push(`failed as never sent, but ${row.customuuid} was placed (${last.answer})`);
  } else if (s === 'no_result') {
    if (!last?.placed) problems.push(`no_result, but the provider answered ${row.customuuid} ${last?.answer ?? '(never received)'}`);
    if (cdr?.delivered) problems.push(`no_result, but a CDR of ${row.customuuid} was acknowledged and never applied`);
  } else if (s === 'in_doubt') {
    if (cdr?.delivered) problems.push(`in_doubt, but a CDR of ${row.customuuid} was acknowledged and never applied`);
  } else if (s === 'rejected') {
    if (last?.answer !== 'rejected') problems.push(`rejected, but the provider answered ${row.customuuid} ${last?.answer ?? '(never received)'}`);
  } else if (s !== 'pending') {
    problems.push(`unexpected status ${s}`);
  }
  return problems;
}

export function checkExport(input: CheckInput, byNumber: Map<string, LedgerEntry[]>): CheckResult {
  const v: Violation[] = [];
  const seen = new Set<string>();
  for (const row of input.results) {
    seen.add(row.phone);
    const entries = byNumber.get(row.phone) ?? [];
    const problems = rowProblems(row, entries, input.cdrs, input.policy);
    if (problems.length > 0) v.push({ subject: row.phone, detail: problems.join('; '), attemptIds: [...new Set([row.customuuid, ...entries.map((e) => e.customuuid ?? '')].filter((x) => x !== ''))] });
  }
  for (const [number, entries] of byNumber) {
    if (!seen.has(number)) v.push({ subject: number, detail: 'called, but not in the export', attemptIds: entries.map((e) => e.customuuid ?? '?') });
  }
  return result('export agrees with the ledger, contact by contact', `${input.results.length} rows compared`, v);
}

export function checkAttemptsRecorded(input: CheckInput): CheckResult {
  const recorded = new Set(input.attempts.map((a) => a.customuuid));
  const v: Violation[] = [];
  for (const e of input.ledger) {
    if (e.customuuid && !recorded.has(e.customuuid)) v.push({ subject: e.customuuid, detail: `received by the provider (${e.answer}), not in the attempts export`, attemptIds: [e.customuuid] });
  }
  return result('every request an attempt on record', `${input.attempts.length} attempts for ${input.ledger.length} requests`, v);
}

/**
 * Every CDR the dialer acknowledged reached its attempt, whichever attempt of
 * the contact it was (the export shows the last one only): its outcome is the
 * CDR's, also when it came after the deadline (corrected as late).
 */
export function checkCdrsApplied(input: CheckInput): CheckResult {
  const byId = new Map(input.attempts.map((a) => [a.customuuid, a]));
  const v: Violation[] = [];
  let acknowledged = 0;
  for (const e of input.ledger) {
    if (!e.customuuid || !e.placed || !e.result || input.cdrs.get(e.customuuid)?.delivered !== true) continue;
    acknowledged++;
    const a = byId.get(e.customuuid);
    const expected = CALL_STATUS[e.result.disposition] ?? e.result.disposition;
    if (!a) continue;
    if (a.outcome !== expected) v.push({ subject: e.customuuid, detail: `its CDR (${e.result.disposition}) was acknowledged, the attempt ended ${a.outcome || `still ${a.state}`}`, attemptIds: [e.customuuid] });
  }
  return result('every acknowledged CDR applied to its attempt', `${acknowledged} calls with a CDR acknowledged`, v);
}

/** Once the run is over, no stored callback is left uninterpreted. */
export function checkPendingCallbacks(input: CheckInput): CheckResult {
  const v = input.pendingCallbacks.map((p) => ({
    subject: p.id,
    detail: `${p.kind}${p.customuuid ? ` of ${p.customuuid}` : ''} received ${new Date(p.receivedAt).toISOString()}, stored and acknowledged, never interpreted`,
    attemptIds: p.customuuid ? [p.customuuid] : [],
  }));
  return result('every stored callback interpreted', `${input.pendingCallbacks.length} left pending`, v);
}

export function checkRate(input: CheckInput): CheckResult {
  const cps = input.policy.cps;
  const at = input.ledger.map((e) => e.at).sort((a, b) => a - b);
  const v: Violation[] = [];
  if (cps > 0) {
    for (let i = 0; i + cps < at.length; i++) {
      const span = at[i + cps]! - at[i]!;
      if (span < 1000) {
        v.push({ subject: new Date(at[i]!).toISOString(), detail: `${cps + 1} requests within ${span} ms`, attemptIds: [] });
        i += cps;
      }
    }
  }
  return result(`no second above the account's ${cps} calls/s`, `most requests in any second: ${maxInSlidingWindow(at)}`, v.slice(0, 50));
}

export function checkHistory(input: CheckInput, history: HistoryView): CheckResult {
  const v: Violation[] = [];
  const byPhone = new Map(input.results.map((r) => [r.phone, r]));
  if (history.contacts.length !== input.policy.contacts) v.push({ subject: 'history', detail: `${history.contacts.length} contacts archived of ${input.policy.contacts}`, attemptIds: [] });
  for (const c of history.contacts) {
    const row = byPhone.get(c.number);
    if (!row) v.push({ subject: c.number, detail: 'in the history store, not in the export', attemptIds: [] });
    else if (row.status !== c.status || Number(row.attempts) !== c.attempts || (row.customuuid || null) !== c.customuuid) {
      v.push({ subject: c.number, detail: `history store: ${c.status}, ${c.attempts} attempts, ${c.customuuid}; export: ${row.status}, ${row.attempts}, ${row.customuuid}`, attemptIds: c.customuuid ? [c.customuuid] : [] });
    }
  }
  for (const e of input.ledger) {
    if (e.customuuid && !history.attemptIds.has(e.customuuid)) v.push({ subject: e.customuuid, detail: 'received by the provider, not in the history store', attemptIds: [e.customuuid] });
  }
  return result('history store agrees with the export and the ledger', `${history.contacts.length} contacts, ${history.attemptIds.size} attempts archived`, v.slice(0, 200));
}

/** Every check, in the report's order. */
export function checkChaos(input: CheckInput): CheckResult[] {
  const byNumber = groupBy(input.ledger, (e) => e.number);
  const out = [
    checkCallsPerNumber(input, byNumber),
    checkOverlap(input, byNumber),
    checkInDoubt(input),
    checkFinal(input),
    checkExport(input, byNumber),
    checkAttemptsRecorded(input),
    checkCdrsApplied(input),
    checkPendingCallbacks(input),
    checkRate(input),
  ];
  if (input.history) out.push(checkHistory(input, input.history));
  return out;
}
