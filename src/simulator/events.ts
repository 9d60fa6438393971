/** Typed events the simulator emits; tests await them instead of sleeping. */
import type { CallbackBody, CallbackKind } from './callbacks.js';
import type { Family, LedgerEntry } from './ledger.js';

export interface CallbackEvent {
  kind: CallbackKind;
  family: Family;
  /** Path and query the callback was posted to. */
  path: string;
  body: CallbackBody;
  /** Posts made, retries included. */
  attempts: number;
  number: string;
  customuuid: string | null;
  /** sipcall call uuid, or pbx originated_call_id. */
  callId: string;
}

export interface SimulatorEvents {
  /** A dial request was received and answered (or held, or reset). */
  request: [entry: LedgerEntry];
  'callback:sent': [event: CallbackEvent];
  'callback:failed': [event: CallbackEvent & { error: string }];
  /** No callback is pending any more. */
  idle: [];
}
