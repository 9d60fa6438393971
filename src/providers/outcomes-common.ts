/**
 * What the outcome tables of both families share: the outcomes a table may
 * name, the zod schema a table file is read with, and the memo of resolved
 * tables.
 */
import { z } from 'zod';
import type { CallResult } from '../domain/types.js';

export type CallOutcome = CallResult['outcome'];

export const CALL_OUTCOMES = ['answered', 'no_answer', 'busy', 'failed', 'rejected'] as const satisfies readonly CallOutcome[];

export const callOutcomeSchema = z.enum(CALL_OUTCOMES, {
  error: (iss) => `must be one of ${CALL_OUTCOMES.join(', ')}, got ${JSON.stringify(iss.input)}`,
});

/** Zod issues as one line per issue, each naming its path. */
export function describeIssues(error: z.ZodError, root: string): string[] {
  return error.issues.map((i) => {
    // A bad record key carries its own reason one level down.
    const message = i.code === 'invalid_key' ? (i.issues[0]?.message ?? i.message) : i.message;
    return `${[root, ...i.path.map(String)].join('.')}: ${message}`;
  });
}

/**
 * A table resolver that merges each override object once: parsers ask for the
 * resolved table with every callback, and configuration is read once and not
 * changed. No overrides: the default table itself.
 */
export function memoizedResolver<O extends object, R>(defaults: R, merge: (overrides: O) => R): (overrides?: O) => R {
  const resolved = new WeakMap<O, R>();
  return (overrides) => {
    if (overrides === undefined) return defaults;
    let table = resolved.get(overrides);
    if (table === undefined) {
      table = merge(overrides);
      resolved.set(overrides, table);
    }
    return table;
  };
}
