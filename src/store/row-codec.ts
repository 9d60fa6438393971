/**
 * How a contact row is written in Redis: JSON without what the row's own
 * cells already say. The dial form is left out when it is the dedupe key,
 * and the dial form, the zone and each custom field are written as the index
 * of the cell they repeat (trimmed) when they do. A list of a million rows
 * keeps a million of these, so every byte saved here is a megabyte there.
 */
import type { ContactRow } from './contacts.js';

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

/** A stored value that may name a cell: text, or a cell index. */
function isCellOrText(x: unknown): x is string | number {
  return typeof x === 'string' || (typeof x === 'number' && Number.isInteger(x) && x >= 0);
}

function refTo(v: readonly string[], ref: string | number, field: string): string {
  if (typeof ref === 'string') return ref;
  const text = v[ref];
  if (text === undefined) throw new RowCodecError(`${field} names cell ${ref}, but the row has ${v.length}`);
  return text.trim();
}

/**
 * A stored row (already JSON-parsed) back to a ContactRow; throws a
 * RowCodecError naming every field that is wrong. Checked by hand, not by a
 * schema library: it runs for every contact dialed and archived.
 *   { l: whole number, v: text[], d?: text | cell, e?: text, z?: text | cell | null, c?: { field: text | cell } }
 */
export function unpackRow(value: unknown): ContactRow {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RowCodecError('row: not an object');
  const s = value as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof s.l !== 'number' || !Number.isInteger(s.l)) problems.push('l: not a whole number');
  const v = s.v;
  if (!Array.isArray(v)) problems.push('v: not a list of cells');
  else for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') problems.push(`v.${i}: not text`);
  if (s.d !== undefined && !isCellOrText(s.d)) problems.push('d: not text or a cell index');
  if (s.e !== undefined && typeof s.e !== 'string') problems.push('e: not text');
  if (s.z !== undefined && s.z !== null && !isCellOrText(s.z)) problems.push('z: not text or a cell index');
  const c = s.c;
  if (c !== undefined) {
    if (typeof c !== 'object' || c === null || Array.isArray(c)) problems.push('c: not an object');
    else for (const field in c) if (!isCellOrText((c as Record<string, unknown>)[field])) problems.push(`c.${field}: not text or a cell index`);
  }
  if (problems.length > 0) throw new RowCodecError(problems.join('; '));
  const cells = v as string[];
  const row: ContactRow = { l: s.l as number, v: cells };
  if (s.e !== undefined) row.e = s.e as string;
  if (s.d !== undefined) row.d = refTo(cells, s.d as string | number, 'd');
  else if (s.e !== undefined) row.d = s.e as string;
  if (s.z !== undefined && s.z !== null) row.z = refTo(cells, s.z as string | number, 'z');
  if (c !== undefined) {
    const out: Record<string, string> = {};
    const refs = c as Record<string, string | number>;
    for (const field in refs) out[field] = refTo(cells, refs[field]!, `c.${field}`);
    row.c = out;
  }
  return row;
}
