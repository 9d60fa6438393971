/**
 * Deciding, from the first ~64 KB of a contact list, how to read it: its
 * encoding, its delimiter and Excel's `sep=` line; or refusing it (empty,
 * binary, undecodable).
 */
import { completeLines, detectDelimiter, measureSample, readSepLine } from './delimiter.js';
import { canonicalEncoding, decodeSample, detectEncoding } from './encoding.js';
import { IngestError } from './errors.js';
import type { ResolvedReadOptions } from './options.js';
import { binarySignature, looksBinary, looksUndecodable, textQuality } from './sniff.js';
import type { Peeked } from './source.js';
import type { DelimiterSource, EncodingSource, ListHeader } from './types.js';

export interface TextPlan {
  encoding: string;
  encodingSource: EncodingSource;
  delimiter: string;
  delimiterSource: DelimiterSource;
  /** Characters of Excel's `sep=` line to drop (0 when none). */
  sepLength: number;
  sample: ListHeader['sample'];
}

/** Decides encoding and delimiter from the peeked bytes, or refuses the file. */
export function planText(peeked: Peeked, o: ResolvedReadOptions): TextPlan {
  const file = o.fileName;
  const { bytes, complete } = peeked;
  if (bytes.length === 0) {
    throw new IngestError('empty_file', `${file} is empty: a contact list needs a header row, then one row per contact`, file);
  }
  const signature = binarySignature(bytes);
  if (signature !== null) {
    throw new IngestError('binary_file', `${file} is ${signature.what}, not a CSV file: ${signature.fix}`, file);
  }
  const { encoding, source } =
    o.encoding !== null ? { encoding: canonicalEncoding(o.encoding), source: 'named' as const } : detectEncoding(bytes, complete);
  const text = decodeSample(bytes, encoding, complete);
  const quality = textQuality(text);
  if (looksBinary(quality)) {
    throw new IngestError(
      'binary_file',
      `${file} holds binary data (${quality.controls} control characters in its first ${text.length} characters), not CSV text: export the contacts as CSV`,
      file,
    );
  }
  if (looksUndecodable(quality)) {
    throw new IngestError(
      'undecodable',
      `${file} does not decode as ${encoding}: ${quality.replacements} of its first ${quality.chars} characters are invalid; ` +
        'name its encoding with --encoding (utf8, utf16le, gb18030, gbk, windows-1256)',
      file,
    );
  }
  if (complete && text.trim() === '') {
    throw new IngestError('empty_file', `${file} holds only blank lines: a contact list needs a header row, then one row per contact`, file);
  }
  const sep = readSepLine(text);
  const body = completeLines(sep === null ? text : text.slice(sep.length), complete);
  let delimiter: string;
  let delimiterSource: DelimiterSource;
  if (o.delimiter !== null) {
    delimiter = o.delimiter;
    delimiterSource = 'named';
  } else if (sep !== null) {
    delimiter = sep.delimiter;
    delimiterSource = 'sep_line';
  } else {
    const detected = detectDelimiter(body);
    delimiter = detected ?? ',';
    delimiterSource = detected === null ? 'default' : 'detected';
  }
  const measured = measureSample(body, delimiter);
  const bodyShare = Buffer.byteLength(body, 'utf8') / Math.max(1, Buffer.byteLength(text, 'utf8'));
  return {
    encoding,
    encodingSource: source,
    delimiter,
    delimiterSource,
    sepLength: sep?.length ?? 0,
    sample: {
      bytes: complete && measured.all ? bytes.length : Math.round(bytes.length * bodyShare * measured.share),
      rows: measured.rows,
      complete: complete && measured.all,
    },
  };
}
