/**
 * Durations as people write them on a command line or in a campaign file:
 * `500ms`, `30s`, `5m`, `2h`, `1d`, combined from the largest unit to the
 * smallest (`1h30m`, `1d12h`), or a bare number of seconds (`90`, `1.5`).
 * Parsed into whole milliseconds.
 */

export type DurationErrorReason = 'empty' | 'syntax' | 'unit_order' | 'too_large' | 'not_finite';

export class DurationError extends Error {
  readonly code = 'ERR_DURATION';
  constructor(
    message: string,
    /** What was given, as given. */
    readonly input: string,
    readonly reason: DurationErrorReason,
  ) {
    super(message);
    this.name = 'DurationError';
  }
}

const UNITS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
] as const;
type Unit = (typeof UNITS)[number][0];

const UNIT_MS: Record<Unit, number> = Object.fromEntries(UNITS) as Record<Unit, number>;
const UNIT_RANK: Record<Unit, number> = Object.fromEntries(UNITS.map(([u], i) => [u, i])) as Record<Unit, number>;

const ACCEPTED =
  'write a number of seconds (30) or numbers with units ms, s, m, h, d, ' +
  'alone or combined from the largest unit to the smallest (500ms, 30s, 5m, 2h, 1d, 1h30m)';

const BARE_SECONDS = /^\d+(?:\.\d+)?$/;
/** One `<number><unit>` component; `ms` is tried before `m`. */
const COMPONENT = /(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)\s*/y;

function fail(input: string, reason: DurationErrorReason, what: string): never {
  throw new DurationError(`invalid duration ${JSON.stringify(input)}: ${what}; ${ACCEPTED}`, input, reason);
}

function checked(input: string, ms: number): number {
  const rounded = Math.round(ms);
  if (!Number.isSafeInteger(rounded)) fail(input, 'too_large', 'it is too large');
  return rounded;
}

/** Parses a duration into milliseconds; throws a DurationError saying what is accepted. */
export function parseDuration(text: string): number {
  const input = text;
  const s = text.trim().toLowerCase();
  if (s === '') fail(input, 'empty', 'it is empty');
  if (BARE_SECONDS.test(s)) return checked(input, Number(s) * 1000);

  COMPONENT.lastIndex = 0;
  let total = 0;
  let lastRank = -1;
  let pos = 0;
  while (pos < s.length) {
    COMPONENT.lastIndex = pos;
    const m = COMPONENT.exec(s);
    if (!m) {
      const rest = s.slice(pos);
      fail(input, 'syntax', pos === 0 ? 'it is not a duration' : `${JSON.stringify(rest)} is not understood`);
    }
    const unit = m[2] as Unit;
    const rank = UNIT_RANK[unit];
    if (rank <= lastRank) fail(input, 'unit_order', `unit "${unit}" is repeated or out of order`);
    lastRank = rank;
    total += Number(m[1]) * UNIT_MS[unit];
    pos = COMPONENT.lastIndex;
  }
  return checked(input, total);
}

/** Formats milliseconds the way parseDuration reads them: `1h30m`, `500ms`, `0s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) {
    throw new DurationError(`cannot format ${String(ms)} as a duration: give a finite number of milliseconds`, String(ms), 'not_finite');
  }
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return '0s';
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      parts.push(`${n}${unit}`);
      rest -= n * size;
    }
  }
  return (ms < 0 ? '-' : '') + parts.join('');
}
