import { describe, expect, it } from 'vitest';
import { afterFailure, NotifierOptionsError, resolveNotifierOptions } from '../../src/notify/policy.js';
import { deliveryId, signBody } from '../../src/notify/signature.js';
import { createHmac } from 'node:crypto';

describe('retry policy', () => {
  const o = { backoffMs: [5_000, 30_000, 120_000], jitter: 0.2, maxTries: 5, maxAgeMs: 3_600_000 };

  it('walks the schedule, repeats its last wait, and gives up after maxTries', () => {
    const mid = () => 0.5;
    const waits = [1, 2, 3, 4].map((tries) => {
      const d = afterFailure(o, { tries, firstAt: 0, now: 0, random: mid });
      return d.kind === 'retry' ? d.at : null;
    });
    expect(waits).toEqual([5_000, 30_000, 120_000, 120_000]);
    expect(afterFailure(o, { tries: 5, firstAt: 0, now: 0, random: mid })).toEqual({ kind: 'give_up', reason: 'max_tries' });
  });

  it('spreads each wait by the jitter either side', () => {
    const low = afterFailure(o, { tries: 2, firstAt: 0, now: 1_000, random: () => 0 });
    const high = afterFailure(o, { tries: 2, firstAt: 0, now: 1_000, random: () => 1 });
    expect(low).toEqual({ kind: 'retry', at: 1_000 + 24_000 });
    expect(high).toEqual({ kind: 'retry', at: 1_000 + 36_000 });
  });

  it('gives up when the next try would come later than maxAge after the first', () => {
    expect(afterFailure(o, { tries: 2, firstAt: 0, now: 3_590_000, random: () => 0.5 })).toEqual({ kind: 'give_up', reason: 'max_age' });
    expect(afterFailure(o, { tries: 2, firstAt: 0, now: 3_560_000, random: () => 0.5 }).kind).toBe('retry');
  });

  it('rejects options with messages that name the field', () => {
    expect(() => resolveNotifierOptions({ backoffMs: [] })).toThrow(/backoffMs needs at least one wait/);
    expect(() => resolveNotifierOptions({ maxTries: 0 })).toThrow(/maxTries must be at least 1/);
    expect(() => resolveNotifierOptions({ requestTimeoutMs: 10_000, claimAfterMs: 5_000 })).toThrow(NotifierOptionsError);
    expect(() => resolveNotifierOptions({ bogus: 1 } as never)).toThrow(/bogus/);
    const d = resolveNotifierOptions();
    expect(d.backoffMs).toEqual([5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000]);
    expect(d.consumer.length).toBeGreaterThan(0);
  });
});

describe('signature', () => {
  it('is sha256= and the hex HMAC of "<timestamp>.<body>" with the secret', () => {
    const body = '{"a":"é"}';
    const expected = createHmac('sha256', 'k'.repeat(16)).update(`1700000000.${body}`).digest('hex');
    expect(signBody('k'.repeat(16), 1700000000, body)).toBe(`sha256=${expected}`);
    expect(signBody('k'.repeat(16), 1700000001, body)).not.toBe(`sha256=${expected}`);
  });

  it('names a delivery by campaign, contact and status', () => {
    expect(deliveryId('abcd1234', 7, 'answered')).toBe('abcd1234-7-answered');
    expect(deliveryId('abcd1234', 7, 'busy')).not.toBe(deliveryId('abcd1234', 7, 'answered'));
  });
});
