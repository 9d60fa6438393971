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

export function randomBoundary(): string {
  return `----autodialer${randomBytes(16).toString('hex')}`;
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
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    parts.push(
      Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="${escapeName(name)}"\r\n\r\n`, 'utf8'),
      Buffer.from(value, 'utf8'),
      Buffer.from('\r\n', 'utf8'),
    );
  }
  parts.push(Buffer.from(`--${b}--\r\n`, 'utf8'));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${b}` };
}

/** An application/x-www-form-urlencoded body (UTF-8, spaces as '+'). */
export function encodeUrlencoded(fields: TextFields): EncodedBody {
  const params = new URLSearchParams();
  for (const [name, value] of fields) params.append(name, value);
  return { body: Buffer.from(params.toString(), 'utf8'), contentType: 'application/x-www-form-urlencoded' };
}
