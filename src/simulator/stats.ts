/** Counters the simulator keeps for the whole run, whatever the ledger holds. */
import { LEDGER_ANSWERS } from './ledger.js';
import type { LedgerAnswer, Operation } from './ledger.js';
import { SlidingWindow } from './window.js';

export const REQUEST_KINDS = ['PlayVoice', 'MakeCall', 'DoubleCall', 'originate', 'unknown'] as const;
export type RequestKind = Operation | 'unknown';

export interface SimulatorStats {
  /** Dial requests received (sipcall and pbx endpoints). */
  requestsTotal: number;
  requests: Record<RequestKind, number>;
  answers: Record<LedgerAnswer, number>;
  callsPlaced: number;
  callbacksPosted: number;
  callbacksFailed: number;
  /** Callback posts that needed another attempt. */
  callbackRetries: number;
  /** Callbacks never posted because no callbackUrl is set. */
  callbacksSkipped: number;
  /** Calls whose callbacks are still to be posted. */
  callbacksPending: number;
  cpsCap: number;
  /** Requests refused with 429 because the cps cap was reached. */
  cpsViolations: number;
  /** Most dial requests that arrived within any sliding second. */
  maxInAnySecond: number;
  /** Most calls placed within any sliding second. */
  maxPlacedInAnySecond: number;
  ledgerSize: number;
  ledgerDropped: number;
  /** true when the in-memory ledger no longer holds every request. */
  ledgerTruncated: boolean;
  ledgerFileError: string | null;
}

export class StatsCounters {
  requestsTotal = 0;
  requests: Record<RequestKind, number> = emptyRequests();
  answers: Record<LedgerAnswer, number> = emptyAnswers();
  callsPlaced = 0;
  callbacksPosted = 0;
  callbacksFailed = 0;
  callbackRetries = 0;
  callbacksSkipped = 0;
  cpsViolations = 0;
  readonly arrivals = new SlidingWindow(1000);
  readonly placed = new SlidingWindow(1000);

  reset(): void {
    this.requestsTotal = 0;
    this.requests = emptyRequests();
    this.answers = emptyAnswers();
    this.callsPlaced = 0;
    this.callbacksPosted = 0;
    this.callbacksFailed = 0;
    this.callbackRetries = 0;
    this.callbacksSkipped = 0;
    this.cpsViolations = 0;
    this.arrivals.clear();
    this.placed.clear();
  }
}

function emptyRequests(): Record<RequestKind, number> {
  return { PlayVoice: 0, MakeCall: 0, DoubleCall: 0, originate: 0, unknown: 0 };
}

function emptyAnswers(): Record<LedgerAnswer, number> {
  return Object.fromEntries(LEDGER_ANSWERS.map((a) => [a, 0])) as Record<LedgerAnswer, number>;
}
