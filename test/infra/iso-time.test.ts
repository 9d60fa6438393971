/** The ISO text of a time without a Date: the same text as Date#toISOString, every time. */
import { describe, expect, it } from 'vitest';
import { isoOfMs } from '../../src/infra/iso-time.js';

describe('isoOfMs', () => {
  it('writes what toISOString writes: edges of days, leap days, centuries, the years it hands over', () => {
    const edges = [
      0,
      1,
      999,
      59_999,
      86_399_999,
      86_400_000,
      Date.UTC(2000, 1, 29, 23, 59, 59, 999),
      Date.UTC(2100, 1, 28, 12),
      Date.UTC(2100, 2, 1),
      Date.UTC(2400, 1, 29),
      Date.UTC(2026, 11, 31, 23, 59, 59, 999),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      // Handed to Date: six digits of year, before 1970, not a whole millisecond.
      Date.UTC(10000, 0, 1),
      -1,
      -86_400_001,
      1.5,
    ];
    for (const t of edges) expect(isoOfMs(t), String(t)).toBe(new Date(t).toISOString());
  });

  it('agrees with toISOString over 200,000 times spread over 1970–9999', () => {
    let seed = 42;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const mismatches: number[] = [];
    for (let i = 0; i < 200_000; i++) {
      const t = Math.floor(next() * 253_402_300_800_000);
      if (isoOfMs(t) !== new Date(t).toISOString()) mismatches.push(t);
    }
    expect(mismatches).toEqual([]);
  });
});
