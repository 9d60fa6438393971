/**
 * ISO 8601 UTC text of a time, as `Date.prototype.toISOString` writes it,
 * without making a Date: the archiver and the attempt records format several
 * times per row, and a Date with its ISO text costs several times the
 * arithmetic. Outside years 1970–9999 (and for a time that is not a whole
 * millisecond) the Date's own text is used.
 */

/** "00" … "99". */
const TWO: readonly string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : String(i)));
const THREE: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

const MS_PER_DAY = 86_400_000;
/** 10000-01-01T00:00:00Z: the first time toISOString writes with six digits of year. */
const YEAR_10000 = 253_402_300_800_000;

/** `YYYY-MM-DD` of days since 1970-01-01 (proleptic Gregorian; H. Hinnant's civil_from_days). */
function civil(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${y}-${TWO[m]}-${TWO[d]}`;
}

/** The last day written and its text: the times of one row are mostly of one day (a pure memo: the text depends on the day alone). */
let lastDay = -1;
let lastDate = '';

/** The ISO text of a time in milliseconds since the epoch, e.g. `2026-12-06T21:40:50.123Z`. */
export function isoOfMs(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms >= YEAR_10000) return new Date(ms).toISOString();
  const days = Math.floor(ms / MS_PER_DAY);
  if (days !== lastDay) {
    lastDate = civil(days);
    lastDay = days;
  }
  let rest = ms - days * MS_PER_DAY;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const min = Math.floor(rest / 60_000);
  rest -= min * 60_000;
  const s = Math.floor(rest / 1000);
  return `${lastDate}T${TWO[h]}:${TWO[min]}:${TWO[s]}.${THREE[rest - s * 1000]}Z`;
}
