/**
 * What the readers of the environment share: config.ts (the only reader of
 * process.env) and the per-area modules beside their domains, to which it
 * passes its `get`. Each problem names its variable and says what to write;
 * it is pushed to the caller's list, so that every problem is told at once.
 */
import { z } from 'zod';

/** A variable's value, trimmed; undefined when unset or blank. */
export type EnvGet = (name: string) => string | undefined;

/** A whole number from `min` to `max`. */
export const intIn = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${name} must be between ${min} and ${max}`);

/**
 * The value read by `schema`, or `fallback` when unset (or when it cannot be
 * read, the problem pushed to `problems`).
 */
export function pick<T>(problems: string[], name: string, schema: z.ZodType<T>, value: string | undefined, fallback: T): T;
export function pick<T>(problems: string[], name: string, schema: z.ZodType<T>, value: string | undefined): T | undefined;
export function pick<T>(problems: string[], name: string, schema: z.ZodType<T>, value: string | undefined, fallback?: T) {
  if (value === undefined || value === '') return fallback;
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  problems.push(`${name}: ${r.error.issues.map((i) => i.message).join('; ')} (got ${JSON.stringify(value)})`);
  return fallback;
}
