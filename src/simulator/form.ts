/**
 * Form bodies as the sipcall gateway receives them: multipart/form-data (what
 * PHP's curl sends for an array) and application/x-www-form-urlencoded. Text
 * fields only; a repeated field keeps its last value, as PHP does.
 */

export class FormBodyError extends Error {
  readonly code = 'ERR_FORM_BODY';
  constructor(message: string) {
    super(message);
    this.name = 'FormBodyError';
  }
}

export interface ParsedHeaderValue {
  /** Lower-cased value before the first `;` (a media type or a disposition). */
  value: string;
  /** Parameters by lower-cased name; quoted strings unquoted and unescaped. */
  params: Record<string, string>;
}

/** Parses `type; name=value; name="quoted \"value\""` (RFC 9110 parameters). */
export function parseHeaderValue(header: string): ParsedHeaderValue {
  const semi = header.indexOf(';');
  const value = (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
  const params: Record<string, string> = {};
  let i = semi < 0 ? header.length : semi + 1;
  while (i < header.length) {
    while (i < header.length && (header[i] === ' ' || header[i] === '\t' || header[i] === ';')) i++;
    const eq = header.indexOf('=', i);
    if (eq < 0) break;
    const name = header.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    while (header[i] === ' ' || header[i] === '\t') i++;
    let v = '';
    if (header[i] === '"') {
      i++;
      while (i < header.length && header[i] !== '"') {
        if (header[i] === '\\' && i + 1 < header.length) i++;
        v += header[i];
        i++;
      }
      if (header[i] !== '"') throw new FormBodyError(`unterminated quoted parameter ${name} in ${JSON.stringify(header)}`);
      i++;
    } else {
      const end = header.indexOf(';', i);
      v = header.slice(i, end < 0 ? header.length : end).trim();
      i = end < 0 ? header.length : end;
    }
    if (name !== '' && !(name in params)) params[name] = v;
  }
  return { value, params };
}

const CRLF = Buffer.from('\r\n');
const LF = Buffer.from('\n');

/** Parses a multipart/form-data body into its text fields; file parts are skipped. */
export function parseMultipart(body: Buffer, boundary: string): Record<string, string> {
  if (boundary.length < 1 || boundary.length > 70) {
    throw new FormBodyError(`multipart boundary must be 1 to 70 characters, got ${boundary.length}`);
  }
  const delimiter = Buffer.from(`--${boundary}`);
  let pos: number;
  if (body.subarray(0, delimiter.length).equals(delimiter)) {
    pos = 0;
  } else {
    const first = body.indexOf(Buffer.from(`\n--${boundary}`));
    if (first < 0) throw new FormBodyError('multipart body does not contain its boundary');
    pos = first + 1;
  }
  // Line breaks are CRLF as RFC 2046 requires; bare LF is tolerated when the body uses it throughout.
  const afterFirst = pos + delimiter.length;
  const nl = body[afterFirst] === 0x0a ? LF : CRLF;
  const blank = Buffer.concat([nl, nl]);
  const nextDelimiter = Buffer.concat([nl, delimiter]);

  const fields: Record<string, string> = {};
  for (let part = 0; ; part++) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return fields;
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (!body.subarray(pos, pos + nl.length).equals(nl)) {
      throw new FormBodyError(`multipart part ${part + 1}: the boundary line must end with a line break`);
    }
    pos += nl.length;
    let headerEnd: number;
    let contentStart: number;
    if (body.subarray(pos, pos + nl.length).equals(nl)) {
      headerEnd = pos;
      contentStart = pos + nl.length;
    } else {
      headerEnd = body.indexOf(blank, pos);
      if (headerEnd < 0) throw new FormBodyError(`multipart part ${part + 1}: headers are not followed by a blank line`);
      contentStart = headerEnd + blank.length;
    }
    const end = body.indexOf(nextDelimiter, contentStart);
    if (end < 0) throw new FormBodyError(`multipart part ${part + 1}: no closing boundary`);
    const headers = body.toString('utf8', pos, headerEnd).split(nl === CRLF ? '\r\n' : '\n');
    let disposition: ParsedHeaderValue | null = null;
    for (const line of headers) {
      const colon = line.indexOf(':');
      if (colon <= 0) {
        if (line.trim() === '') continue;
        throw new FormBodyError(`multipart part ${part + 1}: malformed header line ${JSON.stringify(line)}`);
      }
      if (line.slice(0, colon).trim().toLowerCase() === 'content-disposition') {
        disposition = parseHeaderValue(line.slice(colon + 1));
      }
    }
    if (disposition === null || disposition.value !== 'form-data' || disposition.params.name === undefined) {
      throw new FormBodyError(`multipart part ${part + 1}: needs Content-Disposition: form-data; name="…"`);
    }
    if (disposition.params.filename === undefined) {
      fields[disposition.params.name] = body.toString('utf8', contentStart, end);
    }
    pos = end + nl.length;
  }
}

/** Parses an application/x-www-form-urlencoded body. */
export function parseUrlEncoded(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) fields[k] = v;
  return fields;
}

/** Parses a form body by its Content-Type; throws a FormBodyError saying what is wrong. */
export function parseFormBody(contentType: string | undefined, body: Buffer): Record<string, string> {
  if (contentType === undefined || contentType.trim() === '') {
    if (body.length === 0) return {};
    throw new FormBodyError('Content-Type is missing: send multipart/form-data or application/x-www-form-urlencoded');
  }
  const ct = parseHeaderValue(contentType);
  if (ct.value === 'multipart/form-data') {
    const boundary = ct.params.boundary;
    if (boundary === undefined) throw new FormBodyError('multipart/form-data needs a boundary parameter');
    return parseMultipart(body, boundary);
  }
  if (ct.value === 'application/x-www-form-urlencoded') return parseUrlEncoded(body);
  throw new FormBodyError(`unsupported Content-Type ${ct.value}: send multipart/form-data or application/x-www-form-urlencoded`);
}
