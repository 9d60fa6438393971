/**
 * The byte source of a contact list: any async iterable of bytes (a file or
 * upload Readable), pulled one chunk at a time so the producer is held back
 * while rows are consumed. The first ~64 KB are peeked for detection and then
 * replayed.
 */
import { IngestError } from './errors.js';

export const PEEK_BYTES = 64 * 1024;

export type ByteSource = AsyncIterable<unknown>;

export interface SourceReader {
  /** The next chunk, or null at the end. */
  next(): Promise<Buffer | null>;
  /** Releases the source (destroys a Readable). */
  close(): Promise<void>;
  readonly bytesRead: number;
}

function toBuffer(chunk: unknown, fileName: string): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new IngestError('read_failed', `reading ${fileName} failed: the source gave a ${typeof chunk}, not bytes`, fileName);
}

export function sourceReader(source: ByteSource, fileName: string): SourceReader {
  const iterator = source[Symbol.asyncIterator]();
  let bytesRead = 0;
  let ended = false;
  return {
    get bytesRead() {
      return bytesRead;
    },
    async next() {
      if (ended) return null;
      let result: IteratorResult<unknown>;
      try {
        result = await iterator.next();
      } catch (err) {
        ended = true;
        const why = err instanceof Error ? err.message : String(err);
        throw new IngestError('read_failed', `reading ${fileName} failed after ${bytesRead} bytes: ${why}`, fileName, { cause: err });
      }
      if (result.done === true) {
        ended = true;
        return null;
      }
      const buf = toBuffer(result.value, fileName);
      bytesRead += buf.length;
      return buf;
    },
    async close() {
      if (ended) return;
      ended = true;
      await iterator.return?.();
    },
  };
}

export interface Peeked {
  chunks: Buffer[];
  bytes: Buffer;
  /** True when the sample is the whole file. */
  complete: boolean;
}

/** Reads chunks until `limit` bytes are held or the source ends. */
export async function peek(reader: SourceReader, limit = PEEK_BYTES): Promise<Peeked> {
  const chunks: Buffer[] = [];
  let size = 0;
  while (size < limit) {
    const chunk = await reader.next();
    if (chunk === null) {
      const bytes = Buffer.concat(chunks);
      return { chunks, bytes, complete: true };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  const all = Buffer.concat(chunks);
  return { chunks, bytes: all.subarray(0, Math.max(limit, 0)), complete: false };
}
