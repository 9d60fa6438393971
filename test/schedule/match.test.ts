/**
 * When schedules tick, decided by pure functions of the schedule and a given
 * time: DST days, start and end dates, intervals, the run id of a tick, the
 * overlap rule, and BullMQ's repeat strategy giving the same ticks.
 */
import { describe, expect, it } from 'vitest';
import {
  bullRepeatStrategy,
  cronProblem,
  decideTick,
  firstTickFrom,
  isTick,
  localTime,
  nextTick,
  runCampaignId,
  runName,
  runRetryDelay,
  ticksBetween,
  type ScheduleSpec,
} from '../../src/schedule/match.js';
import { isCampaignId } from '../../src/store/ids.js';

const cron = (expr: string, timezone: string, more: Partial<ScheduleSpec> = {}): ScheduleSpec => ({
  timing: { kind: 'cron', cron: expr },
  timezone,
  startMs: null,
  endMs: null,
  overlap: 'skip',
  ...more,
});
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('a daily 02:30 in America/New_York', () => {
  const spec = cron('30 2 * * *', 'America/New_York');

  it('runs once on the spring-forward day (02:30 does not exist: 03:30 EDT)', () => {
    // 2026-03-08: clocks go from 02:00 EST to 03:00 EDT.
    const ticks = ticksBetween(spec, at('2026-03-08T05:00:00Z'), at('2026-03-09T04:00:00Z'));
    expect(ticks.map(iso)).toEqual(['2026-03-08T07:30:00.000Z']);
    expect(localTime(ticks[0]!, 'America/New_York')).toBe('2026-03-08 03:30');
  });

  it('runs once on the fall-back day, and daily around both days', () => {
    // 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST.
    const day = ticksBetween(spec, at('2026-11-01T04:00:00Z'), at('2026-11-02T05:00:00Z'));
    expect(day.map(iso)).toEqual(['2026-11-01T07:30:00.000Z']);
    const week = ticksBetween(spec, at('2026-03-05T00:00:00Z'), at('2026-03-12T00:00:00Z'));
    expect(week.map((t) => localTime(t, 'America/New_York'))).toEqual([
      '2026-03-05 02:30',
      '2026-03-06 02:30',
      '2026-03-07 02:30',
      '2026-03-08 03:30',
      '2026-03-09 02:30',
      '2026-03-10 02:30',
      '2026-03-11 02:30',
    ]);
  });

  it('a time met twice on the fall-back day (01:30) runs once, at the first', () => {
    const ticks = ticksBetween(cron('30 1 * * *', 'America/New_York'), at('2026-11-01T04:00:00Z'), at('2026-11-02T04:00:00Z'));
    expect(ticks.map(iso)).toEqual(['2026-11-01T05:30:00.000Z']);
  });
});

describe('the example schedules', () => {
  it('a weekday 10:00 in Asia/Shanghai skips the weekend', () => {
    const spec = cron('0 10 * * mon-fri', 'Asia/Shanghai');
    // Friday 2026-03-06 11:00 in Shanghai → Monday 10:00.
    expect(iso(nextTick(spec, at('2026-03-06T03:00:00Z'))!)).toBe('2026-03-09T02:00:00.000Z');
  });

  it('hourly in office hours, and 09:30 in Asia/Tehran', () => {
    const hourly = ticksBetween(cron('0 9-17 * * mon-fri', 'Asia/Shanghai'), at('2026-03-09T00:00:00Z'), at('2026-03-09T16:00:00Z'));
    expect(hourly.map((t) => localTime(t, 'Asia/Shanghai').slice(11))).toEqual(['09:00', '10:00', '11:00', '12:00', '13:00', '14:00', '15:00', '16:00', '17:00']);
    const tehran = ticksBetween(cron('30 9 * * 6,0-3', 'Asia/Tehran'), at('2026-03-16T00:00:00Z'), at('2026-03-23T00:00:00Z'));
    // Monday 16 to Sunday 22: Mon, Tue, Wed, Sat, Sun (Iran's week); 09:30 is 06:00 UTC.
    expect(tehran.map(iso)).toEqual(['2026-03-16T06:00:00.000Z', '2026-03-17T06:00:00.000Z', '2026-03-18T06:00:00.000Z', '2026-03-21T06:00:00.000Z', '2026-03-22T06:00:00.000Z']);
  });

  it('a 6-field cron ticks on seconds', () => {
    const ticks = ticksBetween(cron('*/5 * * * * *', 'UTC'), at('2026-01-01T00:00:01Z'), at('2026-01-01T00:00:16Z'));
    expect(ticks.map(iso)).toEqual(['2026-01-01T00:00:05.000Z', '2026-01-01T00:00:10.000Z', '2026-01-01T00:00:15.000Z']);
  });
});

describe('start and end dates', () => {
  it('ticks lie within [start, end], both included', () => {
    const spec = cron('0 9 * * *', 'UTC', { startMs: at('2026-04-02T09:00:00Z'), endMs: at('2026-04-04T09:00:00Z') });
    expect(ticksBetween(spec, at('2026-04-01T00:00:00Z'), at('2026-04-10T00:00:00Z')).map(iso)).toEqual([
      '2026-04-02T09:00:00.000Z',
      '2026-04-03T09:00:00.000Z',
      '2026-04-04T09:00:00.000Z',
    ]);
    expect(nextTick(spec, at('2026-04-04T09:00:00Z'))).toBeNull();
    expect(firstTickFrom(spec, at('2026-03-01T00:00:00Z'))).toBe(at('2026-04-02T09:00:00Z'));
  });

  it('an interval ticks on multiples of itself from its start (the epoch without one)', () => {
    const hourly: ScheduleSpec = { timing: { kind: 'every', everyMs: 3_600_000 }, timezone: 'UTC', startMs: null, endMs: null, overlap: 'skip' };
    expect(iso(nextTick(hourly, at('2026-05-01T10:20:00Z'))!)).toBe('2026-05-01T11:00:00.000Z');
    const fromStart = { ...hourly, startMs: at('2026-05-01T10:15:00Z'), endMs: at('2026-05-01T12:15:00Z') };
    expect(ticksBetween(fromStart, at('2026-05-01T00:00:00Z'), at('2026-05-02T00:00:00Z')).map(iso)).toEqual([
      '2026-05-01T10:15:00.000Z',
      '2026-05-01T11:15:00.000Z',
      '2026-05-01T12:15:00.000Z',
    ]);
    expect(isTick(fromStart, at('2026-05-01T11:15:00Z'))).toBe(true);
    expect(isTick(fromStart, at('2026-05-01T11:16:00Z'))).toBe(false);
    expect(isTick(fromStart, at('2026-05-01T13:15:00Z'))).toBe(false);
  });
});

describe('BullMQ repeat strategy', () => {
  it('gives the ticks nextTick gives, DST day included', () => {
    const spec = cron('30 2 * * *', 'America/New_York', { endMs: at('2026-03-12T00:00:00Z') });
    const opts = { pattern: '30 2 * * *', tz: 'America/New_York', endDate: spec.endMs! };
    const viaBull: number[] = [];
    let t: number | undefined = at('2026-03-06T00:00:00Z');
    while ((t = bullRepeatStrategy(t, opts)) !== undefined) viaBull.push(t);
    expect(viaBull).toEqual(ticksBetween(spec, at('2026-03-06T00:00:00Z'), at('2026-03-12T00:00:00Z')));
    expect(viaBull).toHaveLength(6);
  });
});

describe('a tick and its run', () => {
  it('has one campaign id per definition and tick, in the form of a campaign id', () => {
    const t = at('2026-03-09T02:00:00Z');
    const id = runCampaignId('weekday-reminder', t);
    expect(isCampaignId(id)).toBe(true);
    expect(runCampaignId('weekday-reminder', t)).toBe(id);
    expect(runCampaignId('weekday-reminder', t + 1000)).not.toBe(id);
    expect(runCampaignId('callback-hourly', t)).not.toBe(id);
    const ids = new Set(Array.from({ length: 2000 }, (_, i) => runCampaignId('every-minute', t + i * 60_000)));
    expect(ids.size).toBe(2000);
  });

  it('is named by its definition and its local time', () => {
    expect(runName('weekday-reminder', at('2026-03-09T02:00:00Z'), 'Asia/Shanghai')).toBe('weekday-reminder 2026-03-09 10:00');
    expect(runName('fast', at('2026-03-09T02:00:05Z'), 'UTC')).toBe('fast 2026-03-09 02:00:05');
  });

  it('is skipped while an earlier run is active, unless parallel or asked for by hand', () => {
    expect(decideTick({ overlap: 'skip', manual: false, activeEarlierRuns: 0 })).toBe('run');
    expect(decideTick({ overlap: 'skip', manual: false, activeEarlierRuns: 1 })).toBe('skip');
    expect(decideTick({ overlap: 'parallel', manual: false, activeEarlierRuns: 3 })).toBe('run');
    expect(decideTick({ overlap: 'skip', manual: true, activeEarlierRuns: 1 })).toBe('run');
  });

  it('that cannot start is tried again after 30s, 2m, 10m', () => {
    expect([1, 2, 3, 4].map(runRetryDelay)).toEqual([30_000, 120_000, 600_000, 600_000]);
  });
});

describe('cron expressions', () => {
  it('are 5 or 6 fields, each problem saying what to write', () => {
    expect(cronProblem('0 10 * * 1-5')).toBeNull();
    expect(cronProblem('*/5 * * * * *')).toBeNull();
    expect(cronProblem('0 10 * *')).toMatch(/5 fields .* or 6 with seconds first.*got 4/);
    expect(cronProblem('0 0 10 * * * 2026')).toMatch(/got 7/);
    expect(cronProblem('@daily')).toMatch(/got 1/);
    expect(cronProblem('H 10 * * *')).toMatch(/H is not supported/);
    expect(cronProblem('0 10 * * thu')).toBeNull();
    expect(cronProblem('0 9 * * sat-wed')).toMatch(/write sat-wed as 6,0-3/);
    expect(cronProblem('61 * * * *')).toMatch(/not a cron expression/);
  });
});
