import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startHarness, csvSource, SECRET, type Harness } from '../support/harness.js';

/** Waits for the campaign to complete, by event, with the status read as the final word. */
async function untilDone(h: Harness, id: string): Promise<void> {
  const done = h.container.events.waitFor('campaign:completed', (e) => e.campaignId === id, 60_000);
  const s = await h.container.campaigns.get(id);
  if (s?.state !== 'completed') await done;
}

describe('one campaign end to end (sipcall PlayVoice against the simulator)', () => {
  let h: Harness;
  const script: Record<string, string[]> = {
    '13800000001': ['answered:1'],
    '13800000002': ['answered'],
    '13800000003': ['busy'],
    '13800000004': ['no_answer'],
    '13800000005': ['failed'],
    '13800000006': ['reject'],
    '13800000007': ['busy', 'answered:2'],
    '13800000008': ['lost'],
  };

  beforeAll(async () => {
    h = await startHarness('e2e', { script, mix: { no_answer: 1 } });
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
  });
  afterAll(async () => h?.close());

  it('dials every contact once per attempt and ends each in the right final status, matching the ledger', async () => {
    const csv = [
      'name,phone,city',
      'Ann,13800000001,Beijing',
      'Bob,13800000002,Shanghai',
      'Cid,13800000003,Shenzhen',
      'Dan,13800000004,Wuhan',
      'Eve,13800000005,Xian',
      'Fay,13800000006,Chengdu',
      'Gus,13800000007,Hangzhou',
      'Hal,13800000008,Nanjing',
      'Ivy,not-a-number,Suzhou',
      'Jon,13800000001,Beijing',
    ].join('\n');
    const def = h.container.definition({
      action: 'playvoice',
      params: { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' },
      cps: 50,
      maxConcurrent: 20,
      maxAttempts: 2,
      retry: ['busy=100ms', 'no_answer=never', 'failed=never', 'no_result=never'],
      resultTimeout: '2s',
      ingest: { numberFormat: 'as_written' },
    });
    const { id, summary } = await h.container.createCampaign(def, csvSource(csv), 'contacts.csv');
    expect(summary).toMatchObject({ rowsRead: 10, added: 8, invalid: 1, duplicate: 1 });
    await untilDone(h, id);

    const counts = (await h.container.campaigns.counts(id)).byStatus;
    expect(counts).toMatchObject({
      answered: 2 + 1,
      busy: 1,
      no_answer: 1,
      failed: 1,
      rejected: 1,
      no_result: 1,
      invalid: 1,
      duplicate: 1,
      pending: 0,
    });

    // The ledger: one request per attempt, each customuuid once; the retried busy number twice.
    const ledger = h.sim.ledger().filter((e) => e.family === 'sipcall');
    const ids = ledger.map((e) => e.customuuid);
    expect(new Set(ids).size).toBe(ids.length);
    const byNumber = new Map<string, number>();
    for (const e of ledger) byNumber.set(e.number ?? '', (byNumber.get(e.number ?? '') ?? 0) + 1);
    expect(byNumber.get('13800000007')).toBe(2);
    expect(byNumber.get('13800000003')).toBe(2);
    for (const n of ['13800000001', '13800000002', '13800000004', '13800000005', '13800000006', '13800000008']) expect(byNumber.get(n)).toBe(1);

    // Export: one row per contact, original columns first.
    const res = await h.api(`/campaigns/${id}/results?format=jsonl`);
    const rows = (await res.body.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    expect(rows).toHaveLength(10);
    const ann = rows.find((r) => r.name === 'Ann' && r.status === 'answered')!;
    expect(ann).toMatchObject({ city: 'Beijing', userkey: '1', attempts: '1' });
    expect(ann.customuuid).toMatch(new RegExp(`^${id}-\\d+-1$`));
    expect(ann.answered_at).toMatch(/Z$/);
    const gus = rows.find((r) => r.name === 'Gus')!;
    expect(gus).toMatchObject({ status: 'answered', attempts: '2', userkey: '2' });
    expect(rows.find((r) => r.name === 'Ivy')).toMatchObject({ status: 'invalid' });
    expect(rows.find((r) => r.name === 'Jon')).toMatchObject({ status: 'duplicate' });
    expect(rows.find((r) => r.name === 'Hal')).toMatchObject({ status: 'no_result' });
  });

  it('keeps a callback for an unknown customuuid as an orphan and refuses a bad body with the reason', async () => {
    const before = await h.container.callbackLog.counters(null);
    const orphaned = h.container.events.waitFor('callback:orphan', (e) => e.key === 'customuuid:zzzzzzzz-1-1');
    const orphan = await request(`${h.serverUrl}/callbacks/sipcall/cdr?key=${SECRET}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customuuid: 'zzzzzzzz-1-1', uuid: 'u-1', billsec: 0, answertime: '', hangupcause: 19, destnumber: '1' }),
    });
    // Acknowledged (so the provider stops re-sending), stored, then kept as an orphan.
    expect(orphan.statusCode).toBe(200);
    expect(await orphan.body.json()).toMatchObject({ ok: true });
    await orphaned;
    const bad = await request(`${h.serverUrl}/callbacks/sipcall/cdr`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-callback-key': SECRET },
      body: '{"customuuid": "x", "billsec": "ten"}',
    });
    expect(bad.statusCode).toBe(400);
    expect(((await bad.body.json()) as { error: string }).error).toMatch(/billsec/);
    const unauth = await request(`${h.serverUrl}/callbacks/pbx/cdr?key=wrong`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(unauth.statusCode).toBe(401);
    const after = await h.container.callbackLog.counters(null);
    expect(after.orphan - before.orphan).toBe(1);
    expect(after.malformed - before.malformed).toBe(1);
    expect(after.unauthorized - before.unauthorized).toBe(1);
    // The well-formed body was stored raw before interpretation; the malformed one only counted.
    expect(after.received - before.received).toBe(1);
  });

  it('shows the campaigns and their queues on the dashboard', async () => {
    const page = await h.api(`/`);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(await page.body.text()).toMatch(/<title>autodialer · campaigns<\/title>/);
    const data = (await (await h.api(`/dashboard/data`)).body.json()) as {
      campaigns: { status: { id: string; state: string; counts: Record<string, number> }; queue: unknown }[];
    };
    expect(data.campaigns.length).toBeGreaterThan(0);
    const first = data.campaigns[0]!;
    expect(first.status.state).toBe('completed');
    expect(first.status.counts.answered).toBe(3);
  });
});
