/**
 * The sipcall outcome table: answered when the CDR has an answer time and
 * billed seconds; otherwise by `hangupcause` (Q.850-style codes), with a
 * fallback for codes not in the table. Overridable by a partial table.
 */
import { z } from 'zod';
import { callOutcomeSchema, describeIssues, memoizedResolver, type CallOutcome } from '../outcomes-common.js';

/** A table as configured: every part optional, merged over the default. */
export interface SipcallOutcomeTable {
  /** hangupcause (decimal text) → outcome. */
  causes?: Readonly<Record<string, CallOutcome>>;
  /** Outcome of an unanswered call whose cause is not in `causes` (or absent). */
  fallback?: CallOutcome;
}

export interface ResolvedSipcallOutcomeTable {
  causes: Readonly<Record<string, CallOutcome>>;
  fallback: CallOutcome;
}

const causes = (outcome: CallOutcome, codes: number[]): [string, CallOutcome][] => codes.map((c) => [String(c), outcome]);

export const DEFAULT_SIPCALL_OUTCOMES: ResolvedSipcallOutcomeTable = {
  causes: Object.fromEntries([
    ...causes('busy', [17]),
    ...causes('no_answer', [18, 19, 480]),
    ...causes('failed', [1, 3, 21, 22, 27, 28, 31, 34, 38, 41, 42, 127]),
  ]),
  fallback: 'no_answer',
};

/** The default table with `overrides` merged over it, cause by cause (each override object merged once). */
export const resolveSipcallOutcomes: (overrides?: SipcallOutcomeTable) => ResolvedSipcallOutcomeTable = memoizedResolver(DEFAULT_SIPCALL_OUTCOMES, mergeSipcallOutcomes);

function mergeSipcallOutcomes(overrides: SipcallOutcomeTable): ResolvedSipcallOutcomeTable {
  return {
    causes: { ...DEFAULT_SIPCALL_OUTCOMES.causes, ...(overrides.causes ?? {}) },
    fallback: overrides.fallback ?? DEFAULT_SIPCALL_OUTCOMES.fallback,
  };
}

const TableSchema = z.strictObject({
  causes: z.record(z.string().regex(/^\d+$/, 'a hangupcause key must be a whole number such as "17"'), callOutcomeSchema).optional(),
  fallback: callOutcomeSchema.optional(),
});

/** Reads a table override (e.g. from a JSON file); throws with one line per problem. */
export function parseSipcallOutcomeTable(raw: unknown, source = 'sipcall outcome table'): SipcallOutcomeTable {
  const r = TableSchema.safeParse(raw);
  if (r.success) return r.data;
  throw new Error(describeIssues(r.error, source).join('\n'));
}

export interface SipcallCdrFacts {
  /** UTC ISO answer time, or null when the CDR has none. */
  answeredAt: string | null;
  billsec: number;
  hangupCause: string | null;
}

export function sipcallOutcome(facts: SipcallCdrFacts, table: ResolvedSipcallOutcomeTable = DEFAULT_SIPCALL_OUTCOMES): CallOutcome {
  if (facts.answeredAt !== null && facts.billsec > 0) return 'answered';
  if (facts.hangupCause === null) return table.fallback;
  return table.causes[facts.hangupCause] ?? table.fallback;
}
