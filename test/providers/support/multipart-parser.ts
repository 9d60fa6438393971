/**
 * A strict test-side multipart/form-data parser: it reads the raw bytes the
 * server received and fails on any deviation from the expected framing.
 */

export interface ParsedPart {
  name: string;
  /** Header lines of the part, as sent. */
  headers: string[];
  value: string;
}

export function boundaryOf(contentType: string | undefined): string {
  const m = /^multipart\/form-data;\s*boundary=(?:"([^"]+)"|([^;\s]+))$/i.exec(contentType ?? '');
  const b = m?.[1] ?? m?.[2];
  if (!b) throw new Error(`not a multipart/form-data content type: ${String(contentType)}`);
  return b;
}

export function parseMultipart(body: Buffer, contentType: string | undefined): ParsedPart[] {
  const boundary = boundaryOf(contentType);
  const text = body.toString('utf8');
  const open = `--${boundary}\r\n`;
  const close = `--${boundary}--\r\n`;
  if (!text.startsWith(open)) throw new Error('body does not start with the boundary line');
  if (!text.endsWith(close)) throw new Error('body does not end with the closing boundary line');
  const inner = text.slice(open.length, text.length - close.length);
  // inner = part ("\r\n--boundary\r\n" part)* "\r\n"
  if (!inner.endsWith('\r\n')) throw new Error('last part is not followed by CRLF');
  const chunks = inner.slice(0, -2).split(`\r\n--${boundary}\r\n`);
  return chunks.map((chunk, i) => {
    const sep = chunk.indexOf('\r\n\r\n');
    if (sep < 0) throw new Error(`part ${i} has no blank line after its headers`);
    const headers = chunk.slice(0, sep).split('\r\n');
    const disposition = headers.find((h) => /^content-disposition:/i.test(h));
    const m = /^Content-Disposition: form-data; name="([^"]*)"$/.exec(disposition ?? '');
    if (!m?.[1]) throw new Error(`part ${i} has no form-data name: ${String(disposition)}`);
    return { name: m[1], headers, value: chunk.slice(sep + 4) };
  });
}
