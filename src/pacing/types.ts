/**
 * Pacing: calls per second and concurrent channels, per provider account and
 * per campaign, shared by every worker process through Redis.
 */

/** cps 0 or maxConcurrent 0 means "no limit". */
export interface PaceLimits {
  cps: number;
  maxConcurrent: number;
}

export interface AcquireRequest {
  /** Provider account (the provider family: one account per configured provider). */
  account: string;
  campaignId: string;
  /** The attempt that will hold a channel until it is released or `holdUntilMs` passes. */
  attemptId: string;
  /** Epoch ms (Redis time) until which the channel is held unless released earlier. */
  holdUntilMs: number;
}

export type AcquireBlock = 'campaign_rate' | 'account_rate' | 'campaign_channels' | 'account_channels' | 'backoff';

export type AcquireResult =
  /** Send after waiting `waitMs` (a slot reserved for this attempt; 0 = now); `rated`: a cps limit applied. */
  | { ok: true; waitMs: number; rated?: boolean }
  /** Nothing reserved; ask again in `retryInMs`. */
  | { ok: false; retryInMs: number; reason: AcquireBlock };

export interface Pacer {
  acquire(req: AcquireRequest): Promise<AcquireResult>;
  /**
   * The last check right before a request leaves: admitted (and logged as in
   * flight) when no provider's second could then hold more than the
   * campaign's or the account's cps, else how long to wait. Catches a sender
   * that woke late after its reserved slot. `flightMs` bounds the time from
   * admission to arrival (the request timeout; default: the pacer's).
   * Every admitted send must be `landed` once its exchange has ended.
   */
  admit(account: string, campaignId: string, attemptId: string, flightMs?: number): Promise<{ ok: true } | { ok: false; retryInMs: number }>;
  /**
   * The exchange of an admitted send has ended, whatever its outcome: the send
   * is counted for one more second from now (instead of until its flight bound).
   */
  landed(account: string, campaignId: string, attemptId: string): Promise<void>;
  /**
   * An admitted send that will not leave after all (its attempt was refused
   * when it was recorded): it leaves the send logs, freeing its place at once.
   */
  withdraw(account: string, campaignId: string, attemptId: string): Promise<void>;
  /** Moves a held channel's expiry (e.g. once the provider accepted the call). */
  extend(account: string, campaignId: string, attemptId: string, holdUntilMs: number): Promise<void>;
  /** Frees the channel held by an attempt (idempotent). */
  release(account: string, campaignId: string, attemptId: string): Promise<void>;
  /**
   * The provider said "too fast" (429 or equivalent): slow the account down, recover gradually.
   * A 429 taken as sporadic (docs/pacing.md) changes nothing but its Retry-After's block.
   */
  penalize(account: string, retryAfterMs: number | null): Promise<void>;
  setAccountLimits(account: string, limits: PaceLimits): Promise<void>;
  getAccountLimits(account: string): Promise<PaceLimits>;
  setCampaignLimits(campaignId: string, limits: PaceLimits): Promise<void>;
  getCampaignLimits(campaignId: string): Promise<PaceLimits>;
  /** Channels currently held. */
  inFlight(account: string, campaignId: string): Promise<{ account: number; campaign: number }>;
  /** Removes a campaign's pacing keys (campaign finished or deleted). */
  forgetCampaign(campaignId: string): Promise<void>;
}
