/** Reads the seeds' payloads from fixtures/seeds/. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../../../fixtures/seeds/', import.meta.url));

export function seedText(name: string): string {
  return readFileSync(`${dir}${name}`, 'utf8');
}

export function seedJson(name: string): unknown {
  return JSON.parse(seedText(name));
}

export function seedRecord(name: string): Record<string, unknown> {
  const v = seedJson(name);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${name} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** A 32-character token, as the provider requires. */
export const TOKEN = 'T0kenT0kenT0kenT0kenT0kenT0ken32';

/** What the HTTP layer hands over for a form-encoded POST of these fields: the body encoded, then parsed back. */
export function asFormFields(o: Record<string, unknown>): Record<string, string> {
  const encoded = new URLSearchParams(Object.entries(o).map(([k, v]): [string, string] => [k, String(v)])).toString();
  return Object.fromEntries(new URLSearchParams(encoded));
}
