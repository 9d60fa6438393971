import { describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { wallClockToUtc } from '../../src/providers/callback-fields.js';

describe('provider wall-clock times', () => {
  it('convert exactly as luxon does, through a whole year of clock changes in several zones', () => {
    for (const zone of ['Asia/Shanghai', 'America/New_York', 'Europe/Berlin', 'Asia/Tehran', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Asia/Kathmandu']) {
      for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += 37 * 60_000 + 13_000) {
        const local = DateTime.fromMillis(t, { zone }).toFormat('yyyy-MM-dd HH:mm:ss');
        const want = DateTime.fromFormat(local, 'yyyy-MM-dd HH:mm:ss', { zone }).toUTC().toISO();
        expect(wallClockToUtc(local, zone)).toBe(want);
        // Written with a T, the same time; asked again (from the memo), the same answer.
        expect(wallClockToUtc(local.replace(' ', 'T'), zone)).toBe(want);
        expect(wallClockToUtc(local, zone)).toBe(want);
      }
    }
  }, 120_000);

  it('refuses impossible dates with the field named', () => {
    expect(() => wallClockToUtc('2026-02-30 10:00:00', 'Asia/Shanghai', 'answertime', 'sipcall CDR')).toThrow(/answertime/);
    expect(() => wallClockToUtc('10/02/2026 10:00', 'Asia/Shanghai', 'endtime', 'sipcall CDR')).toThrow(/endtime/);
  });
});
