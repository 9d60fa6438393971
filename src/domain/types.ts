/**
 * The dialer's shared vocabulary. Pure types: no I/O, no wire formats.
 */

export const PROVIDER_FAMILIES = ['sipcall', 'pbx'] as const;
export type ProviderFamily = (typeof PROVIDER_FAMILIES)[number];

export const ACTIONS = ['playvoice', 'makecall', 'doublecall', 'originate'] as const;
export type Action = (typeof ACTIONS)[number];

/** Which family serves which action. */
export const ACTION_FAMILY: Record<Action, ProviderFamily> = {
  playvoice: 'sipcall',
  makecall: 'sipcall',
  doublecall: 'sipcall',
  originate: 'pbx',
};

/** Final outcome of one attempt (one dial of one contact). */
export const ATTEMPT_OUTCOMES = [
  'answered',
  'no_answer',
  'busy',
  'failed',
  'rejected',
  'no_result',
  'in_doubt',
  'cancelled',
  'expired',
] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/**
 * Lifecycle of an attempt; it only moves forward.
 * queued → dialing → accepted → ringing → answered → final
 * (`not_sent` ends an attempt whose request certainly never reached the provider.)
 */
export const ATTEMPT_STATES = ['queued', 'dialing', 'accepted', 'ringing', 'answered', 'final', 'not_sent'] as const;
export type AttemptState = (typeof ATTEMPT_STATES)[number];

/** Status of a contact as shown in status counts and the results export. */
export const CONTACT_STATUSES = [
  'pending',
  'answered',
  'no_answer',
  'busy',
  'failed',
  'rejected',
  'no_result',
  'in_doubt',
  'invalid',
  'duplicate',
  'dnc',
  'expired',
  'cancelled',
] as const;
export type ContactStatus = (typeof CONTACT_STATUSES)[number];
export type FinalContactStatus = Exclude<ContactStatus, 'pending'>;

export const CAMPAIGN_STATES = ['importing', 'running', 'paused', 'completed', 'cancelled'] as const;
export type CampaignState = (typeof CAMPAIGN_STATES)[number];

/** Normalized result of a call, whatever the provider family. */
export interface CallResult {
  outcome: Exclude<AttemptOutcome, 'no_result' | 'in_doubt' | 'cancelled' | 'expired'>;
  billsec: number;
  /** UTC ISO 8601, or null when the call was not answered. */
  answeredAt: string | null;
  /** UTC ISO 8601, or null when unknown. */
  endedAt: string | null;
  /** Raw hangup cause (sipcall `hangupcause`, pbx `disposition`), as received. */
  hangupCause: string | null;
  /** Raw hangup direction (sipcall only). */
  hangupDirection: string | null;
  /** Key pressed by the callee (PlayVoice `userkey`), '' when none. */
  userKey: string | null;
  /** Provider's own id of the call (sipcall `uuid`, pbx `uniqueid`). */
  providerCallId: string | null;
}
