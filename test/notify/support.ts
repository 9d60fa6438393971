/**
 * Shared pieces of the notifier tests: a campaign with a webhook on real
 * Redis whose contacts are finalized through the real commit script (which
 * writes the outbox), and scripted node:http receivers on port 0.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { keys as makeKeys, type Keys } from '../../src/store/keys.js';
import { makeCampaignStore } from '../../src/store/campaigns.js';
import { makeContactStore } from '../../src/store/contacts.js';
import { makeAttemptStore } from '../../src/store/attempts.js';
import { parseCampaignDefinition } from '../../src/campaign/definition.js';
import { attemptId } from '../../src/store/ids.js';
import type { ContactStatus } from '../../src/domain/types.js';

export const WEBHOOK_SECRET = 'whsec-test-0123456789abcdef';

export interface Received {
  n: number;
  headers: IncomingHttpHeaders;
  body: string;
  path: string;
}

export type Reply = (n: number, req: IncomingMessage, res: ServerResponse) => void;

export const ok: Reply = (_n, _req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
};

export interface Receiver {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

/** A webhook receiver answering request n (1-based) as `reply` says. */
export async function startReceiver(reply: Reply = ok, path = '/hooks/dialer?tenant=t1'): Promise<Receiver> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = received.length + 1;
      received.push({ n, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), path: req.url ?? '' });
      reply(n, req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The receiving side's check, written apart from the notifier's code: HMAC-SHA256 over "<timestamp>.<raw body>". */
export function verifySignature(secret: string, headers: IncomingHttpHeaders, rawBody: string): boolean {
  const ts = headers['x-autodialer-timestamp'];
  const sig = headers['x-autodialer-signature'];
  if (typeof ts !== 'string' || typeof sig !== 'string' || !/^\d+$/.test(ts) || !sig.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(ts + '.' + rawBody).digest();
  const given = Buffer.from(sig.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export const HEADER = ['name', 'phone', 'city'];

export interface Seeded {
  keys: Keys;
  cid: string;
  campaigns: ReturnType<typeof makeCampaignStore>;
  contacts: ReturnType<typeof makeContactStore>;
  attempts: ReturnType<typeof makeAttemptStore>;
  /** Gives contact `idx` its final status through the commit script (which appends to the outbox). */
  finalize(idx: number, status: ContactStatus, result?: { billsec?: number; userkey?: string; providerCallId?: string; answeredAt?: string; endedAt?: string }): Promise<void>;
}

/** A campaign named "Spring promo" with a webhook and contacts `rows` ([name, phone, city]). */
export async function seedCampaign(redis: Redis, prefix: string, webhookUrl: string | null, rows: string[][], now: () => number = Date.now): Promise<Seeded> {
  const keys = makeKeys(prefix);
  const campaigns = makeCampaignStore({ redis, keys, now });
  const contacts = makeContactStore({ redis, keys });
  const attempts = makeAttemptStore({ redis, keys });
  const def = parseCampaignDefinition(
    {
      name: 'Spring promo',
      action: 'playvoice',
      params: { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' },
      ...(webhookUrl ? { webhook: { url: webhookUrl, secret: WEBHOOK_SECRET } } : {}),
    },
    { timezone: 'Asia/Shanghai', region: 'CN' },
  );
  const cid = await campaigns.create(def);
  await campaigns.setHeader(cid, HEADER);
  await contacts.importBatch(
    cid,
    'up1',
    now(),
    [],
    rows.map((r, i) => ({ kind: 'contact' as const, line: i + 2, row: { l: i + 2, v: r }, e164: `+86${r[1] ?? i}` })),
  );
  await campaigns.finishImport(cid, {}, 'running');

  async function finalize(idx: number, status: ContactStatus, result: Parameters<Seeded['finalize']>[2] = {}): Promise<void> {
    const cuuid = attemptId({ campaignId: cid, contact: idx, attempt: 1 });
    const { raw, state } = await contacts.state(cid, idx);
    const r = await attempts.commit({
      cuuid,
      base: null,
      fields: {
        cid,
        idx,
        n: 1,
        family: 'sipcall',
        number: rows[idx]?.[1] ?? '',
        state: 'final',
        outcome: status,
        billsec: result.billsec ?? null,
        userkey: result.userkey ?? null,
        providerCallId: result.providerCallId ?? null,
        answeredAt: result.answeredAt ?? null,
        endedAt: result.endedAt ?? null,
      },
      contact: { idx, expectedRaw: raw, next: { ...state, s: status, n: 1, p: 1, a: cuuid }, oldStatus: state.s, newStatus: status },
      dueAt: null,
      deadline: null,
      now: now(),
    });
    if (r === 'conflict') throw new Error(`could not finalize contact ${idx}`);
  }

  return { keys, cid, campaigns, contacts, attempts, finalize };
}

/** Polls `check` until it returns true, at most `tries` times `everyMs` apart. */
export async function until(check: () => Promise<boolean> | boolean, what: string, tries = 400, everyMs = 25): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`gave up waiting for ${what}`);
}
