/**
 * Frequency caps: at most `count` call attempts to one number within a
 * rolling `periodMs`, counted across every campaign of the deployment
 * (`7/7d`: at most 7 attempts in any 7 days). Written as a comma-separated
 * list (`7/7d,2/1d`); every rule of the list holds at once.
 */
import { DurationError, formatDuration, parseDuration } from './duration.js';

export interface FrequencyCap {
  count: number;
  periodMs: number;
}

export class FrequencyCapError extends Error {
  readonly code = 'ERR_FREQUENCY_CAP';
}

const RULE = /^(\d+)\s*\/\s*(\S+)$/;

/** Longest period a cap may span (a year): keys expire after it. */
export const MAX_CAP_PERIOD_MS = 366 * 86_400_000;

/** Parses `7/7d,2/1d` (empty: no cap). Errors say which rule is wrong and how to write it. */
export function parseFrequencyCap(spec: string): FrequencyCap[] {
  const text = spec.trim();
  if (text === '') return [];
  const caps: FrequencyCap[] = [];
  for (const part of text.split(',')) {
    const rule = part.trim();
    const m = RULE.exec(rule);
    if (!m) throw new FrequencyCapError(`${JSON.stringify(rule)} is not a cap: write attempts/period, e.g. 7/7d or 2/1d, several separated by commas`);
    const count = Number(m[1]);
    if (!Number.isSafeInteger(count) || count < 1) throw new FrequencyCapError(`${JSON.stringify(rule)}: the number of attempts must be 1 or more`);
    let periodMs: number;
    try {
      periodMs = parseDuration(m[2] as string);
    } catch (err) {
      if (err instanceof DurationError) throw new FrequencyCapError(`${JSON.stringify(rule)}: ${err.message}`);
      throw err;
    }
    if (periodMs < 1000) throw new FrequencyCapError(`${JSON.stringify(rule)}: the period must be at least 1s`);
    if (periodMs > MAX_CAP_PERIOD_MS) throw new FrequencyCapError(`${JSON.stringify(rule)}: the period must be at most 366d`);
    caps.push({ count, periodMs });
  }
  return caps;
}

export function formatFrequencyCap(caps: readonly FrequencyCap[]): string {
  return caps.map((c) => `${c.count}/${formatDuration(c.periodMs)}`).join(',');
}

/** The longest period of a list of caps (0 without any). */
export function longestPeriod(caps: readonly FrequencyCap[]): number {
  let max = 0;
  for (const c of caps) if (c.periodMs > max) max = c.periodMs;
  return max;
}

/**
 * When the next attempt to a number is allowed, given the times (epoch ms)
 * of its attempts so far, under every cap; `nowMs` when it is allowed now.
 * The pure twin of the check the begin script makes in Redis.
 */
export function nextAllowedAt(caps: readonly FrequencyCap[], attemptTimes: readonly number[], nowMs: number): number {
  const desc = [...attemptTimes].sort((a, b) => b - a);
  let at = nowMs;
  for (const { count, periodMs } of caps) {
    const within = desc.filter((t) => t > nowMs - periodMs);
    if (within.length >= count) at = Math.max(at, (within[count - 1] as number) + periodMs);
  }
  return at;
}
