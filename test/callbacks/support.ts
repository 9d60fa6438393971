/**
 * A dialer container on real Redis (a prefix of its own) with its HTTP server
 * on port 0 and a logger whose output is kept for inspection, plus helpers
 * that create accepted attempts without dialing anyone and post callbacks.
 */
import { Writable, Readable } from 'node:stream';
import { request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container } from '../../src/app/container.js';
import { createLogger } from '../../src/infra/logger.js';
import type { ProviderAdapter } from '../../src/providers/types.js';
import type { ProviderFamily } from '../../src/domain/types.js';
import type { RawCampaignDefinition as RawDefinition } from '../../src/campaign/definition.js';
import type { HttpLimits } from '../../src/http/limits.js';
import { cleanPrefix, connectRedis, REDIS_URL, testPrefix } from '../support/redis.js';

export const SECRET = 'callbacks-test-secret-0123456789';
export const API_TOKEN = 'callbacks-test-api-token-012345';
export const AUTH = { authorization: `Bearer ${API_TOKEN}` } as const;

export interface Rig {
  c: Container;
  app: FastifyInstance;
  url: string;
  prefix: string;
  /** Everything the logger wrote so far. */
  logs(): string;
  post(path: string, body: string, opts?: { contentType?: string; key?: string | null; header?: boolean }): Promise<{ status: number; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startRig(
  name: string,
  env: Record<string, string> = {},
  options: { now?: () => number; prefix?: string; retentionEveryMs?: number; limits?: Partial<HttpLimits> } = {},
): Promise<Rig> {
  const prefix = options.prefix ?? testPrefix(name);
  const config = loadConfig(
    {
      REDIS_URL,
      AUTODIALER_PREFIX: prefix,
      AUTODIALER_CALLBACK_SECRET: SECRET,
      AUTODIALER_API_TOKEN: API_TOKEN,
      SIPCALL_API_URL: 'http://127.0.0.1:1',
      SIPCALL_TOKEN: '0123456789abcdef0123456789abcdef',
      SIPCALL_TIMEZONE: 'Asia/Shanghai',
      PBX_BASE_URL: 'http://127.0.0.1:1',
      PBX_API_KEY: 'rig-api-key',
      PBX_USERNAME: 'rig',
      PBX_PASSWORD: 'rig-password',
      PBX_TIMEZONE: 'Asia/Tehran',
      LOG_LEVEL: 'trace',
      ...env,
    },
    null,
  );
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const redis = connectRedis();
  const log = createLogger({ level: 'trace', destination: sink });
  const c = await createContainer(config, {
    redis,
    log,
    providers: new Map<ProviderFamily, ProviderAdapter>(),
    ...(options.now ? { now: options.now } : {}),
  });
  const app = await c.startServer({
    port: 0,
    host: '127.0.0.1',
    ...(options.retentionEveryMs ? { retentionEveryMs: options.retentionEveryMs } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
  });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    c,
    app,
    url,
    prefix,
    logs: () => chunks.join(''),
    async post(path, body, opts = {}) {
      const key = opts.key === undefined ? SECRET : opts.key;
      const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/json' };
      let target = `${url}${path}`;
      if (key !== null && opts.header) headers['x-callback-key'] = key;
      else if (key !== null) target += `?key=${encodeURIComponent(key)}`;
      const res = await request(target, { method: 'POST', headers, body });
      const text = await res.body.text();
      return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    async close() {
      await c.close(1000);
      await cleanPrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

/** Closes a rig without deleting its keys (a process that stops; another takes over the same prefix). */
export async function stopRigKeepingKeys(rig: Rig): Promise<void> {
  await rig.c.close(1000);
  rig.c.redis.disconnect();
}

export const SIPCALL_DEF: RawDefinition = {
  action: 'playvoice',
  params: { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' },
  cps: 100,
  maxConcurrent: 1000,
  maxAttempts: 2,
  retry: ['no_result=1h', 'busy=never', 'no_answer=never', 'failed=never', 'in_doubt=never'],
  resultTimeout: '1h',
  ingest: { numberFormat: 'as_written' },
};

export const PBX_DEF: RawDefinition = {
  action: 'originate',
  params: { caller: '557', context: 'main_routing', caller_id: '557', trunk_name: 'cisco', timeout: '30' },
  cps: 100,
  maxConcurrent: 1000,
  maxAttempts: 1,
  resultTimeout: '1h',
  ingest: { numberFormat: 'as_written' },
};

export interface LiveAttempt {
  id: string;
  idx: number;
  number: string;
}

/** The number of contact `i` in campaigns made here. */
export const numberOf = (i: number) => `138${String(i).padStart(8, '0')}`;

/**
 * A campaign of `n` contacts, each with one attempt begun and — unless
 * `accept` is false — accepted by the provider (pbx: with call id
 * `orig.<idx>`). Sipcall attempts are indexed by callee by the begin
 * itself, so status callbacks find them while they are live.
 */
export async function campaignWithAttempts(
  c: Container,
  def: RawDefinition,
  n: number,
  opts: { accept?: boolean } = {},
): Promise<{ cid: string; attempts: LiveAttempt[] }> {
  const d = c.definition(def);
  const csv = ['phone', ...Array.from({ length: n }, (_, i) => numberOf(i))].join('\n');
  const { id: cid, summary } = await c.createCampaign(d, Readable.from([Buffer.from(csv)]), 'contacts.csv');
  if (summary.added !== n) throw new Error(`imported ${summary.added} contacts, expected ${n}`);
  const campaign = await c.cache.get(cid);
  if (!campaign) throw new Error('campaign not found');
  const taken = await c.contacts.takeDue(cid, Date.now() + 1000, n);
  const attempts: LiveAttempt[] = [];
  for (const t of taken) {
    const number = t.row.d ?? '';
    const begun = await c.service.begin(campaign, t.idx, t.attempt, number);
    if (begun.result !== 'began') throw new Error(`attempt ${begun.id}: ${begun.result}`);
    if (opts.accept !== false) {
      await c.service.dialResult(begun.id, d.provider, { kind: 'accepted', providerCallId: d.provider === 'pbx' ? `orig.${t.idx}` : null, detail: 'test' });
    }
    attempts.push({ id: begun.id, idx: t.idx, number });
  }
  attempts.sort((a, b) => a.idx - b.idx);
  return { cid, attempts };
}

/** `YYYY-MM-DD HH:mm:ss` in Asia/Shanghai (UTC+8, no DST). */
export function shanghai(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}

const CAUSE = { answered: 16, busy: 17, no_answer: 19, failed: 41 } as const;

/** A sipcall CDR shaped like seed 003's example. */
export function sipcallCdr(o: { customuuid: string; uuid: string; destnumber: string; outcome: keyof typeof CAUSE; at?: number }): Record<string, unknown> {
  const at = o.at ?? Date.parse('2026-01-05T02:00:00Z');
  const answered = o.outcome === 'answered';
  const billsec = answered ? 12 : 0;
  return {
    answertime: answered ? shanghai(at + 8_000) : '',
    hangupcause: CAUSE[o.outcome],
    duration: 8 + billsec,
    id: 220739,
    extnumber: '',
    uuid: o.uuid,
    downloadip: '149.129.249.47',
    customuuid: o.customuuid,
    chengshudu: '0',
    callmethod: 6,
    recordfilename: answered ? '1111.mp3' : '',
    companycode: 9017,
    memberid: '0',
    hangupdirection: 10040,
    billsec,
    endtime: shanghai(at + 8_000 + billsec * 1000),
    starttime: shanghai(at),
    type: 'callout',
    disnumber: '2190170001',
    crmid: '0',
    userkey: answered ? '1' : '',
    destnumber: o.destnumber,
  };
}

/** A sipcall extension status callback (no customuuid). */
export function sipcallStatus(o: { uuid: string; callee: string; status: 'ring' | 'answer' | 'hangup' }): Record<string, unknown> {
  return {
    buuid: `b-${o.uuid}`,
    callee: o.callee,
    caller: '20280003',
    companycode: '2028',
    direction: 'callout',
    disnumber: '2120280001',
    extnumber: '20280003',
    isbleg: 'true',
    method: '3',
    starttime: '1767578400',
    status: o.status,
    uuid: o.uuid,
    ip: '149.129.249.47',
  };
}

/** An Asterisk-style pbx CDR carrying the originated call id. */
export function pbxCdr(o: { callId: string; disposition: 'ANSWERED' | 'NO ANSWER' | 'BUSY' | 'FAILED'; billsec?: number }): Record<string, unknown> {
  const billsec = o.billsec ?? (o.disposition === 'ANSWERED' ? 20 : 0);
  return {
    accountcode: '',
    src: '557',
    dst: '09120000000',
    dcontext: 'main_routing',
    channel: 'PJSIP/557-0000001a',
    dstchannel: 'PJSIP/cisco-0000001b',
    lastapp: 'Dial',
    calldate: '2026-01-05 10:20:54',
    duration: billsec + 6,
    billsec,
    disposition: o.disposition,
    uniqueid: `1703145054.${o.callId.length}`,
    originated_call_id: o.callId,
  };
}

/** A form-encoded body of the same fields. */
export function asForm(o: Record<string, unknown>): string {
  return new URLSearchParams(Object.entries(o).map(([k, v]): [string, string] => [k, String(v)])).toString();
}
