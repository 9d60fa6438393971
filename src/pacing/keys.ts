/**
 * Redis key names of the pacer, all under `${prefix}:pace:`. Ids are used
 * as they are: every key ends in a fixed suffix without a colon, so two ids
 * can never name the same key.
 */
export interface AccountKeys {
  limits: string;
  /** Last reserved slot (µs). */
  last: string;
  /** Sorted set attemptId → hold expiry (epoch ms). */
  holds: string;
  /** Hash: cut rate, when it was cut, blocked until. */
  backoff: string;
  /** Sorted set campaignId → last seen (ms): campaigns waiting on this account. */
  active: string;
  /** Hash campaignId → the campaign's own cps, as last seen. */
  campaignCps: string;
  /** Hash campaignId → the campaign's fair-share theoretical arrival time on this account (µs). */
  shareLast: string;
  /** Sorted set attemptId → send time (µs): what left in the last second. */
  sent: string;
}

export interface CampaignKeys {
  limits: string;
  last: string;
  holds: string;
  /** Set of accounts the campaign has acquired on. */
  accounts: string;
  /** Sorted set attemptId → send time (µs): what left in the last second. */
  sent: string;
}

export function accountKeys(prefix: string, account: string): AccountKeys {
  const base = `${prefix}:pace:acct:${account}`;
  return {
    limits: `${base}:limits`,
    last: `${base}:last`,
    holds: `${base}:holds`,
    backoff: `${base}:backoff`,
    active: `${base}:active`,
    campaignCps: `${base}:campcps`,
    shareLast: `${base}:sharelast`,
    sent: `${base}:sent`,
  };
}

const campaignBase = (prefix: string, campaignId: string) => `${prefix}:pace:camp:${campaignId}`;

/** A SCAN pattern matching every pacing key of one campaign (for deleting it). */
export function campaignKeysPattern(prefix: string, campaignId: string): string {
  return `${campaignBase(prefix, campaignId)}:*`;
}

export function campaignKeys(prefix: string, campaignId: string): CampaignKeys {
  const base = campaignBase(prefix, campaignId);
  return {
    limits: `${base}:limits`,
    last: `${base}:last`,
    holds: `${base}:holds`,
    accounts: `${base}:accounts`,
    sent: `${base}:sent`,
  };
}
