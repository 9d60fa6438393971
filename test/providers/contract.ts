/**
 * The one contract every provider adapter must keep, run against a real
 * node:http server scripted per request. Each adapter's test file calls
 * `registerAdapterContract` with its own wire replies.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AdapterOptions } from '../../src/providers/http.js';
import type { DialOutcome, DialRequest, ProviderAdapter } from '../../src/providers/types.js';
import {
  closedPortUrl,
  destroyAfterRead,
  neverAnswer,
  reply,
  stallBody,
  startScriptedServer,
  type Reply,
  type ScriptedServer,
} from './support/server.js';

export interface AdapterTimeouts {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
}

export interface ContractSubject {
  name: string;
  /** An adapter whose provider is at `baseUrl`. */
  makeAdapter(baseUrl: string, timeouts: AdapterTimeouts, opts?: AdapterOptions): ProviderAdapter;
  request: DialRequest;
  replies: {
    accepted: Reply;
    /** A well-formed refusal of this one call. */
    rejected: Reply;
    /** The message the rejection carries. */
    rejectedMessage: string;
    /** A well-formed refusal that speaks of a bad token or key. */
    badCredentials: Reply;
    /** A well-formed refusal that says "too fast". */
    tooFast: Reply;
  };
  /** The providerCallId an accepted reply yields. */
  acceptedCallId: string | null;
}

const RELAXED: AdapterTimeouts = { connectTimeoutMs: 5_000, responseTimeoutMs: 10_000 };
/** For the cases where the server stays silent: the response timeout is what ends them. */
const SHORT: AdapterTimeouts = { connectTimeoutMs: 5_000, responseTimeoutMs: 300 };

function expectKind<K extends DialOutcome['kind']>(o: DialOutcome, kind: K): Extract<DialOutcome, { kind: K }> {
  expect(o.kind, JSON.stringify(o)).toBe(kind);
  return o as Extract<DialOutcome, { kind: K }>;
}

export function registerAdapterContract(s: ContractSubject): void {
  describe(`${s.name} adapter contract`, () => {
    let server: ScriptedServer;
    let adapters: ProviderAdapter[];
    const make = (timeouts: AdapterTimeouts = RELAXED, opts?: AdapterOptions, url?: string) => {
      const a = s.makeAdapter(url ?? server.url, timeouts, opts);
      adapters.push(a);
      return a;
    };

    beforeEach(async () => {
      server = await startScriptedServer();
      adapters = [];
    });
    afterEach(async () => {
      await Promise.all(adapters.map((a) => a.close()));
      await server.close();
    });

    it('accepted: the provider took the call', async () => {
      server.script(reply(s.replies.accepted));
      const o = expectKind(await make().dial(s.request), 'accepted');
      expect(o.providerCallId).toBe(s.acceptedCallId);
      expect(o.detail).not.toBe('');
      expect(server.requests).toHaveLength(1);
    });

    it('rejected: a well-formed refusal keeps the provider message and the HTTP status', async () => {
      server.script(reply(s.replies.rejected));
      const o = expectKind(await make().dial(s.request), 'rejected');
      expect(o.reason).toContain(s.replies.rejectedMessage);
      expect(o.httpStatus).toBe(s.replies.rejected.status);
      expect(o.tooFast).toBe(false);
    });

    it('rejected with tooFast: a "too fast" refusal is back-pressure', async () => {
      server.script(reply(s.replies.tooFast));
      const o = expectKind(await make().dial(s.request), 'rejected');
      expect(o.tooFast).toBe(true);
    });

    it('rejected: another HTTP 4xx', async () => {
      server.script(reply({ status: 404, body: 'not here' }));
      const o = expectKind(await make().dial(s.request), 'rejected');
      expect(o.httpStatus).toBe(404);
      expect(o.tooFast).toBe(false);
    });

    it('fatal: a refusal that speaks of bad credentials', async () => {
      server.script(reply(s.replies.badCredentials));
      expectKind(await make().dial(s.request), 'fatal');
    });

    it('fatal: HTTP 401 and 403', async () => {
      server.script(reply({ status: 401, body: '' }), reply({ status: 403, body: '{"message":"no"}' }));
      const a = make();
      expect(expectKind(await a.dial(s.request), 'fatal').httpStatus).toBe(401);
      expect(expectKind(await a.dial(s.request), 'fatal').httpStatus).toBe(403);
    });

    it('transient: HTTP 500 without Retry-After', async () => {
      server.script(reply({ status: 500, body: 'boom' }));
      const o = expectKind(await make().dial(s.request), 'transient');
      expect(o.httpStatus).toBe(500);
      expect(o.retryAfterMs).toBeNull();
    });

    it('transient: HTTP 429 with Retry-After in seconds and as an HTTP date', async () => {
      const now = Date.UTC(2024, 0, 1, 12, 0, 0);
      server.script(
        reply({ status: 429, headers: { 'retry-after': '7' }, body: '' }),
        reply({ status: 429, headers: { 'retry-after': new Date(now + 90_000).toUTCString() }, body: '' }),
        reply({ status: 503, headers: { 'retry-after': '2' }, body: '' }),
      );
      const a = make(RELAXED, { now: () => now });
      const first = expectKind(await a.dial(s.request), 'transient');
      expect(first).toMatchObject({ httpStatus: 429, retryAfterMs: 7_000 });
      expect(expectKind(await a.dial(s.request), 'transient').retryAfterMs).toBe(90_000);
      expect(expectKind(await a.dial(s.request), 'transient')).toMatchObject({ httpStatus: 503, retryAfterMs: 2_000 });
    });

    it('not_sent: nothing listens on the port', async () => {
      const o = expectKind(await make(RELAXED, undefined, await closedPortUrl()).dial(s.request), 'not_sent');
      expect(o.code).toBe('ECONNREFUSED');
    });

    it('not_sent: the adapter was closed', async () => {
      const a = make();
      await a.close();
      const o = expectKind(await a.dial(s.request), 'not_sent');
      expect(o.code).toMatch(/^UND_ERR_(CLOSED|DESTROYED)$/);
      expect(server.requests).toHaveLength(0);
    });

    it('in_doubt: the server drops the connection after reading the request, and nothing is resent', async () => {
      server.script(destroyAfterRead);
      const o = expectKind(await make().dial(s.request), 'in_doubt');
      expect(['UND_ERR_SOCKET', 'ECONNRESET']).toContain(o.code);
      expect(o.httpStatus).toBeNull();
      expect(server.requests).toHaveLength(1);
    });

    it('in_doubt: the server never answers (headers timeout), and nothing is resent', async () => {
      server.script(neverAnswer);
      const o = expectKind(await make(SHORT).dial(s.request), 'in_doubt');
      expect(o.code).toBe('UND_ERR_HEADERS_TIMEOUT');
      expect(server.requests).toHaveLength(1);
    });

    it('in_doubt: the body stalls after a 200 (body timeout)', async () => {
      server.script(stallBody);
      const o = expectKind(await make(SHORT).dial(s.request), 'in_doubt');
      expect(o.code).toBe('UND_ERR_BODY_TIMEOUT');
      expect(o.httpStatus).toBe(200);
    });

    it('in_doubt: a 200 whose body cannot be read', async () => {
      server.script(reply({ status: 200, body: '<html>gateway says hello</html>' }), reply({ status: 200, body: '' }));
      const a = make();
      const o = expectKind(await a.dial(s.request), 'in_doubt');
      expect(o.httpStatus).toBe(200);
      expect(o.code).toBe('ERR_PROVIDER_UNREADABLE_RESPONSE');
      expect(o.reason).toContain('gateway says hello');
      expect(expectKind(await a.dial(s.request), 'in_doubt').httpStatus).toBe(200);
    });

    it('keeps connections alive across dials', async () => {
      const n = 4;
      server.script(...Array.from({ length: n }, () => reply(s.replies.accepted)));
      const a = make();
      for (let i = 0; i < n; i++) expectKind(await a.dial({ ...s.request, attemptId: `${s.request.attemptId}-${i}` }), 'accepted');
      expect(server.requests).toHaveLength(n);
      // undici checks an idle socket before reusing it, so sequential dials may alternate between two sockets.
      expect(server.connections()).toBeLessThanOrEqual(2);
      expect(new Set(server.requests.map((r) => r.remotePort)).size).toBe(server.connections());
    });

    it('does not close a dispatcher it was given', async () => {
      const { Agent } = await import('undici');
      const shared = new Agent();
      try {
        server.script(reply(s.replies.accepted), reply(s.replies.accepted));
        const first = make(RELAXED, { dispatcher: shared });
        expectKind(await first.dial(s.request), 'accepted');
        await first.close();
        expectKind(await make(RELAXED, { dispatcher: shared }).dial(s.request), 'accepted');
      } finally {
        await shared.close();
      }
    });
  });
}
