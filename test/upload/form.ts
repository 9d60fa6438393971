/**
 * Multipart bodies built by hand, parts in the order given (a file part can
 * come first on purpose), and a POST of one to the server.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { AUTH } from '../support/harness.js';

export type Part = { name: string; value: string } | { name: string; filename: string; content: Buffer | string; type?: string };

export function multipartBody(parts: readonly Part[]): { body: Buffer; contentType: string } {
  const boundary = `----upload${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const head =
      'filename' in p
        ? `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"; filename="${p.filename}"\r\nContent-Type: ${p.type ?? 'text/csv'}\r\n\r\n`
        : `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"\r\n\r\n`;
    chunks.push(Buffer.from(head, 'utf8'), Buffer.from('filename' in p ? p.content : p.value), Buffer.from('\r\n', 'utf8'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'utf8'));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export interface Answer {
  status: number;
  json: Record<string, unknown>;
}

export async function postForm(url: string, parts: readonly Part[], headers: Record<string, string> = {}): Promise<Answer> {
  const { body, contentType } = multipartBody(parts);
  const res = await request(url, { method: 'POST', body, headers: { 'content-type': contentType, ...AUTH, ...headers } });
  const text = await res.body.text();
  return { status: res.statusCode, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** A sipcall PlayVoice definition the simulator accepts, as the `definition` field. */
export function playvoiceDefinition(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    action: 'playvoice',
    params: { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' },
    cps: 50,
    maxConcurrent: 20,
    maxAttempts: 1,
    resultTimeout: '2s',
    retry: ['no_answer=never', 'busy=never', 'failed=never', 'no_result=never'],
    ...extra,
  });
}
