import { describe, expect, it } from 'vitest';
import { DurationError, formatDuration, parseDuration } from '../../src/domain/duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1d2h3m4s5ms', 86_400_000 + 7_200_000 + 180_000 + 4_000 + 5],
    ['1h 30m', 5_400_000],
    ['1m500ms', 60_500],
    ['1.5h', 5_400_000],
    ['90', 90_000],
    ['1.5', 1_500],
    ['0', 0],
    ['0s', 0],
    ['  10S ', 10_000],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['', 'empty'],
    ['   ', 'empty'],
    ['5x', 'syntax'],
    ['abc', 'syntax'],
    ['-5s', 'syntax'],
    ['5 minutes', 'syntax'],
    ['1h30', 'syntax'],
    ['m5', 'syntax'],
    ['30m1h', 'unit_order'],
    ['5m5m', 'unit_order'],
    ['1s1ms1s', 'unit_order'],
    ['99999999999999999999d', 'too_large'],
  ] as const)('rejects %j (%s) saying what was given and what is accepted', (text, reason) => {
    let caught: unknown;
    try {
      parseDuration(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DurationError);
    const err = caught as DurationError;
    expect(err.code).toBe('ERR_DURATION');
    expect(err.reason).toBe(reason);
    expect(err.input).toBe(text);
    expect(err.message).toContain(JSON.stringify(text));
    expect(err.message).toContain('1h30m');
    expect(err.message).toContain('number of seconds');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [30_000, '30s'],
    [5_400_000, '1h30m'],
    [86_400_000 + 7_200_000, '1d2h'],
    [60_500, '1m500ms'],
    [-90_000, '-1m30s'],
    [1_499.6, '1s500ms'],
  ])('%d ms is %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('is read back by parseDuration', () => {
    for (const ms of [1, 999, 1_000, 59_999, 60_000, 3_599_999, 86_400_001, 1_234_567_890]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });

  it('refuses a non-finite number', () => {
    expect(() => formatDuration(Number.POSITIVE_INFINITY)).toThrow(DurationError);
    expect(() => formatDuration(Number.NaN)).toThrow(/finite/);
  });
});
