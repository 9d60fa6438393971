/**
 * What happens to one dial request: the vocabulary of script entries, the
 * seeded draw from the outcome mix, and the details (ring time, talk time,
 * key pressed) of a call that was placed. Pure functions of their inputs.
 */
import type { Rng } from './rng.js';

/** The results a placed call can have. */
export const CALL_RESULTS = ['answered', 'no_answer', 'busy', 'failed', 'unallocated', 'agent_no_answer', 'lost'] as const;
export type CallResultKind = (typeof CALL_RESULTS)[number];

/** Outcomes that answer the HTTP request without placing a call, or place one without answering. */
export const REQUEST_FAULTS = ['reject', 'toofast', 'error500', 'error429', 'reset', 'timeout'] as const;
export type RequestFault = (typeof REQUEST_FAULTS)[number];

export type Outcome =
  | { type: 'call'; result: CallResultKind; key: string | null; billsec: number | null }
  | { type: RequestFault };

/** Keys of the random outcome mix. */
export const MIX_KEYS = ['answered', 'answered_key', 'no_answer', 'busy', 'failed', 'agent_no_answer'] as const;
export type MixKey = (typeof MIX_KEYS)[number];
export type OutcomeMix = Record<MixKey, number>;

export const DEFAULT_MIX: OutcomeMix = {
  answered: 0.45,
  answered_key: 0.15,
  no_answer: 0.2,
  busy: 0.1,
  failed: 0.05,
  agent_no_answer: 0.05,
};

export const SCRIPT_ENTRY_HELP =
  'answered, answered:<key>, answered:<key>:<billsec>, no_answer, busy, failed, unallocated, ' +
  'agent_no_answer, lost, reject, toofast, error500, error429, reset, timeout';

const ANSWERED = /^answered(?::([0-9*#]?)(?::(\d{1,5}))?)?$/;

/** Parses one script entry; null when it is not one of SCRIPT_ENTRY_HELP. */
export function parseOutcome(entry: string): Outcome | null {
  const m = ANSWERED.exec(entry);
  if (m) {
    const key = m[1] === undefined || m[1] === '' ? null : m[1];
    const billsec = m[2] === undefined ? null : Number(m[2]);
    return { type: 'call', result: 'answered', key, billsec };
  }
  if ((CALL_RESULTS as readonly string[]).includes(entry)) {
    return { type: 'call', result: entry as CallResultKind, key: null, billsec: null };
  }
  if ((REQUEST_FAULTS as readonly string[]).includes(entry)) return { type: entry as RequestFault };
  return null;
}

export function formatOutcome(o: Outcome): string {
  if (o.type !== 'call') return o.type;
  if (o.result !== 'answered' || (o.key === null && o.billsec === null)) return o.result;
  if (o.key === '' && o.billsec === null) return 'answered_key';
  return o.billsec === null ? `answered:${o.key ?? ''}` : `answered:${o.key ?? ''}:${o.billsec}`;
}

export interface RequestFaultRates {
  http5xxRate: number;
  http429Rate: number;
  resetRate: number;
  timeoutRate: number;
}

/**
 * Draws the call result from the mix. `agent_no_answer` only exists for the
 * pbx family (the first party of a two-way call does not answer).
 */
export function drawCallResult(rng: Rng, mix: OutcomeMix, family: 'sipcall' | 'pbx'): Outcome & { type: 'call' } {
  const keys = MIX_KEYS.filter((k) => family === 'pbx' || k !== 'agent_no_answer');
  const total = keys.reduce((sum, k) => sum + mix[k], 0);
  let u = rng.next() * total;
  let chosen: MixKey = 'answered';
  for (const k of keys) {
    if (mix[k] <= 0) continue;
    chosen = k;
    if (u < mix[k]) break;
    u -= mix[k];
  }
  if (chosen === 'answered_key') return { type: 'call', result: 'answered', key: '', billsec: null };
  return { type: 'call', result: chosen, key: null, billsec: null };
}

/**
 * The outcome of an unscripted request: HTTP faults first (each drawn every
 * time, so the stream stays aligned), then the call result.
 */
export function drawOutcome(rng: Rng, mix: OutcomeMix, family: 'sipcall' | 'pbx', rates: RequestFaultRates): Outcome {
  const e500 = rng.chance(rates.http5xxRate);
  const e429 = rng.chance(rates.http429Rate);
  const reset = rng.chance(rates.resetRate);
  const timeout = rng.chance(rates.timeoutRate);
  const call = drawCallResult(rng, mix, family);
  if (e500) return { type: 'error500' };
  if (e429) return { type: 'error429' };
  if (reset) return { type: 'reset' };
  if (timeout) return { type: 'timeout' };
  return call;
}

/** How a placed call ends. */
export type Disposition = 'answered' | 'no_answer' | 'busy' | 'failed' | 'unallocated';

export interface ResolvedCall {
  disposition: Disposition;
  /** Simulated seconds from the start of the call to the answer (or to the hangup when not answered). */
  ringSec: number;
  /** Simulated seconds of conversation; 0 when not answered. */
  billsec: number;
  /** Key the callee pressed ('' when none). */
  key: string;
  /** false for `lost` and for a pbx `agent_no_answer`: the provider never sends a CDR. */
  sendCdr: boolean;
}

export interface ResolveContext {
  family: 'sipcall' | 'pbx';
  /** Whether the operation plays a voice menu (PlayVoice): only then is a key reported. */
  keyMenu: boolean;
  /** The PlayVoice routing rule (`1@extGroup-1`), whose keys are the ones worth pressing. */
  userid: string;
  /** Seconds the provider waits for an answer. */
  answerTimeoutSec: number;
}

function menuKey(rng: Rng, userid: string): string {
  const keys = [...userid.matchAll(/([0-9*#])@/g)].map((m) => m[1] ?? '1');
  return keys.length > 0 ? rng.pick(keys) : String(rng.int(1, 9));
}

/** Turns a call outcome into the durations and key that the callbacks report. */
export function resolveCall(rng: Rng, outcome: Outcome & { type: 'call' }, ctx: ResolveContext): ResolvedCall {
  const ringSec = rng.int(2, 15);
  const talk = rng.int(5, 90);
  const pressed = menuKey(rng, ctx.userid);
  const short = rng.int(0, 3);
  switch (outcome.result) {
    case 'answered':
    case 'lost': {
      let key = '';
      if (ctx.keyMenu && outcome.key !== null) key = outcome.key === '' ? pressed : outcome.key;
      return { disposition: 'answered', ringSec, billsec: outcome.billsec ?? talk, key, sendCdr: outcome.result !== 'lost' };
    }
    case 'no_answer':
      return { disposition: 'no_answer', ringSec: ctx.answerTimeoutSec, billsec: 0, key: '', sendCdr: true };
    case 'agent_no_answer':
      return { disposition: 'no_answer', ringSec: ctx.answerTimeoutSec, billsec: 0, key: '', sendCdr: ctx.family !== 'pbx' };
    case 'busy':
      return { disposition: 'busy', ringSec: Math.max(1, short), billsec: 0, key: '', sendCdr: true };
    case 'failed':
    case 'unallocated':
      return { disposition: outcome.result, ringSec: short, billsec: 0, key: '', sendCdr: true };
  }
}
