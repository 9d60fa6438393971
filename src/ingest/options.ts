/**
 * Reading options, validated once at the edge. The data part is a zod schema
 * (unknown keys rejected); the progress hook is passed beside it.
 */
import iconv from 'iconv-lite';
import { isSupportedCountry } from 'libphonenumber-js/max';
import { z } from 'zod';
import { IngestError } from './errors.js';
import { NUMBER_FORMATS } from './types.js';
import type { IngestProgress, NumberFormat } from './types.js';

export const DEFAULT_MAX_ROW_BYTES = 1024 * 1024;
export const DEFAULT_PROGRESS_EVERY = 1000;

const DELIMITER_NAMES: Record<string, string> = { comma: ',', semicolon: ';', tab: '\t', pipe: '|', '\\t': '\t' };

const columnName = (what: string) => z.string().trim().min(1, `${what} must name a column of the header`);

export const readOptionsSchema = z.strictObject({
  fileName: z.string().min(1, 'fileName must not be empty (it names the file in messages)'),
  encoding: z
    .string()
    .trim()
    .min(1)
    .refine((e) => iconv.encodingExists(e), {
      message: 'encoding is not one iconv-lite knows; use utf8, utf16le, utf16be, gb18030, gbk or windows-1256',
    })
    .optional(),
  delimiter: z
    .string()
    .transform((d) => DELIMITER_NAMES[d.toLowerCase()] ?? d)
    .refine((d) => d.length === 1 && !['"', '\r', '\n'].includes(d), {
      message: 'delimiter must be one character other than a quote or a line break (for example , ; | or tab)',
    })
    .optional(),
  phoneColumn: columnName('phoneColumn').optional(),
  timezoneColumn: columnName('timezoneColumn').optional(),
  customColumns: z
    .record(
      z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'customColumns keys must be provider field names such as userid'),
      columnName('customColumns values'),
    )
    .optional(),
  region: z
    .string()
    .trim()
    .toUpperCase()
    .refine((r) => /^[A-Z]{2}$/.test(r) && isSupportedCountry(r), {
      message: 'region must be a two-letter region code such as CN or IR (or null for a loose check)',
    })
    .nullable()
    .optional(),
  numberFormat: z
    .enum(NUMBER_FORMATS, { message: `numberFormat must be one of ${NUMBER_FORMATS.join(', ')}` })
    .default('e164'),
  allowExtensions: z.boolean().default(false),
  maxRowBytes: z
    .number()
    .int()
    .min(256, 'maxRowBytes must be at least 256')
    .max(64 * 1024 * 1024, 'maxRowBytes must be at most 64 MiB')
    .default(DEFAULT_MAX_ROW_BYTES),
  progressEvery: z.number().int().min(1, 'progressEvery must be at least 1').default(DEFAULT_PROGRESS_EVERY),
});

export interface ReadHooks {
  /** Called every `progressEvery` rows and once when the file is done. */
  onProgress?: (progress: IngestProgress) => void;
}

/** Options as given by a caller. */
export type ReadOptions = z.input<typeof readOptionsSchema> & ReadHooks;

/** Options after validation and defaults. */
export interface ResolvedReadOptions {
  fileName: string;
  encoding: string | null;
  delimiter: string | null;
  phoneColumn: string | null;
  timezoneColumn: string | null;
  customColumns: Record<string, string> | null;
  region: string | null;
  numberFormat: NumberFormat;
  allowExtensions: boolean;
  maxRowBytes: number;
  progressEvery: number;
  onProgress: ((progress: IngestProgress) => void) | null;
}

export function resolveReadOptions(options: ReadOptions): ResolvedReadOptions {
  const { onProgress, ...data } = options;
  const parsed = readOptionsSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`);
    const name = typeof data.fileName === 'string' && data.fileName !== '' ? data.fileName : null;
    throw new IngestError('invalid_options', `invalid reading options: ${problems.join('; ')}`, name);
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new IngestError('invalid_options', 'invalid reading options: onProgress must be a function', parsed.data.fileName);
  }
  const o = parsed.data;
  return {
    fileName: o.fileName,
    encoding: o.encoding ?? null,
    delimiter: o.delimiter ?? null,
    phoneColumn: o.phoneColumn ?? null,
    timezoneColumn: o.timezoneColumn ?? null,
    customColumns: o.customColumns ?? null,
    region: o.region ?? null,
    numberFormat: o.numberFormat,
    allowExtensions: o.allowExtensions,
    maxRowBytes: o.maxRowBytes,
    progressEvery: o.progressEvery,
    onProgress: onProgress ?? null,
  };
}
