/**
 * What the outcome tables of both families share: the outcomes a table may
 * name, and the zod schema a table file is read with.
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
