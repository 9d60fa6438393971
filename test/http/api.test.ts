/**
 * The REST API on the real server against the simulator: campaigns created
 * as JSON (rows, or a URL) and run to the end, listed a page at a time,
 * controlled, exported and deleted; schedules; one error format with its
 * codes, for the JSON routes and the uploads alike.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { startHarness, type Harness } from '../support/harness.js';
import { uploadRoutes } from '../../src/http/upload.js';

const params = { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' };

interface Answer {
  status: number;
  json: Record<string, unknown> & { error?: { code: string; message: string; problems?: string[] } };
}

describe('REST API', () => {
  let h: Harness;
  let lists: Server;
  let listUrl: string;

  async function call(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
    const res = await h.api(path, {
      method: (init.method ?? 'GET') as 'GET',
      ...(init.body !== undefined ? { body: JSON.stringify(init.body), headers: { 'content-type': 'application/json', ...init.headers } } : { headers: init.headers }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: text ? (JSON.parse(text) as Answer['json']) : {} };
  }

  beforeAll(async () => {
    h = await startHarness('api', { mix: { answered: 1 } });
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
    // A contact list served over HTTP, as a JSON definition's contacts URL.
    lists = createServer((req, res) => {
      if (req.url === '/today.csv') res.writeHead(200, { 'content-type': 'text/csv' }).end('phone,name\n13800000501,Ann\n13800000502,Bob\n13800000503,Cy\n');
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => lists.listen(0, '127.0.0.1', resolve));
    listUrl = `http://127.0.0.1:${(lists.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => lists?.close(resolve));
    await h?.close();
  });

  it('creates a campaign from JSON rows keyed like CSV headers, and it runs to the end', async () => {
    const done = h.container.events.waitFor('campaign:completed');
    const r = await call('/campaigns', {
      method: 'POST',
      body: { name: 'json rows', action: 'playvoice', params, cps: 20, maxAttempts: 1, resultTimeout: '5s', contacts: [{ phone: '13800000511', name: 'Ann' }, { phone: 13800000512, name: null, vip: true }, { phone: '13800000511' }] },
    });
    expect(r.status).toBe(201);
    expect(r.json.id).toMatch(/^[a-z0-9]{8}$/);
    expect(r.json.import).toMatchObject({ header: ['phone', 'name', 'vip'], rowsRead: 3, added: 2, duplicate: 1 });
    const [{ campaignId }] = await done;
    expect(campaignId).toBe(r.json.id);
    const status = await call(`/campaigns/${campaignId}`);
    expect(status.json).toMatchObject({ id: campaignId, name: 'json rows', state: 'completed', total: 3, counts: { answered: 2, duplicate: 1 } });
    const results = await h.api(`/campaigns/${campaignId}/results`);
    expect(results.headers['content-type']).toMatch(/^text\/csv/);
    const csv = await results.body.text();
    expect(csv.split('\n')[0]).toMatch(/^phone,name,vip,/);
    expect(csv).toContain('13800000511,Ann,');
    // Finished: deleted with everything stored for it.
    expect(await call(`/campaigns/${campaignId}`, { method: 'DELETE' })).toMatchObject({ status: 200, json: { id: campaignId, deleted: true } });
    expect((await call(`/campaigns/${campaignId}`)).json.error?.code).toBe('not_found');
  });

  it('creates a campaign from a contacts URL, and checks one without storing it (dryRun)', async () => {
    const dry = await call('/campaigns?dryRun=true', { method: 'POST', body: { action: 'playvoice', params, cps: 5, contacts: `${listUrl}/today.csv` } });
    expect(dry.status).toBe(200);
    expect(dry.json).toMatchObject({ dryRun: true, import: { added: 3, fileName: 'today.csv', estimatedSeconds: 1 } });
    const made = await call('/campaigns', { method: 'POST', body: { name: 'from url', action: 'playvoice', params, cps: 1, maxConcurrent: 1, contacts: `${listUrl}/today.csv` } });
    expect(made.status).toBe(201);
    const id = made.json.id as string;
    expect(made.json.import).toMatchObject({ added: 3 });

    // Controls: pause, a second resume refused, pace, cancel; deleting while calls may still end is refused.
    expect(await call(`/campaigns/${id}/pause`, { method: 'POST' })).toMatchObject({ status: 200, json: { id, action: 'pause', state: 'paused' } });
    expect(await call(`/campaigns/${id}/resume`, { method: 'POST' })).toMatchObject({ status: 200, json: { state: expect.stringMatching(/running|importing/) as unknown } });
    const again = await call(`/campaigns/${id}/resume`, { method: 'POST' });
    expect(again).toMatchObject({ status: 409, json: { error: { code: 'invalid_state', message: expect.stringContaining('only a paused campaign can be resumed') as unknown } } });
    expect(await call(`/campaigns/${id}/pace`, { method: 'POST', body: { cps: 0.5 } })).toMatchObject({ status: 200, json: { id, pace: { cps: 0.5, maxConcurrent: 1 } } });
    const badPace = await call(`/campaigns/${id}/pace`, { method: 'POST', body: { cps: 'fast', burst: 3 } });
    expect(badPace.status).toBe(400);
    expect(badPace.json.error?.problems?.join('\n')).toMatch(/cps/);
    await call(`/campaigns/${id}/pause`, { method: 'POST' });
    const live = await call(`/campaigns/${id}`, { method: 'DELETE' });
    expect(live).toMatchObject({ status: 409, json: { error: { code: 'invalid_state' } } });
    expect(await call(`/campaigns/${id}/cancel`, { method: 'POST' })).toMatchObject({ status: 200, json: { state: 'cancelled' } });
  });

  it('lists campaigns newest first, a page at a time, by state', async () => {
    const all = await call('/campaigns?limit=500');
    expect(all.status).toBe(200);
    const total = all.json.total as number;
    expect(total).toBeGreaterThanOrEqual(1);
    const first = await call('/campaigns?limit=1');
    expect(first.json).toMatchObject({ offset: 0, limit: 1, total, nextOffset: total > 1 ? 1 : null });
    const campaigns = all.json.campaigns as { id: string; createdAt: string; state: string }[];
    expect((first.json.campaigns as { id: string }[])[0]!.id).toBe(campaigns[0]!.id);
    const last = await call(`/campaigns?limit=1&offset=${total - 1}`);
    expect(last.json.nextOffset).toBeNull();
    const cancelled = await call('/campaigns?state=cancelled');
    expect((cancelled.json.campaigns as { state: string }[]).every((c) => c.state === 'cancelled')).toBe(true);
    expect(cancelled.json.total).toBeGreaterThanOrEqual(1);
    const bad = await call('/campaigns?limit=0&state=asleep');
    expect(bad.status).toBe(400);
    expect(bad.json.error?.code).toBe('invalid_request');
    expect(bad.json.error?.problems?.join('\n')).toMatch(/limit must be at least 1[\s\S]*state must be one of/);
  });

  it('answers every failure as {"error": {"code", "message"}} with the documented codes', async () => {
    expect((await call('/campaigns/NOT-AN-ID')).json.error).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('8 lowercase letters') as unknown });
    expect(await call('/campaigns/zzzzzzzz')).toMatchObject({ status: 404, json: { error: { code: 'not_found' } } });
    expect(await call('/campaigns/zzzzzzzz/results')).toMatchObject({ status: 404, json: { error: { code: 'not_found' } } });
    const unauth = await h.api('/campaigns', { headers: { authorization: 'Bearer wrong' } });
    expect(unauth.statusCode).toBe(401);
    expect(await unauth.body.json()).toMatchObject({ error: { code: 'unauthorized' } });

    // A JSON definition that cannot be used: every problem, each naming its field.
    const bad = await call('/campaigns', { method: 'POST', body: { action: 'playvoice', params, cps: -1, colour: 'red', schedule: { every: '1h' }, contacts: 'ftp://lists/x.csv' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.code).toBe('invalid_definition');
    const problems = bad.json.error?.problems?.join('\n') ?? '';
    expect(problems).toMatch(/cps must be 0/);
    expect(problems).toMatch(/colour: unknown field/);
    expect(problems).toMatch(/schedule: a schedule is a file in the jobs directory/);
    expect(problems).toMatch(/contacts/);
    // The definition's own rules, after its shape.
    const rules = await call('/campaigns', { method: 'POST', body: { action: 'playvoice', params: {}, contacts: [{ phone: '13800000520' }] } });
    expect(rules).toMatchObject({ status: 400, json: { error: { code: 'invalid_definition', problems: expect.arrayContaining([expect.stringMatching(/voicefile/)]) as unknown } } });
    // A list URL that does not answer a list.
    const gone = await call('/campaigns', { method: 'POST', body: { action: 'playvoice', params, contacts: `${listUrl}/missing.csv` } });
    expect(gone).toMatchObject({ status: 422, json: { error: { code: 'contacts_unavailable', message: expect.stringContaining('HTTP 404') as unknown } } });
    // Rows that hold no phone column: the list cannot be read.
    const noPhone = await call('/campaigns', { method: 'POST', body: { action: 'playvoice', params, contacts: [{ name: 'Ann' }] } });
    expect(noPhone.status).toBe(422);
    expect(noPhone.json.error?.code).toBe('unreadable_list');
    // Neither JSON nor a form.
    const text = await h.api('/campaigns', { method: 'POST', body: 'phone\n1', headers: { 'content-type': 'text/plain' } });
    expect(text.statusCode).toBe(415);
    expect(await text.body.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
    // A form without a list (the upload routes answer in the same format).
    const form = new FormData();
    form.append('action', 'playvoice');
    const upload = await fetch(`${h.serverUrl}/campaigns`, { method: 'POST', body: form, headers: { authorization: `Bearer ${h.config.apiTokens[0]}` } });
    expect(upload.status).toBe(400);
    expect(await upload.json()).toMatchObject({ error: { code: 'invalid_request', message: expect.stringContaining('no contact list') as unknown } });
  });

  it('refuses a contacts URL on a private address where webhooks may not go', async () => {
    const c = h.container;
    const strict: FastifyInstance = Fastify();
    // The upload routes' default: the schedules' limits, private addresses refused.
    await strict.register(uploadRoutes, {
      definition: c.definition,
      createCampaign: (def, source, fileName) => c.createCampaign(def, source, fileName),
      addContacts: (id, source, fileName) => c.addContacts(id, source, fileName),
      dryRun: (def, source, fileName) => c.dryRun(def, source, fileName),
      campaigns: c.campaigns,
    });
    try {
      const res = await strict.inject({ method: 'POST', url: '/campaigns', payload: { action: 'playvoice', params, contacts: `${listUrl}/today.csv` } });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toMatchObject({ error: { code: 'contacts_unavailable', message: expect.stringMatching(/127\.0\.0\.1/) as unknown } });
    } finally {
      await strict.close();
    }
  });

  it('lists schedules, their runs, and refuses to run one that does not exist', async () => {
    const list = await call('/schedules');
    expect(list.status).toBe(200);
    expect(Array.isArray(list.json.schedules)).toBe(true);
    const names = (list.json.schedules as { name: string }[]).map((s) => s.name);
    expect(names).toContain('weekday-reminder');
    const runs = await call('/schedules/weekday-reminder/runs?limit=5');
    expect(runs).toMatchObject({ status: 200, json: { name: 'weekday-reminder', runs: [] } });
    expect(await call('/schedules/no-such-file/run', { method: 'POST' })).toMatchObject({ status: 404, json: { error: { code: 'not_found' } } });
    expect((await call('/schedules/bad%20name/runs')).json.error?.code).toBe('invalid_request');
  });
});
