/**
 * Every PBX originate reply shape classified.
 */
import { describe, expect, it } from 'vitest';
import type { HttpReply } from '../../src/providers/http.js';
import { classifyPbxReply } from '../../src/providers/pbx/response.js';
import { seedText } from './support/fixtures.js';

const NOW = Date.UTC(2024, 5, 1, 8, 0, 0);
const at = (status: number, text: string | null, headers: HttpReply['headers'] = {}): HttpReply => ({ status, headers, text, bodyError: null });
const classify = (r: HttpReply) => classifyPbxReply(r, NOW);
const json = (v: unknown) => JSON.stringify(v);

describe('pbx reply classification', () => {
  it("the seed's response is accepted with its originated_call_id", () => {
    expect(classify(at(200, seedText('pbx-originate-response.json')))).toEqual({
      kind: 'accepted',
      providerCallId: 'orig.call.1703145054.787335',
      detail: 'originated',
    });
  });

  it('accepts success as "1" or true', () => {
    for (const success of ['1', true]) {
      expect(classify(at(200, json({ success, message: 'ok', data: { originated_call_id: 'orig.call.1.2' } })))).toMatchObject({
        kind: 'accepted',
        providerCallId: 'orig.call.1.2',
        detail: 'ok',
      });
    }
  });

  it('an acceptance without an originated_call_id is in doubt: it cannot be correlated', () => {
    for (const data of [null, {}, { originated_call_id: '' }]) {
      expect(classify(at(200, json({ success: 1, message: null, data })))).toMatchObject({ kind: 'in_doubt', code: 'ERR_PROVIDER_NO_CALL_ID', httpStatus: 200 });
    }
  });

  it('success 0 is a rejection carrying the message', () => {
    const o = classify(at(200, json({ success: 0, message: 'trunk cisco is down', data: null })));
    expect(o).toMatchObject({ kind: 'rejected', httpStatus: 200, providerCode: '0', tooFast: false });
    expect(o.kind === 'rejected' && o.reason).toContain('trunk cisco is down');
  });

  it('success 0 that speaks of rate is tooFast; of credentials, fatal', () => {
    expect(classify(at(200, json({ success: '0', message: 'Too many requests', data: null })))).toMatchObject({ kind: 'rejected', tooFast: true });
    expect(classify(at(200, json({ success: 0, message: 'Authentication failed', data: null })))).toMatchObject({ kind: 'fatal' });
  });

  it('HTTP 401/403 are fatal; 429/5xx transient with Retry-After; other 4xx rejected', () => {
    expect(classify(at(401, json({ message: 'Unauthenticated.' })))).toMatchObject({ kind: 'fatal', httpStatus: 401 });
    expect(classify(at(403, ''))).toMatchObject({ kind: 'fatal', httpStatus: 403 });
    expect(classify(at(429, '', { 'retry-after': '10' }))).toMatchObject({ kind: 'transient', httpStatus: 429, retryAfterMs: 10_000 });
    expect(classify(at(500, 'oops'))).toMatchObject({ kind: 'transient', httpStatus: 500, retryAfterMs: null });
    const o = classify(at(422, json({ message: 'The callee field is required.' })));
    expect(o).toMatchObject({ kind: 'rejected', httpStatus: 422, tooFast: false });
    expect(o.kind === 'rejected' && o.reason).toContain('The callee field is required.');
  });

  it.each([
    ['not JSON', '<html>hi</html>'],
    ['empty', ''],
    ['without success', json({ message: null, data: { originated_call_id: 'x' } })],
    ['with success 2', json({ success: 2 })],
  ])('a 2xx that is %s is in doubt', (_what, text) => {
    expect(classify(at(200, text))).toMatchObject({ kind: 'in_doubt', code: 'ERR_PROVIDER_UNREADABLE_RESPONSE', httpStatus: 200 });
  });
});
