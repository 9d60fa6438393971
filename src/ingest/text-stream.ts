/**
 * The text of a contact list as UTF-8 chunks for the CSV parser: the peeked
 * chunks first, then the rest of the source pulled batch by batch, decoded
 * with iconv-lite's streaming decoder (the one behind its decode stream).
 */
import { makeDecoder } from './encoding.js';
import type { TextPlan } from './plan.js';
import type { Peeked, SourceReader } from './source.js';

const BATCH_BYTES = 16 * 1024;

/** Small source chunks (one row per chunk, say) gathered up to 16 KB, so parsing costs stay per batch. */
async function readBatch(reader: SourceReader): Promise<Buffer | null> {
  const first = await reader.next();
  if (first === null || first.length >= BATCH_BYTES) return first;
  const parts = [first];
  let size = first.length;
  while (size < BATCH_BYTES) {
    const next = await reader.next();
    if (next === null) break;
    parts.push(next);
    size += next.length;
  }
  return Buffer.concat(parts);
}

/** The file's text as UTF-8 chunks: peeked chunks first, then the rest of the source. */
export async function* utf8Chunks(reader: SourceReader, peeked: Peeked, plan: TextPlan): AsyncGenerator<Buffer> {
  const decoder = makeDecoder(plan.encoding);
  let skip = plan.sepLength;
  const utf8 = (text: string): Buffer | null => {
    if (skip > 0) {
      const k = Math.min(skip, text.length);
      text = text.slice(k);
      skip -= k;
    }
    return text === '' ? null : Buffer.from(text, 'utf8');
  };
  try {
    for (const chunk of peeked.chunks) {
      const out = utf8(decoder.write(chunk));
      if (out !== null) yield out;
    }
    for (;;) {
      const batch = await readBatch(reader);
      if (batch === null) break;
      const out = utf8(decoder.write(batch));
      if (out !== null) yield out;
    }
    const out = utf8(decoder.end());
    if (out !== null) yield out;
  } finally {
    await reader.close();
  }
}
