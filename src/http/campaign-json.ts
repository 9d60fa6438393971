/**
 * `POST /campaigns` with a JSON body: a definition with the fields of a
 * jobs/ file whose `contacts` is an http(s) URL (fetched once, under the
 * webhooks' rule on private addresses, with a size and time limit) or the
 * rows themselves, keyed like CSV headers. The rows become the CSV the
 * import reads, so a JSON list is checked exactly as an uploaded one.
 */
import { Readable } from 'node:stream';
import type { FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';
import { DefinitionError } from '../campaign/definition.js';
import { csvCell } from '../reports/export.js';
import type { OpenedContacts } from '../schedule/contacts.js';
import type { campaignJsonBody } from './api-schemas.js';

export type CampaignJsonBody = z.input<typeof campaignJsonBody>;
type Row = Record<string, string | number | boolean | null>;

/** Largest JSON body of `POST /campaigns` (a longer list goes as a CSV upload or a URL). */
export const DEFAULT_JSON_BODY_BYTES = 16 * 2 ** 20;

const cell = (v: string | number | boolean | null | undefined): string => csvCell(v === null || v === undefined ? '' : String(v));

/** The rows as CSV text: the columns in the order they first appear, a row without one leaves it empty. */
export function rowsToCsv(rows: readonly Row[]): string {
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    for (const k of Object.keys(r)) {
      if (!seen.has(k)) {
        seen.add(k);
        columns.push(k);
      }
    }
  }
  const lines = [columns.map(cell).join(',')];
  for (const r of rows) lines.push(columns.map((c) => cell(r[c])).join(','));
  return `${lines.join('\n')}\n`;
}

/** The contacts of a JSON definition, opened: the URL fetched, or the rows as CSV. */
export async function openJsonContacts(contacts: CampaignJsonBody['contacts'], openUrl: (url: string) => Promise<OpenedContacts>): Promise<OpenedContacts> {
  if (typeof contacts === 'string') return openUrl(contacts);
  return { source: Readable.from([Buffer.from(rowsToCsv(contacts), 'utf8')]), fileName: 'contacts.json' };
}

/**
 * Checks a body against its zod schema and leaves it as sent (the
 * definition is parsed once more, with the deployment's defaults, by the
 * handler: a parsed one would be parsed twice). A body that does not fit
 * is a DefinitionError naming every field.
 */
export const checkOnly: FastifySchemaCompiler<z.ZodType> =
  ({ schema, httpPart }) =>
  (data: unknown) => {
    const r = schema.safeParse(data);
    // Params and query: parsed (whole numbers, defaults); a ZodError answers 400 naming the field.
    if (httpPart !== 'body') return r.success ? { value: r.data } : { error: r.error };
    if (r.success) return { value: data };
    const problems = r.error.issues.flatMap((i) => {
      const where = i.path.map(String).join('.');
      if (i.code === 'unrecognized_keys') {
        return i.keys.map((k) => (k === 'schedule' ? 'schedule: a schedule is a file in the jobs directory, not an API request: remove it' : `${where ? `${where}.` : ''}${k}: unknown field: remove it or correct its spelling`));
      }
      return [where && !i.message.startsWith(where) ? `${where}: ${i.message}` : i.message];
    });
    return { error: new DefinitionError(problems) };
  };
