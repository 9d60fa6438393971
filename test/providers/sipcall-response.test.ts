/**
 * Every sipcall reply shape classified: the seeds' three responses, numbers
 * as strings, refusals, bad tokens, "too fast", provider failures, unreadable bodies.
 */
import { describe, expect, it } from 'vitest';
import type { HttpReply } from '../../src/providers/http.js';
import { classifySipcallReply } from '../../src/providers/sipcall/response.js';
import { seedText } from './support/fixtures.js';

const NOW = Date.UTC(2024, 5, 1, 8, 0, 0);
const at = (status: number, text: string | null, headers: HttpReply['headers'] = {}): HttpReply => ({ status, headers, text, bodyError: null });
const body = (ret: unknown, data: unknown, msg: unknown = '') => JSON.stringify({ ret, data, msg });
const classify = (r: HttpReply) => classifySipcallReply(r, NOW);

describe('sipcall reply classification', () => {
  it.each([
    ['sipcall-response-playvoice.json', 'Play command sent successfully'],
    ['sipcall-response-makecall.json', 'Call command sent successfully'],
    ['sipcall-response-doublecall.json', 'The double call command is sent successfully'],
  ])('%s is accepted with its desc as detail', (file, desc) => {
    expect(classify(at(200, seedText(file)))).toEqual({ kind: 'accepted', providerCallId: null, detail: desc });
  });

  it('accepts numbers given as strings', () => {
    expect(classify(at(200, body('200', { status: '0', desc: 'ok' }))).kind).toBe('accepted');
  });

  it('a ret 200 with a non-zero status is a rejection carrying desc, msg and the codes', () => {
    const o = classify(at(200, body(200, { status: 2, desc: '余额不足' }, 'insufficient balance')));
    expect(o).toMatchObject({ kind: 'rejected', httpStatus: 200, providerCode: '200/2', tooFast: false });
    expect(o.kind === 'rejected' && o.reason).toContain('余额不足');
    expect(o.kind === 'rejected' && o.reason).toContain('insufficient balance');
  });

  it('ret 400 is a rejection', () => {
    expect(classify(at(200, body(400, null, 'destnumber is invalid')))).toMatchObject({ kind: 'rejected', providerCode: '400', tooFast: false });
  });

  it.each([
    [body(401, null, 'unauthorized')],
    [body(403, null, '')],
    [body(400, null, 'token error')],
    [body(400, null, 'Token已过期')],
    [body(200, { status: 9, desc: '鉴权失败' })],
  ])('a refusal of the token is fatal: %s', (text) => {
    expect(classify(at(200, text)).kind).toBe('fatal');
  });

  it.each([
    [body(429, null, '')],
    [body(400, null, 'Too many requests')],
    [body(200, { status: 4, desc: 'call frequency exceeded' })],
    [body(200, { status: 4, desc: '请求过快' })],
    [body(400, null, '呼叫频繁，请稍后再试')],
    [body(400, null, 'rate limit reached')],
  ])('"too fast" is a rejection marked tooFast: %s', (text) => {
    expect(classify(at(200, text))).toMatchObject({ kind: 'rejected', tooFast: true });
  });

  it('ret 500 and above is transient', () => {
    expect(classify(at(200, body(500, null, 'internal error')))).toMatchObject({ kind: 'transient', httpStatus: 200, retryAfterMs: null });
    expect(classify(at(200, body(503, null, '')))).toMatchObject({ kind: 'transient' });
  });

  it.each([
    ['not JSON', '<html>502 Bad Gateway</html>'],
    ['empty', ''],
    ['a JSON array', '[1,2]'],
    ['no ret', '{"data":{"status":0}}'],
    ['ret not a number', '{"ret":"ok","data":{"status":0}}'],
    ['ret 200 without data.status', '{"ret":200,"data":{},"msg":""}'],
    ['ret 200 with data null', '{"ret":200,"data":null,"msg":""}'],
  ])('a 2xx that is %s is in doubt', (_what, text) => {
    expect(classify(at(200, text))).toMatchObject({ kind: 'in_doubt', httpStatus: 200, code: 'ERR_PROVIDER_UNREADABLE_RESPONSE' });
  });

  it('a 2xx whose body failed to arrive keeps the transport outcome', () => {
    const bodyError = { kind: 'in_doubt', reason: 'body timeout', code: 'UND_ERR_BODY_TIMEOUT', httpStatus: 200 } as const;
    expect(classify({ status: 200, headers: {}, text: null, bodyError })).toEqual(bodyError);
  });

  it('HTTP 401 and 403 are fatal, with the status', () => {
    expect(classify(at(401, ''))).toMatchObject({ kind: 'fatal', httpStatus: 401 });
    expect(classify(at(403, body(403, null, 'forbidden')))).toMatchObject({ kind: 'fatal', httpStatus: 403, providerCode: '403' });
  });

  it('other HTTP 4xx are rejections; one that speaks of the token is fatal', () => {
    expect(classify(at(404, 'Not Found'))).toMatchObject({ kind: 'rejected', httpStatus: 404, providerCode: null });
    expect(classify(at(400, body(400, null, 'invalid token')))).toMatchObject({ kind: 'fatal', httpStatus: 400 });
    expect(classify(at(400, body(400, null, '操作过于频繁')))).toMatchObject({ kind: 'rejected', tooFast: true });
  });

  it('HTTP 429 and 5xx are transient and honour Retry-After', () => {
    expect(classify(at(429, '', { 'retry-after': '3' }))).toEqual(expect.objectContaining({ kind: 'transient', httpStatus: 429, retryAfterMs: 3000 }));
    const date = new Date(NOW + 61_000).toUTCString();
    expect(classify(at(503, '', { 'retry-after': date }))).toMatchObject({ kind: 'transient', httpStatus: 503, retryAfterMs: 61_000 });
    expect(classify(at(502, 'bad gateway'))).toMatchObject({ kind: 'transient', retryAfterMs: null });
  });

  it('a redirect is fatal: the configured URL is wrong', () => {
    const o = classify(at(301, '', { location: 'https://api.example.test/' }));
    expect(o).toMatchObject({ kind: 'fatal', httpStatus: 301 });
    expect(o.kind === 'fatal' && o.reason).toContain('SIPCALL_API_URL');
  });
});
