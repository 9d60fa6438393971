/**
 * The text of a contact list as UTF-8 chunks for the CSV parser: the peeked
 * chunks first, then the rest of the source pulled batch by batch, decoded
 * with iconv-lite's streaming decoder (the one behind its decode stream);
 * a UTF-8 file's bytes as they are.
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

/** Bytes at the start of a UTF-8 file that are not rows: its byte order mark, then Excel's `sep=` line. */
function utf8Preamble(peeked: Peeked, plan: TextPlan): number {
  const b = peeked.bytes;
  const bom = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  if (plan.sepLength === 0) return bom;
  // The sep= line is counted in characters of the decoded sample; its delimiter may take more than one byte.
  return bom + Buffer.byteLength(b.subarray(bom, bom + 4 * plan.sepLength).toString('utf8').slice(0, plan.sepLength), 'utf8');
}

/**
 * A UTF-8 file's bytes as they are (its byte order mark and `sep=` line
 * dropped): no decoding to text and back, so reading a long list makes no
 * garbage beyond the source's own chunks. Bytes that are not valid UTF-8
 * become U+FFFD in the fields, as decoding the whole text did.
 */
async function* utf8Bytes(reader: SourceReader, peeked: Peeked, plan: TextPlan): AsyncGenerator<Buffer> {
  let skip = utf8Preamble(peeked, plan);
  const drop = (chunk: Buffer): Buffer | null => {
    if (skip > 0) {
      const k = Math.min(skip, chunk.length);
      chunk = chunk.subarray(k);
      skip -= k;
    }
    return chunk.length === 0 ? null : chunk;
  };
  try {
    for (const chunk of peeked.chunks) {
      const out = drop(chunk);
      if (out !== null) yield out;
    }
    for (;;) {
      const batch = await readBatch(reader);
      if (batch === null) break;
      const out = drop(batch);
      if (out !== null) yield out;
    }
  } finally {
    await reader.close();
  }
}

/** The file's text as UTF-8 chunks: peeked chunks first, then the rest of the source. */
export async function* utf8Chunks(reader: SourceReader, peeked: Peeked, plan: TextPlan): AsyncGenerator<Buffer> {
  if (plan.encoding === 'utf8') {
    yield* utf8Bytes(reader, peeked, plan);
    return;
  }
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
