/**
 * Transport failures classified once, with undici's real error classes and
 * Node's error shapes; Retry-After parsing.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { errors } from 'undici';
import { classifyTransportError, parseRetryAfter } from '../../src/providers/http.js';
import { closedPortUrl } from './support/server.js';

const nodeError = (code: string, syscall: string, message = `${syscall} ${code}`) => Object.assign(new Error(message), { code, syscall });

describe('classifyTransportError', () => {
  it('a real refused connection is not sent', async () => {
    const port = Number(new URL(await closedPortUrl()).port);
    const err = await new Promise<Error>((resolve) => connect(port, '127.0.0.1').on('error', resolve));
    expect(classifyTransportError(err)).toMatchObject({ kind: 'not_sent', code: 'ECONNREFUSED' });
  });

  it.each([
    ['ConnectTimeoutError', new errors.ConnectTimeoutError(), 'UND_ERR_CONNECT_TIMEOUT'],
    ['ClientClosedError', new errors.ClientClosedError(), 'UND_ERR_CLOSED'],
    ['ClientDestroyedError', new errors.ClientDestroyedError(), 'UND_ERR_DESTROYED'],
    ['InvalidArgumentError', new errors.InvalidArgumentError('bad'), 'UND_ERR_INVALID_ARG'],
    ['ENOTFOUND', nodeError('ENOTFOUND', 'getaddrinfo'), 'ENOTFOUND'],
    ['EAI_AGAIN', nodeError('EAI_AGAIN', 'getaddrinfo'), 'EAI_AGAIN'],
    ['EHOSTUNREACH', nodeError('EHOSTUNREACH', 'connect'), 'EHOSTUNREACH'],
    ['ETIMEDOUT while connecting', nodeError('ETIMEDOUT', 'connect'), 'ETIMEDOUT'],
    ['a TLS certificate error', Object.assign(new Error('cert'), { code: 'CERT_HAS_EXPIRED' }), 'CERT_HAS_EXPIRED'],
  ])('%s is not sent', (_name, err, code) => {
    expect(classifyTransportError(err)).toMatchObject({ kind: 'not_sent', code });
  });

  it('a dual-stack connect whose every address refused is not sent', () => {
    const agg = Object.assign(new AggregateError([nodeError('ECONNREFUSED', 'connect'), nodeError('ECONNREFUSED', 'connect')]), { code: 'ECONNREFUSED' });
    expect(classifyTransportError(agg)).toMatchObject({ kind: 'not_sent', code: 'ECONNREFUSED' });
    const bare = new AggregateError([nodeError('ENETUNREACH', 'connect'), nodeError('ECONNREFUSED', 'connect')]);
    expect(classifyTransportError(bare)).toMatchObject({ kind: 'not_sent', code: 'ENETUNREACH' });
  });

  it('a connect failure found in the cause chain is not sent', () => {
    const wrapped = new Error('fetch failed', { cause: nodeError('ECONNREFUSED', 'connect') });
    expect(classifyTransportError(wrapped)).toMatchObject({ kind: 'not_sent', code: 'ECONNREFUSED' });
  });

  it.each([
    ['HeadersTimeoutError', new errors.HeadersTimeoutError(), 'UND_ERR_HEADERS_TIMEOUT'],
    ['BodyTimeoutError', new errors.BodyTimeoutError(), 'UND_ERR_BODY_TIMEOUT'],
    ['SocketError', new errors.SocketError('other side closed'), 'UND_ERR_SOCKET'],
    ['ResponseContentLengthMismatchError', new errors.ResponseContentLengthMismatchError(), 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'],
    ['ECONNRESET on read', nodeError('ECONNRESET', 'read'), 'ECONNRESET'],
    ['EPIPE on write', nodeError('EPIPE', 'write'), 'EPIPE'],
    ['ETIMEDOUT on read', nodeError('ETIMEDOUT', 'read'), 'ETIMEDOUT'],
    ['an error without a code', new Error('something odd'), 'UNKNOWN'],
    ['a thrown string', 'weird', 'UNKNOWN'],
  ])('%s is in doubt', (_name, err, code) => {
    expect(classifyTransportError(err)).toMatchObject({ kind: 'in_doubt', code, httpStatus: null });
  });

  it('once a status was received, even a connect-looking error is in doubt', () => {
    expect(classifyTransportError(new errors.ClientDestroyedError(), 200)).toMatchObject({ kind: 'in_doubt', code: 'UND_ERR_DESTROYED', httpStatus: 200 });
  });

  it('keeps the message in the reason', () => {
    expect(classifyTransportError(new errors.SocketError('other side closed')).reason).toContain('other side closed');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2024, 0, 1, 0, 0, 0);
  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter(new Date(now + 5_000).toUTCString(), now)).toBe(5_000);
    expect(parseRetryAfter(['4', '9'], now)).toBe(4_000);
  });
  it('a date in the past means now; garbage or absence means unknown', () => {
    expect(parseRetryAfter(new Date(now - 60_000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
    expect(parseRetryAfter('1.5', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });
});
