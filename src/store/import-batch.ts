/**
 * A batch of import records packed for the IMPORT_BATCH script into one
 * reusable buffer: five fields a record (kind, line, dedupe key or reject
 * hash, stored row, reject state), each ended by US (0x1f), each record
 * ended by RS (0x1e). No field can hold either byte: rows and states are
 * JSON (which escapes control characters), the rest are digits, E.164
 * numbers and base64url hashes. A batch lives off the JS heap and is
 * reused once Redis has answered, so a long list leaves no batch garbage
 * behind for the old generation.
 */
export const FIELD_END = 0x1f;
export const RECORD_END = 0x1e;

export class PackedBatch {
  private buf: Buffer;
  private at = 0;
  /** Records in the batch. */
  count = 0;

  constructor(initialBytes = 256 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Appends one record: the five fields of encodeImportRecord. */
  add(fields: readonly [string, string, string, string, string]): void {
    for (const f of fields) this.put(f, FIELD_END);
    this.buf[this.at - 1] = RECORD_END;
    this.count++;
  }

  /** The packed records (a view on the buffer, valid until the next reset). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  reset(): void {
    this.at = 0;
    this.count = 0;
  }

  private put(text: string, end: number): void {
    // A UTF-16 code unit never takes more than 3 bytes of UTF-8.
    const need = this.at + text.length * 3 + 1;
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.at);
      this.buf = bigger;
    }
    this.at += this.buf.write(text, this.at, 'utf8');
    this.buf[this.at++] = end;
  }
}
