import { describe, expect, it } from 'vitest';
import { formatFrequencyCap, longestPeriod, nextAllowedAt, parseFrequencyCap } from '../../src/domain/frequency-cap.js';

const H = 3_600_000;
const D = 24 * H;

describe('frequency caps', () => {
  it('parses a list of attempts/period rules', () => {
    expect(parseFrequencyCap('7/7d, 2/1d')).toEqual([
      { count: 7, periodMs: 7 * D },
      { count: 2, periodMs: D },
    ]);
    expect(parseFrequencyCap('')).toEqual([]);
    expect(formatFrequencyCap(parseFrequencyCap('3/12h,1/30m'))).toBe('3/12h,1/30m');
    expect(longestPeriod(parseFrequencyCap('3/12h,7/7d,1/30m'))).toBe(7 * D);
  });

  it('says what is wrong and how to write it', () => {
    expect(() => parseFrequencyCap('7')).toThrow(/"7" is not a cap: write attempts\/period, e\.g\. 7\/7d/);
    expect(() => parseFrequencyCap('0/1d')).toThrow(/number of attempts must be 1 or more/);
    expect(() => parseFrequencyCap('2/1x')).toThrow(/"2\/1x": invalid duration/);
    expect(() => parseFrequencyCap('2/500ms')).toThrow(/at least 1s/);
    expect(() => parseFrequencyCap('2/400d')).toThrow(/at most 366d/);
  });

  it('allows the next attempt once the oldest counted one leaves every period', () => {
    const caps = parseFrequencyCap('2/1d,7/7d');
    const t0 = 1_800_000_000_000;
    expect(nextAllowedAt(caps, [], t0)).toBe(t0);
    expect(nextAllowedAt(caps, [t0 - H], t0)).toBe(t0);
    // Two today: the next one a day after the earlier of them.
    expect(nextAllowedAt(caps, [t0 - 2 * H, t0 - H], t0)).toBe(t0 - 2 * H + D);
    // Seven in the week, one a day: the weekly cap holds until the oldest is a week old.
    const week = Array.from({ length: 7 }, (_, i) => t0 - (6 - i) * D - 3 * H);
    expect(nextAllowedAt(caps, week, t0)).toBe(week[0]! + 7 * D);
    // An attempt exactly one period old no longer counts.
    expect(nextAllowedAt(parseFrequencyCap('1/1d'), [t0 - D], t0)).toBe(t0);
  });
});
