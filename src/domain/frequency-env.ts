/**
 * The deployment's frequency caps as the environment sets them
 * (AUTODIALER_FREQUENCY_CAP, AUTODIALER_FREQUENCY_HISTORY), checked together.
 * config.ts, the only reader of the environment, passes its reader in; every
 * problem names its variable.
 */
import { DurationError, formatDuration, parseDuration } from './duration.js';
import { FrequencyCapError, longestPeriod, parseFrequencyCap, type FrequencyCap } from './frequency-cap.js';

export interface FrequencyConfig {
  /** The caps of every campaign (none by default). */
  caps: FrequencyCap[];
  /** How long each number's attempts are kept to count them (default: the longest cap period, at least 1d; 0 keeps none). */
  historyMs: number;
}

export function frequencyFromEnv(get: (name: string) => string | undefined, problems: string[]): FrequencyConfig {
  let caps: FrequencyCap[] = [];
  const spec = get('AUTODIALER_FREQUENCY_CAP');
  if (spec !== undefined) {
    try {
      caps = parseFrequencyCap(spec);
    } catch (err) {
      if (!(err instanceof FrequencyCapError)) throw err;
      problems.push(`AUTODIALER_FREQUENCY_CAP: ${err.message}`);
    }
  }
  let historyMs = Math.max(longestPeriod(caps), 86_400_000);
  const history = get('AUTODIALER_FREQUENCY_HISTORY');
  if (history !== undefined) {
    try {
      historyMs = parseDuration(history);
      if (historyMs < longestPeriod(caps)) {
        problems.push(
          `AUTODIALER_FREQUENCY_HISTORY: ${JSON.stringify(history)} is shorter than the longest period of AUTODIALER_FREQUENCY_CAP (${formatDuration(longestPeriod(caps))}): attempts would be forgotten before they stop counting`,
        );
      }
    } catch (err) {
      if (!(err instanceof DurationError)) throw err;
      problems.push(`AUTODIALER_FREQUENCY_HISTORY: ${err.message}`);
    }
  }
  return { caps, historyMs };
}
