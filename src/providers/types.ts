/**
 * The one narrow interface between the dialer and a telephony provider.
 * Nothing outside `src/providers/` knows a wire format.
 */
import type { Action, CallResult, ProviderFamily } from '../domain/types.js';

export interface DialRequest {
  /** Our attempt id (customuuid): opaque, form-safe, unique per dial. */
  attemptId: string;
  /** The contact's number, already formatted the way the campaign sends it. */
  number: string;
  action: Action;
  /**
   * Operation fields from the campaign (`voicefile`, `voicetype`, `userid`,
   * `extnumber`, `disnumber`, `caller`, `context`, `caller_id`, `trunk_name`,
   * `timeout`, …), already merged with per-contact custom fields.
   */
  params: Readonly<Record<string, string>>;
}

/**
 * Every way a dial request can end, classified once.
 * - accepted: the provider took the request (providerCallId where the API returns one).
 * - rejected: a well-formed refusal or HTTP 4xx; permanent for that request.
 * - fatal: bad token / key / credentials; the campaign must pause.
 * - not_sent: the request certainly never reached the provider (connect refused/timeout, DNS).
 * - transient: the provider answered that it did not place the call (HTTP 5xx, 429).
 * - in_doubt: the request may have reached the provider (timeout or reset after write,
 *   unreadable 2xx). Never redial blindly.
 */
export type DialOutcome =
  | { kind: 'accepted'; providerCallId: string | null; detail: string }
  | { kind: 'rejected'; reason: string; httpStatus: number | null; providerCode: string | null; tooFast: boolean }
  | { kind: 'fatal'; reason: string; httpStatus: number | null; providerCode: string | null }
  | { kind: 'not_sent'; reason: string; code: string }
  | { kind: 'transient'; reason: string; httpStatus: number; retryAfterMs: number | null }
  | { kind: 'in_doubt'; reason: string; code: string; httpStatus: number | null };

export type DialOutcomeKind = DialOutcome['kind'];

export interface ProviderAdapter {
  readonly family: ProviderFamily;
  /** Actions this adapter can place. */
  readonly actions: readonly Action[];
  /** Places one call. Never throws for a provider or network failure: it classifies it. */
  dial(req: DialRequest): Promise<DialOutcome>;
  close(): Promise<void>;
}

/** How a callback is tied back to an attempt. */
export type Correlation =
  | { by: 'customuuid'; value: string }
  | { by: 'provider_call_id'; value: string }
  /** A sipcall status callback: no customuuid; tie it through the call uuid, or callee + time. */
  | { by: 'call_uuid'; value: string; callee: string | null; at: string | null };

export type ParsedCallback =
  | { kind: 'result'; family: ProviderFamily; correlation: Correlation; result: CallResult }
  | {
      kind: 'progress';
      family: ProviderFamily;
      correlation: Correlation;
      status: 'ring' | 'answer' | 'hangup';
      /** UTC ISO 8601, or null. */
      at: string | null;
    };

export type CallbackKind = 'sipcall-cdr' | 'sipcall-status' | 'pbx-cdr';

/** A parse failure names the field and says what was wrong. */
export class CallbackParseError extends Error {
  readonly code = 'ERR_CALLBACK_BODY';
  constructor(
    message: string,
    readonly field: string | null,
  ) {
    super(message);
    this.name = 'CallbackParseError';
  }
}
