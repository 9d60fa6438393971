import { describe, expect, it } from 'vitest';
import { maxInSlidingWindow } from '../../src/pacing/index.js';

describe('maxInSlidingWindow', () => {
  it('is 0 for nothing and 1 for one timestamp', () => {
    expect(maxInSlidingWindow([])).toBe(0);
    expect(maxInSlidingWindow([42])).toBe(1);
  });

  it('counts half-open windows: a timestamp exactly one window later is outside', () => {
    expect(maxInSlidingWindow([0, 500, 1000])).toBe(2);
    expect(maxInSlidingWindow([0, 500, 999])).toBe(3);
  });

  it('finds the densest window anywhere, whatever the order', () => {
    const ts = [5000, 0, 100, 4100, 4200, 4300, 4999, 200, 9000];
    expect(maxInSlidingWindow(ts)).toBe(5);
    expect(maxInSlidingWindow(ts, 150)).toBe(2);
  });

  it('shows the boundary burst a fixed one-second counter allows', () => {
    // 10 per calendar second: all ten at the end of one second and ten at the start of the next
    const burst = [...Array.from({ length: 10 }, (_, i) => 990 + i), ...Array.from({ length: 10 }, (_, i) => 1000 + i)];
    expect(maxInSlidingWindow(burst)).toBe(20);
  });

  it('counts duplicates', () => {
    expect(maxInSlidingWindow([7, 7, 7, 2000])).toBe(3);
  });
});
