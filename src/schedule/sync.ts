/**
 * Makes the job schedulers match the definition files: a scheduler for each
 * scheduled definition (created, or replaced when its file changed), none for
 * a definition that is gone. A file with errors keeps the scheduler of its
 * last good version; an unreadable directory changes nothing.
 */
import { basename, extname } from 'node:path';
import { formatProblem, type DefinitionProblem, type LoadedDefinitions } from './parse.js';
import { firstTickFrom } from './match.js';
import { runPayload, type RunPayload } from './runner.js';
import type { SchedulerInfo } from './queue.js';

export type SyncChangeKind = 'created' | 'updated' | 'unchanged' | 'removed' | 'kept' | 'ended' | 'not scheduled';

export interface SyncChange {
  name: string;
  change: SyncChangeKind;
  file: string | null;
  /** The next tick (epoch ms), for a scheduler in place. */
  next: number | null;
  /** The schedule's zone, when it has one. */
  timezone: string | null;
  detail: string | null;
}

export interface SyncReport {
  changes: SyncChange[];
  problems: DefinitionProblem[];
}

export interface SchedulerPort {
  schedulers(): Promise<SchedulerInfo[]>;
  put(payload: RunPayload, now: number): Promise<number | null>;
  remove(name: string): Promise<void>;
}

const nameOfFile = (file: string) => basename(file, extname(file));

export async function syncSchedulers(port: SchedulerPort, loaded: LoadedDefinitions, now: number): Promise<SyncReport> {
  const existing = new Map((await port.schedulers()).map((s) => [s.name, s]));
  const changes: SyncChange[] = [];
  const problems = loaded.problems;
  if (!loaded.readable) {
    for (const s of existing.values()) changes.push({ name: s.name, change: 'kept', file: null, next: s.next, timezone: null, detail: 'the definitions directory cannot be read' });
    return { changes, problems };
  }
  const failing = new Map<string, DefinitionProblem>();
  for (const p of problems) if (!failing.has(nameOfFile(p.file))) failing.set(nameOfFile(p.file), p);
  const seen = new Set<string>();

  for (const def of loaded.definitions) {
    seen.add(def.name);
    const payload = runPayload(def);
    const had = existing.get(def.name);
    if (!def.schedule || !payload) {
      if (had) {
        await port.remove(def.name);
        changes.push({ name: def.name, change: 'removed', file: def.file, next: null, timezone: null, detail: 'its file has no schedule any more' });
      } else {
        changes.push({ name: def.name, change: 'not scheduled', file: def.file, next: null, timezone: null, detail: def.contacts ? 'no schedule: runs only when asked (schedule run)' : 'no schedule or contacts: a definition for campaign create --definition' });
      }
      continue;
    }
    if (firstTickFrom(def.schedule, now) === null) {
      if (had) await port.remove(def.name);
      changes.push({ name: def.name, change: 'ended', file: def.file, next: null, timezone: def.schedule.timezone, detail: 'its endDate has passed' });
      continue;
    }
    if (had && had.fingerprint === def.fingerprint) {
      changes.push({ name: def.name, change: 'unchanged', file: def.file, next: had.next, timezone: def.schedule.timezone, detail: null });
      continue;
    }
    const next = await port.put(payload, now);
    changes.push({ name: def.name, change: had ? 'updated' : 'created', file: def.file, next, timezone: def.schedule.timezone, detail: null });
  }
  for (const [name, s] of existing) {
    if (seen.has(name)) continue;
    const broken = failing.get(name);
    if (broken) {
      changes.push({ name, change: 'kept', file: broken.file, next: s.next, timezone: null, detail: `its file has errors, the last good version stays scheduled (${formatProblem(broken)})` });
      continue;
    }
    await port.remove(name);
    changes.push({ name, change: 'removed', file: null, next: null, timezone: null, detail: 'no definition file any more' });
  }
  for (const name of failing.keys()) {
    if (!existing.has(name) && !seen.has(name)) changes.push({ name, change: 'not scheduled', file: failing.get(name)!.file, next: null, timezone: null, detail: 'its file has errors' });
  }
  changes.sort((a, b) => a.name.localeCompare(b.name));
  return { changes, problems };
}
