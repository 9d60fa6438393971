/**
 * Scripted outcomes per number, consumed one entry per attempt (the last
 * entry repeats), and the per-number attempt counters that key each
 * request's random stream.
 */
import { SimulatorError } from './options.js';
import { parseOutcome, SCRIPT_ENTRY_HELP } from './outcomes.js';
import type { Outcome } from './outcomes.js';

interface Track {
  entries: Outcome[];
  next: number;
}

export class ScriptBook {
  private scripts = new Map<string, Track>();
  private attempts = new Map<string, number>();

  constructor(private readonly initial: Readonly<Record<string, readonly string[]>>) {
    this.reset();
  }

  /** Replaces the script of one number; throws a SimulatorError naming a bad entry. */
  set(number: string, outcomes: readonly string[]): void {
    if (number === '') throw new SimulatorError('ERR_SIM_SCRIPT', 'a script number must not be empty');
    if (outcomes.length === 0) throw new SimulatorError('ERR_SIM_SCRIPT', `script for ${number} needs at least one outcome`);
    const entries = outcomes.map((o, i) => {
      const parsed = parseOutcome(o);
      if (parsed === null) {
        throw new SimulatorError(
          'ERR_SIM_SCRIPT',
          `script for ${number}, entry ${i + 1}: unknown outcome ${JSON.stringify(o)}: use one of ${SCRIPT_ENTRY_HELP}`,
        );
      }
      return parsed;
    });
    this.scripts.set(number, { entries, next: 0 });
  }

  /** The next scripted outcome for a number, or null when it has no script. */
  take(number: string): Outcome | null {
    const track = this.scripts.get(number);
    if (track === undefined) return null;
    const entry = track.entries[Math.min(track.next, track.entries.length - 1)] ?? null;
    track.next++;
    return entry;
  }

  /** Counts an attempt on a key; returns how many came before it. */
  attempt(key: string): number {
    const n = this.attempts.get(key) ?? 0;
    this.attempts.set(key, n + 1);
    return n;
  }

  /** Back to the scripts given at start-up, every counter at zero. */
  reset(): void {
    this.scripts.clear();
    this.attempts.clear();
    for (const [number, outcomes] of Object.entries(this.initial)) this.set(number, outcomes);
  }
}
