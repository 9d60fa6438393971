/**
 * The PBX outcome table: Asterisk CDR `disposition` → outcome, with a
 * fallback for dispositions not in the table. Overridable by a partial table.
 */
import { z } from 'zod';
import { callOutcomeSchema, describeIssues, memoizedResolver, type CallOutcome } from '../outcomes-common.js';

export interface PbxDispositionTable {
  /** disposition (e.g. "NO ANSWER"; case and spacing do not matter) → outcome. */
  outcomes?: Readonly<Record<string, CallOutcome>>;
  /** Outcome of a disposition not in the table. */
  fallback?: CallOutcome;
}

export interface ResolvedPbxDispositionTable {
  /** Keys normalized (upper case, single spaces). */
  outcomes: Readonly<Record<string, CallOutcome>>;
  fallback: CallOutcome;
}

export const DEFAULT_PBX_DISPOSITIONS: ResolvedPbxDispositionTable = {
  outcomes: {
    ANSWERED: 'answered',
    'NO ANSWER': 'no_answer',
    BUSY: 'busy',
    FAILED: 'failed',
    CONGESTION: 'failed',
  },
  fallback: 'failed',
};

/** "no answer", "NO_ANSWER", " No  Answer " → "NO ANSWER". */
export function normalizeDisposition(d: string): string {
  return d.trim().replace(/[\s_]+/g, ' ').toUpperCase();
}

/** The default table with `overrides` merged over it, disposition keys normalized (each override object merged once). */
export const resolvePbxDispositions: (overrides?: PbxDispositionTable) => ResolvedPbxDispositionTable = memoizedResolver(DEFAULT_PBX_DISPOSITIONS, mergePbxDispositions);

function mergePbxDispositions(overrides: PbxDispositionTable): ResolvedPbxDispositionTable {
  const extra = Object.entries(overrides.outcomes ?? {}).map(([k, v]) => [normalizeDisposition(k), v] as const);
  return {
    outcomes: { ...DEFAULT_PBX_DISPOSITIONS.outcomes, ...Object.fromEntries(extra) },
    fallback: overrides.fallback ?? DEFAULT_PBX_DISPOSITIONS.fallback,
  };
}

const TableSchema = z.strictObject({
  outcomes: z.record(z.string().min(1, 'a disposition key must not be empty'), callOutcomeSchema).optional(),
  fallback: callOutcomeSchema.optional(),
});

export function parsePbxDispositionTable(raw: unknown, source = 'pbx disposition table'): PbxDispositionTable {
  const r = TableSchema.safeParse(raw);
  if (r.success) return r.data;
  throw new Error(describeIssues(r.error, source).join('\n'));
}

export function pbxOutcome(disposition: string, table: ResolvedPbxDispositionTable = DEFAULT_PBX_DISPOSITIONS): CallOutcome {
  const key = normalizeDisposition(disposition);
  return table.outcomes[key] ?? (key === 'NOANSWER' ? table.outcomes['NO ANSWER'] : undefined) ?? table.fallback;
}
