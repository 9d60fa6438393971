/**
 * The notifier's options as the environment gives them (AUTODIALER_NOTIFY_*,
 * AUTODIALER_WEBHOOK_PRIVATE_ADDRESSES). config.ts, the only reader of the
 * environment, passes its reader in; every problem names its variable.
 */
import { DurationError, parseDuration } from '../domain/duration.js';
import { NotifierOptionsError, resolveNotifierOptions, type NotifierOptionsInput } from './policy.js';

type Kind = 'duration' | 'durations' | 'int' | 'number' | 'policy';

/** Each variable, the option it sets, and how it is written. */
export const NOTIFY_ENV: readonly { name: string; option: keyof NotifierOptionsInput; kind: Kind }[] = [
  { name: 'AUTODIALER_NOTIFY_BACKOFF', option: 'backoffMs', kind: 'durations' },
  { name: 'AUTODIALER_NOTIFY_JITTER', option: 'jitter', kind: 'number' },
  { name: 'AUTODIALER_NOTIFY_MAX_TRIES', option: 'maxTries', kind: 'int' },
  { name: 'AUTODIALER_NOTIFY_MAX_AGE', option: 'maxAgeMs', kind: 'duration' },
  { name: 'AUTODIALER_NOTIFY_CONNECT_TIMEOUT', option: 'connectTimeoutMs', kind: 'duration' },
  { name: 'AUTODIALER_NOTIFY_REQUEST_TIMEOUT', option: 'requestTimeoutMs', kind: 'duration' },
  { name: 'AUTODIALER_NOTIFY_CONCURRENCY', option: 'concurrency', kind: 'int' },
  { name: 'AUTODIALER_NOTIFY_CONNECTIONS_PER_ORIGIN', option: 'connectionsPerOrigin', kind: 'int' },
  { name: 'AUTODIALER_NOTIFY_CLAIM_AFTER', option: 'claimAfterMs', kind: 'duration' },
  { name: 'AUTODIALER_NOTIFY_LEASE', option: 'leaseMs', kind: 'duration' },
  { name: 'AUTODIALER_NOTIFY_DEAD_LETTER_LIMIT', option: 'deadLetterLimit', kind: 'int' },
  { name: 'AUTODIALER_WEBHOOK_PRIVATE_ADDRESSES', option: 'privateAddresses', kind: 'policy' },
];

const INT = /^\d+$/;
const NUMBER = /^\d+(?:\.\d+)?$/;

function read(kind: Kind, text: string): number | number[] | string {
  switch (kind) {
    case 'duration':
      return parseDuration(text);
    case 'durations':
      return text.split(',').map((part) => parseDuration(part.trim()));
    case 'int':
      if (!INT.test(text)) throw new Error('must be a whole number');
      return Number(text);
    case 'number':
      if (!NUMBER.test(text)) throw new Error('must be a number such as 0.2');
      return Number(text);
    case 'policy':
      return text.toLowerCase();
  }
}

/**
 * The notifier options the environment sets (unset variables keep the
 * defaults), checked as the notifier will check them: a value out of range,
 * or timeouts that do not fit together, is a problem pushed to `problems`.
 */
export function notifierOptionsFromEnv(get: (name: string) => string | undefined, problems: string[]): NotifierOptionsInput {
  const input: Record<string, unknown> = {};
  const nameOf = new Map<string, string>();
  let readable = true;
  for (const v of NOTIFY_ENV) {
    nameOf.set(v.option, v.name);
    const text = get(v.name);
    if (text === undefined) continue;
    try {
      input[v.option] = read(v.kind, text);
    } catch (err) {
      const why = err instanceof DurationError ? err.message : `${v.name} ${(err as Error).message}`;
      problems.push(`${v.name}: ${why} (got ${JSON.stringify(text)})`);
      readable = false;
    }
  }
  if (!readable) return {};
  // Checked as the notifier checks them (ranges, and limits that must fit together); its messages
  // name options (maxAgeMs, "maxAgeMs: …"), here they name the variables.
  const named = (message: string) => message.replace(/\b[a-z][a-zA-Z]*\b/g, (word) => nameOf.get(word) ?? word);
  const options = input as NotifierOptionsInput;
  try {
    resolveNotifierOptions(options);
  } catch (err) {
    if (!(err instanceof NotifierOptionsError)) throw err;
    for (const p of err.problems) problems.push(named(p));
    return {};
  }
  return options;
}
