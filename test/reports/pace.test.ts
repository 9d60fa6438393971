import { describe, expect, it } from 'vitest';
import { explainPace, fairShare, formatPace, formatRate, type PaceFacts } from '../../src/reports/pace.js';

/** Wednesday 2026-03-04 22:30 in Shanghai. */
const NOW = Date.parse('2026-03-04T22:30:00+08:00');

/** A campaign of 20/s and 10 channels on an account of 50/s and 30 channels, running at its target with contacts waiting. */
function facts(over: {
  state?: PaceFacts['state'];
  pausedReason?: string | null;
  rateNow?: number | null;
  rateWindowS?: number;
  definedCps?: number;
  campaign?: Partial<PaceFacts['campaign']>;
  account?: Partial<PaceFacts['account']>;
  work?: Partial<PaceFacts['work']>;
  window?: Partial<PaceFacts['window']>;
} = {}): PaceFacts {
  return {
    nowMs: NOW,
    state: over.state ?? 'running',
    pausedReason: over.pausedReason ?? null,
    rateNow: over.rateNow === undefined ? 19.8 : over.rateNow,
    rateWindowS: over.rateWindowS ?? 10,
    definedCps: over.definedCps ?? 20,
    campaign: { limits: { cps: 20, maxConcurrent: 10 }, inUse: 4, ...over.campaign },
    account: { name: 'sipcall', limits: { cps: 50, maxConcurrent: 30 }, inUse: 4, effectiveCps: 50, blockedForMs: 0, others: [], ...over.account },
    work: { waiting: 500, scheduled: 0, nextDueAt: null, frequencyCapped: null, ...over.work },
    window: { open: true, opensAt: NOW, zone: 'Asia/Shanghai', ...over.window },
  };
}

const held = (f: PaceFacts) => explainPace(f).heldBy;

describe('explainPace: what holds a campaign', () => {
  it('not held when it runs at its target', () => {
    const p = explainPace(facts());
    expect(p).toEqual({ rateNow: 19.8, targetRate: 20, channels: { inUse: 4, cap: 10, capSource: 'campaign' }, heldBy: { kind: 'not_held', text: 'not held' } });
    expect(formatPace(p, 'sipcall')).toBe('rate 19.8/s of 20/s, channels 4/10 (campaign), not held');
  });

  it("the campaign's channels, full", () => {
    const p = explainPace(facts({ rateNow: 6.9, campaign: { inUse: 10 } }));
    expect(p.heldBy).toEqual({ kind: 'campaign_channels', text: 'held by channels 10/10 (campaign)' });
    expect(formatPace(p, 'sipcall')).toBe('rate 6.9/s of 20/s, held by channels 10/10 (campaign)');
  });

  it('channels one short of the cap hold a campaign under its target, not one at it', () => {
    expect(held(facts({ rateNow: 6.9, campaign: { inUse: 9 } })).kind).toBe('campaign_channels');
    expect(held(facts({ rateNow: 19.9, campaign: { inUse: 9 } })).kind).toBe('not_held');
  });

  it("the account's channels, full with other campaigns' calls", () => {
    const p = explainPace(facts({ rateNow: 3, campaign: { inUse: 5 }, account: { inUse: 30 } }));
    expect(p.heldBy).toEqual({ kind: 'account_channels', text: 'held by channels 30/30 (account sipcall)' });
    expect(p.channels).toEqual({ inUse: 30, cap: 30, capSource: 'account' });
  });

  it("the account's rate shared with other campaigns", () => {
    const p = explainPace(facts({ rateNow: 12.4, account: { others: [0, 0, 0] } }));
    expect(p.heldBy).toEqual({ kind: 'account_rate', text: 'held by account sipcall 50/s shared with 3 other campaigns' });
    expect(formatPace(p, 'sipcall')).toBe('rate 12.4/s of 20/s, channels 4/10 (campaign), held by account sipcall 50/s shared with 3 other campaigns');
  });

  it('an account shared with campaigns slower than their even share leaves this one its own rate', () => {
    // 50/s: two campaigns of 5/s keep 5 each, 40 left for this one (20/s): not held.
    expect(held(facts({ account: { others: [5, 5] } })).kind).toBe('not_held');
    expect(fairShare(50, 20, [5, 5])).toBe(20);
    expect(fairShare(50, 0, [5, 5])).toBe(40);
    expect(fairShare(50, 0, [0, 0, 0, 0])).toBe(10);
    expect(fairShare(0, 20, [0])).toBe(Number.POSITIVE_INFINITY);
  });

  it("a rate at the account's limit is held by the account, not by channels that happen to be full at that instant", () => {
    const account = { limits: { cps: 10, maxConcurrent: 0 }, effectiveCps: 10 };
    expect(held(facts({ rateNow: 9.9, campaign: { inUse: 10 }, account })).kind).toBe('account_rate');
    expect(held(facts({ rateNow: 9.9, campaign: { inUse: 9 }, account })).kind).toBe('account_rate');
    // Under what the account gives: the full channels are what holds it.
    expect(held(facts({ rateNow: 6, campaign: { inUse: 9 }, account })).kind).toBe('campaign_channels');
    // Not measured: what the pacer would refuse for first.
    expect(held(facts({ rateNow: null, campaign: { inUse: 10 }, account })).kind).toBe('campaign_channels');
  });

  it('an account slower than the campaign, alone on it', () => {
    expect(held(facts({ rateNow: 9.9, account: { limits: { cps: 10, maxConcurrent: 0 }, effectiveCps: 10 } }))).toEqual({ kind: 'account_rate', text: 'held by account sipcall 10/s' });
  });

  it('a provider 429 back-off: the rate cut, or a Retry-After blocking', () => {
    expect(held(facts({ rateNow: 11, account: { effectiveCps: 12.5 } }))).toEqual({
      kind: 'backoff',
      text: 'held by provider 429 back-off (account sipcall at 12.5/s of 50/s)',
    });
    expect(held(facts({ rateNow: 2, account: { blockedForMs: 2400 } }))).toEqual({ kind: 'backoff', text: 'held by provider 429 back-off (account sipcall blocked for 3 s)' });
    // Recovering above what the campaign asks for: the back-off no longer holds it.
    expect(held(facts({ account: { effectiveCps: 35 } })).kind).toBe('not_held');
    // The pacer's own word wins when it gives one.
    expect(held(facts({ account: { effectiveCps: 12.5, backoffActive: false } })).kind).toBe('account_rate');
    // An account with no cps of its own, slowed to the rate a 429 came at: it holds a campaign that asks for more, not one that asks for less.
    const learned = { limits: { cps: 0, maxConcurrent: 0 }, effectiveCps: 12, backoffActive: true };
    expect(held(facts({ rateNow: 11.9, account: learned }))).toEqual({ kind: 'backoff', text: 'held by provider 429 back-off (account sipcall at 12/s)' });
    expect(held(facts({ rateNow: 4.9, campaign: { limits: { cps: 5, maxConcurrent: 10 } }, definedCps: 5, account: learned })).kind).toBe('not_held');
  });

  it('the calling window, closed in the campaign zone, with when it opens in local time', () => {
    const opens = Date.parse('2026-03-05T09:00:00+08:00');
    const p = explainPace(facts({ rateNow: 0, campaign: { inUse: 0 }, work: { waiting: 0, scheduled: 800, nextDueAt: opens }, window: { open: false, opensAt: opens } }));
    expect(p.heldBy).toEqual({ kind: 'calling_window', text: 'held by calling window (opens Thu 09:00 Asia/Shanghai)' });
    const sameDay = Date.parse('2026-03-04T23:00:00+08:00');
    expect(held(facts({ work: { waiting: 0, scheduled: 1 }, window: { open: false, opensAt: sameDay } })).text).toBe('held by calling window (opens 23:00 Asia/Shanghai)');
    const nextWeek = Date.parse('2026-03-16T09:00:00+08:00');
    expect(held(facts({ work: { waiting: 0, scheduled: 1 }, window: { open: false, opensAt: nextWeek } })).text).toBe(
      'held by calling window (opens 2026-03-16 09:00 Asia/Shanghai)',
    );
    expect(held(facts({ work: { waiting: 0, scheduled: 1 }, window: { open: false, opensAt: null } })).text).toBe('held by calling window (closed for good)');
  });

  it('a closed window does not hold contacts due now (those of other zones)', () => {
    expect(held(facts({ work: { waiting: 40, scheduled: 800 }, window: { open: false, opensAt: NOW + 3_600_000 } })).kind).toBe('not_held');
  });

  it('a frequency cap: contacts waiting for their number', () => {
    expect(held(facts({ work: { waiting: 0, scheduled: 12, frequencyCapped: 12 } }))).toEqual({
      kind: 'frequency_cap',
      text: "held by frequency cap (12 contacts wait for their number's cap)",
    });
    expect(held(facts({ work: { waiting: 0, scheduled: 1, frequencyCapped: 1 } })).text).toBe("held by frequency cap (1 contact waits for its number's cap)");
  });

  it('waiting for retries, then nothing left to dial', () => {
    const next = Date.parse('2026-03-04T22:35:00+08:00');
    expect(held(facts({ work: { waiting: 0, scheduled: 30, nextDueAt: next } }))).toEqual({ kind: 'waiting_retries', text: 'waiting for retries (next due 22:35 Asia/Shanghai)' });
    expect(held(facts({ work: { waiting: 0 }, campaign: { inUse: 3 } }))).toEqual({ kind: 'nothing_to_dial', text: 'nothing left to dial (3 calls in progress)' });
    expect(held(facts({ work: { waiting: 0 }, campaign: { inUse: 0 } }))).toEqual({ kind: 'nothing_to_dial', text: 'nothing left to dial' });
    expect(held(facts({ state: 'importing', work: { waiting: 0 }, campaign: { inUse: 0 } })).text).toBe('nothing to dial yet (import in progress)');
  });

  it('paused, with its reason; finished', () => {
    expect(held(facts({ state: 'paused', pausedReason: 'provider rejected the credentials' }))).toEqual({ kind: 'paused', text: 'paused (provider rejected the credentials)' });
    expect(held(facts({ state: 'paused' })).text).toBe('paused');
    expect(held(facts({ state: 'completed', rateNow: 0 }))).toEqual({ kind: 'finished', text: 'completed' });
    expect(held(facts({ state: 'cancelled' })).text).toBe('cancelled');
  });

  it("the campaign's own rate, lowered since it was defined", () => {
    const p = explainPace(facts({ rateNow: 5, campaign: { limits: { cps: 5, maxConcurrent: 10 } } }));
    expect(p.targetRate).toBe(20);
    expect(p.heldBy).toEqual({ kind: 'campaign_rate', text: 'held by its own rate 5/s (lowered from 20/s)' });
    expect(held(facts({ rateNow: 5, definedCps: 0, campaign: { limits: { cps: 5, maxConcurrent: 10 } } })).text).toBe('held by its own rate 5/s (lowered from no limit)');
    // Raised since: the new rate is the target.
    expect(explainPace(facts({ rateNow: 29.7, campaign: { limits: { cps: 30, maxConcurrent: 10 } } })).targetRate).toBe(30);
  });

  it('under its target with no limit holding it: the workers', () => {
    expect(held(facts({ rateNow: 8 }))).toEqual({ kind: 'workers', text: 'below target with no limit holding it (workers busy or too few)' });
    // Measured over the few seconds since the start, the ramp counts in the mean.
    expect(held(facts({ rateNow: 8, rateWindowS: 3 }))).toEqual({ kind: 'starting', text: 'dialing just started' });
    // Not measured: nothing to say against the limits.
    expect(held(facts({ rateNow: null })).kind).toBe('not_held');
  });

  it('no limit anywhere: no target, no cap', () => {
    const p = explainPace(
      facts({ rateNow: 140, definedCps: 0, campaign: { limits: { cps: 0, maxConcurrent: 0 } }, account: { limits: { cps: 0, maxConcurrent: 0 }, effectiveCps: 0 } }),
    );
    expect(p).toMatchObject({ targetRate: null, channels: { inUse: 4, cap: null, capSource: null }, heldBy: { kind: 'not_held' } });
    expect(formatPace(p, 'sipcall')).toBe('rate 140/s (no rate limit), channels 4 (no cap), not held');
    expect(formatPace({ ...p, rateNow: null }, 'sipcall')).toBe('target no rate limit, channels 4 (no cap), not held');
    expect(formatPace(explainPace(facts({ rateNow: null })), 'sipcall')).toBe('target 20/s, channels 4/10 (campaign), not held');
  });

  it('a campaign without a rate of its own takes its account rate as target', () => {
    const p = explainPace(facts({ rateNow: 49.6, definedCps: 0, campaign: { limits: { cps: 0, maxConcurrent: 0 } } }));
    expect(p.targetRate).toBe(50);
    expect(p.heldBy.text).toBe('held by account sipcall 50/s');
  });

  it('rates written short', () => {
    expect([20, 6.94, 0.5, 0.25, 0.333, 12.5].map(formatRate)).toEqual(['20', '6.9', '0.5', '0.25', '0.33', '12.5']);
  });
});
