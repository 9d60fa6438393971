/**
 * How a contact row is written in Redis: JSON without what the row's own
 * cells already say. The dial form is left out when it is the dedupe key,
 * and the dial form, the zone and each custom field are written as the index
 * of the cell they repeat (trimmed) when they do. A list of a million rows
 * keeps a million of these, so every byte saved here is a megabyte there.
 */
import { z } from 'zod';
import type { ContactRow } from './contacts.js';

const cellOrText = z.union([z.string(), z.number().int().min(0)]);

/** The row as stored: values may be cell indexes. Rows written before this codec read the same. */
export const storedRowSchema = z.object({
  l: z.number().int(),
  v: z.array(z.string()),
  d: cellOrText.optional(),
  e: z.string().optional(),
  z: cellOrText.nullable().optional(),
  c: z.record(z.string(), cellOrText).optional(),
});

export class RowCodecError extends Error {
  readonly code = 'ERR_ROW_CODEC';
}

function cellIndex(values: string[], text: string): number {
  for (let i = 0; i < values.length; i++) if (values[i]!.trim() === text) return i;
  return -1;
}

/** The stored text of a row. */
export function packRow(row: ContactRow): string {
  const { v } = row;
  const ref = (text: string): string | number => {
    const i = cellIndex(v, text);
    return i >= 0 ? i : text;
  };
  const out: Record<string, unknown> = { l: row.l, v };
  if (row.e !== undefined) out.e = row.e;
  if (row.d !== undefined && row.d !== row.e) out.d = ref(row.d);
  if (row.z !== undefined && row.z !== null) out.z = ref(row.z);
  if (row.c && Object.keys(row.c).length > 0) {
    const c: Record<string, string | number> = {};
    for (const [field, value] of Object.entries(row.c)) c[field] = ref(value);
    out.c = c;
  }
  return JSON.stringify(out);
}

/** A stored row (already JSON-parsed) back to a ContactRow; throws a RowCodecError naming what is wrong. */
export function unpackRow(value: unknown): ContactRow {
  const parsed = storedRowSchema.safeParse(value);
  if (!parsed.success) throw new RowCodecError(parsed.error.issues.map((i) => `${i.path.join('.') || 'row'}: ${i.message}`).join('; '));
  const s = parsed.data;
  const cell = (ref: string | number, field: string): string => {
    if (typeof ref === 'string') return ref;
    const text = s.v[ref];
    if (text === undefined) throw new RowCodecError(`${field} names cell ${ref}, but the row has ${s.v.length}`);
    return text.trim();
  };
  const row: ContactRow = { l: s.l, v: s.v };
  if (s.e !== undefined) row.e = s.e;
  if (s.d !== undefined) row.d = cell(s.d, 'd');
  else if (s.e !== undefined) row.d = s.e;
  if (s.z !== undefined && s.z !== null) row.z = cell(s.z, 'z');
  if (s.c) {
    const c: Record<string, string> = {};
    for (const [field, ref] of Object.entries(s.c)) c[field] = cell(ref, `c.${field}`);
    row.c = c;
  }
  return row;
}
