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
  'attempt:final': [{ campaignId: string; attemptId: string; outcome: AttemptOutcome; late: boolean; source: string }];
  'contact:final': [{ campaignId: string; contact: number; status: ContactStatus; attemptId: string | null }];
  'contact:retry': [{ campaignId: string; contact: number; at: number }];
  'callback:stored': [{ id: string; kind: string }];
  'callback:orphan': [{ id: string; kind: string; key: string }];
  'callback:duplicate': [{ campaignId: string; attemptId: string }];
  'callback:late': [{ campaignId: string; attemptId: string; outcome: AttemptOutcome }];
  'callback:malformed': [{ id: string; kind: string; reason: string }];
  'campaign:state': [{ campaignId: string; state: string; reason: string | null }];
  'campaign:completed': [{ campaignId: string }];
}

export type DialerEventName = keyof DialerEventMap;

export class DialerEvents extends TypedEvents<DialerEventMap> {}
