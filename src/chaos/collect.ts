/**
 * What a chaos run reads from the dialer: through its HTTP API (the campaign
 * created by upload, its state, the callbacks still pending, the results and
 * attempts exports) and, when there is one, from the history store.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { request } from 'undici';
import { Redis } from 'ioredis';
import { keys } from '../store/keys.js';
import { callbackLogKeys, makeCallbackLog } from '../store/callback-log.js';
import type { AttemptRow, HistoryView, PendingCallback, ResultRow } from './checks.js';

export interface DialerApi {
  createCampaign(definition: Record<string, unknown>, csv: string): Promise<string>;
  /** The campaign's state, or null when the server does not answer now (restarting, Redis away). */
  state(id: string): Promise<string | null>;
  /** Stored callbacks not interpreted yet, or null when the server does not answer now. */
  callbacksPending(): Promise<number | null>;
  ready(): Promise<boolean>;
  results(id: string): Promise<ResultRow[]>;
  attempts(id: string): Promise<AttemptRow[]>;
}

export function dialerApi(baseUrl: string, token: string): DialerApi {
  const auth = { authorization: `Bearer ${token}` };
  async function get(path: string): Promise<{ status: number; text: string } | null> {
    try {
      const res = await request(`${baseUrl}${path}`, { headers: auth, headersTimeout: 30_000, bodyTimeout: 120_000 });
      return { status: res.statusCode, text: await res.body.text() };
    } catch {
      return null;
    }
  }
  async function jsonl<T>(path: string): Promise<T[]> {
    const res = await get(path);
    if (!res || res.status !== 200) throw new Error(`GET ${path} answered ${res ? `${res.status}: ${res.text.slice(0, 200)}` : 'nothing'}`);
    return res.text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as T);
  }
  return {
    async createCampaign(definition, csv) {
      const boundary = `----chaos${randomBytes(12).toString('hex')}`;
      const part = (head: string, body: string) => `--${boundary}\r\n${head}\r\n\r\n${body}\r\n`;
      const body =
        part('Content-Disposition: form-data; name="definition"', JSON.stringify(definition)) +
        part('Content-Disposition: form-data; name="file"; filename="chaos.csv"\r\nContent-Type: text/csv', csv) +
        `--${boundary}--\r\n`;
      const res = await request(`${baseUrl}/campaigns`, {
        method: 'POST',
        headers: { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` },
        body,
      });
      const text = await res.body.text();
      if (res.statusCode !== 201) throw new Error(`POST /campaigns answered ${res.statusCode}: ${text.slice(0, 500)}`);
      return (JSON.parse(text) as { id: string }).id;
    },
    async state(id) {
      const res = await get(`/campaigns/${id}`);
      if (!res || res.status !== 200) return null;
      return (JSON.parse(res.text) as { state?: string }).state ?? null;
    },
    async callbacksPending() {
      const res = await get('/metrics');
      if (!res || res.status !== 200) return null;
      const m = /^autodialer_callbacks_pending(?:\{[^}]*\})? (\d+)/m.exec(res.text);
      return m ? Number(m[1]) : null;
    },
    async ready() {
      const res = await get('/readyz');
      return res?.status === 200;
    },
    results: (id) => jsonl<ResultRow>(`/campaigns/${id}/results?format=jsonl`),
    attempts: (id) => jsonl<AttemptRow>(`/campaigns/${id}/attempts?format=jsonl`),
  };
}

/** Contacts archived so far, for waiting on the archiver. */
export async function archivedContacts(databaseUrl: string, campaignId: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const r = await client.query<{ n: string }>('SELECT count(*) AS n FROM autodialer.contacts WHERE campaign_id = $1', [campaignId]);
    return Number(r.rows[0]?.n ?? 0);
  } catch {
    // The schema is made by the first server: not there yet.
    return 0;
  } finally {
    await client.end();
  }
}

/** The history store's contacts and attempt ids of one campaign. */
export async function readHistory(databaseUrl: string, campaignId: string): Promise<HistoryView> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const contacts = await client.query<{ number: string | null; status: string; attempts: number; customuuid: string | null }>(
      'SELECT number, status, attempts, customuuid FROM autodialer.contacts WHERE campaign_id = $1 ORDER BY idx',
      [campaignId],
    );
    const attempts = await client.query<{ id: string }>('SELECT id FROM autodialer.attempts WHERE campaign_id = $1', [campaignId]);
    return {
      contacts: contacts.rows.map((r) => ({ number: r.number ?? '', status: r.status, attempts: r.attempts, customuuid: r.customuuid })),
      attemptIds: new Set(attempts.rows.map((r) => r.id)),
    };
  } finally {
    await client.end();
  }
}

/** Stored callbacks never interpreted (still in the log's pending set), read from the run's own Redis. */
export async function pendingCallbacks(redisUrl: string, prefix: string): Promise<PendingCallback[]> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const k = keys(prefix);
    const ids = await redis.zrange(callbackLogKeys(k).pending, 0, 999);
    const log = makeCallbackLog({ redis, keys: k });
    const out: PendingCallback[] = [];
    for (const id of ids) {
      const cb = await log.get(id);
      const customuuid = cb ? (/"customuuid"\s*:\s*"([^"]+)"|customuuid=([^&]+)/.exec(cb.body)?.slice(1).find((x) => x !== undefined) ?? null) : null;
      out.push({ id, kind: cb?.kind ?? 'unknown', receivedAt: cb?.receivedAt ?? 0, customuuid });
    }
    return out;
  } finally {
    redis.disconnect();
  }
}
