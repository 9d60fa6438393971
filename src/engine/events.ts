/**
 * Typed domain events. Metrics, the dashboard, outbound notifications and
 * tests listen to these instead of polling or sleeping.
 */
import type { AttemptOutcome, ContactStatus } from '../domain/types.js';
import type { DialOutcomeKind } from '../providers/types.js';
import { TypedEvents } from '../infra/typed-events.js';

export interface DialerEventMap {
  'attempt:dialing': [{ campaignId: string; attemptId: string }];
  'attempt:dialed': [{ campaignId: string; attemptId: string; kind: DialOutcomeKind; family: string; providerCallId: string | null }];
  'attempt:progress': [{ campaignId: string; attemptId: string; status: 'ring' | 'answer' | 'hangup' }];
  /**
   * `family` and `dialedAt` (epoch ms the dial was sent), when the emitter has the attempt at hand: they let a
   * process that did not place the call measure the time from dial to result.
   */
  'attempt:final': [{ campaignId: string; attemptId: string; outcome: AttemptOutcome; late: boolean; source: string; family?: string; dialedAt?: number }];
  'contact:final': [{ campaignId: string; contact: number; status: ContactStatus; attemptId: string | null }];
  'contact:retry': [{ campaignId: string; contact: number; at: number }];
  'callback:stored': [{ id: string; kind: string }];
  'callback:orphan': [{ id: string; kind: string; key: string }];
  'callback:duplicate': [{ campaignId: string; attemptId: string }];
  'callback:late': [{ campaignId: string; attemptId: string; outcome: AttemptOutcome }];
  'callback:malformed': [{ id: string; kind: string; reason: string }];
  'campaign:state': [{ campaignId: string; state: string; reason: string | null }];
  'campaign:completed': [{ campaignId: string }];
  /** One dial request to a provider's API, as it ended: its class (the outcome kind, `rate_limited` for a 429) and how long it took. */
  'provider:request': [{ family: string; kind: DialOutcomeKind; errorClass: ProviderErrorClass | null; seconds: number }];
}

/** How a dial request that did not place a call failed (bounded: a metric label). */
export type ProviderErrorClass = 'rejected' | 'fatal' | 'not_sent' | 'transient' | 'rate_limited' | 'in_doubt';

export type DialerEventName = keyof DialerEventMap;

export class DialerEvents extends TypedEvents<DialerEventMap> {}
