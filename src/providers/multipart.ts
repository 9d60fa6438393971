/**
 * Request bodies of a few text fields, built directly as bytes: a
 * multipart/form-data body (as curl sends a PHP array) and an
 * application/x-www-form-urlencoded one. Fields keep the order given.
 */
import { randomBytes } from 'node:crypto';

export interface EncodedBody {
  body: Buffer;
  contentType: string;
}

export type TextFields = ReadonlyArray<readonly [name: string, value: string]>;

/** Field names are quoted in Content-Disposition; quotes and line breaks are percent-encoded as browsers do. */
function escapeName(name: string): string {
  return name.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Drawn once per process; each body then takes the next counter value (no entropy drawn per request). */
const boundaryBase = `----autodialer${randomBytes(12).toString('hex')}`;
let boundarySeq = 0;

/** A boundary no other body of this process used: a per-process random part and a counter. */
export function randomBoundary(): string {
  boundarySeq = (boundarySeq + 1) % 0x100000000;
  return `${boundaryBase}${boundarySeq.toString(36)}`;
}

/**
 * A multipart/form-data body of text fields. `boundary` is for tests; by
 * default a random one is drawn (and drawn again in the unlikely case a value
 * contains it).
 */
export function encodeMultipart(fields: TextFields, boundary?: string): EncodedBody {
  let b = boundary ?? randomBoundary();
  while (boundary === undefined && fields.some(([name, value]) => value.includes(b) || name.includes(b))) b = randomBoundary();
  if (fields.some(([name, value]) => value.includes(`--${b}`) || name.includes(`--${b}`))) {
    throw new Error(`multipart boundary ${b} occurs in a field: choose another`);
  }
  let text = '';
  for (const [name, value] of fields) text += `--${b}\r\nContent-Disposition: form-data; name="${escapeName(name)}"\r\n\r\n${value}\r\n`;
  text += `--${b}--\r\n`;
  return { body: Buffer.from(text, 'utf8'), contentType: `multipart/form-data; boundary=${b}` };
}

/** An application/x-www-form-urlencoded body (UTF-8, spaces as '+'). */
export function encodeUrlencoded(fields: TextFields): EncodedBody {
  const params = new URLSearchParams();
  for (const [name, value] of fields) params.append(name, value);
  return { body: Buffer.from(params.toString(), 'utf8'), contentType: 'application/x-www-form-urlencoded' };
}
