import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { AUTH, startHarness, type Harness } from '../support/harness.js';
import { uploadRoutes } from '../../src/http/upload.js';
import { dryRunContactList } from '../../src/campaign/import.js';
import { postForm, playvoiceDefinition, type Part } from './form.js';

async function untilDone(h: Harness, id: string): Promise<void> {
  const done = h.container.events.waitFor('campaign:completed', (e) => e.campaignId === id, 60_000);
  const s = await h.container.campaigns.get(id);
  if (s?.state !== 'completed') await done;
}

async function jsonl(url: string): Promise<Record<string, string | number>[]> {
  const res = await request(url, { headers: AUTH });
  expect(res.statusCode).toBe(200);
  const text = await res.body.text();
  return text
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, string | number>);
}

const LIST = ['name,phone,city', 'Ann,13900000001,Beijing', 'Bob,13900000002,Shanghai', 'Cid,13900000003,Shenzhen', 'Dan,13900000004,Wuhan'].join('\n');

describe('contact list upload (POST /campaigns, POST /campaigns/:id/contacts)', () => {
  let h: Harness;
  let small: FastifyInstance;
  let smallUrl: string;

  beforeAll(async () => {
    h = await startHarness('upload', { mix: { answered: 1 } });
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
    // The same upload routes with small limits, on a server of their own.
    const c = h.container;
    small = Fastify();
    await small.register(uploadRoutes, {
      definition: c.definition,
      createCampaign: (def, source, fileName) => c.createCampaign(def, source, fileName),
      addContacts: (id, source, fileName) => c.addContacts(id, source, fileName),
      dryRun: (def, source, fileName, existing) => dryRunContactList({ redis: c.redis, keys: c.keys }, def, source, fileName, existing),
      campaigns: c.campaigns,
      limits: { fileBytes: 4096, fields: 4, fieldBytes: 2048 },
    });
    await small.listen({ port: 0, host: '127.0.0.1' });
    const a = small.server.address();
    smallUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  afterAll(async () => {
    await small?.close();
    await h?.close();
  });

  it('creates a campaign from the fields and the streamed file, and its contacts get dialed', async () => {
    const r = await postForm(`${h.serverUrl}/campaigns`, [
      { name: 'definition', value: playvoiceDefinition() },
      { name: 'name', value: 'Uploaded promo' },
      { name: 'numberFormat', value: 'as_written' },
      { name: 'file', filename: 'promo.csv', content: LIST },
    ]);
    expect(r.status).toBe(201);
    const id = r.json.id as string;
    expect(id).toMatch(/^[a-z0-9]{8}$/);
    expect(r.json.import).toMatchObject({ fileName: 'promo.csv', rowsRead: 4, added: 4, invalid: 0, duplicate: 0, dnc: 0 });
    const record = await h.container.campaigns.get(id);
    expect(record?.definition.name).toBe('Uploaded promo');
    await untilDone(h, id);
    const called = h.sim
      .ledger()
      .filter((e) => e.customuuid?.startsWith(`${id}-`))
      .map((e) => e.number)
      .sort();
    expect(called).toEqual(['13900000001', '13900000002', '13900000003', '13900000004']);
    expect((await h.container.campaigns.counts(id)).byStatus.answered).toBe(4);
  });

  it('takes the definition from named fields alone (param.<name> and the CLI flag names)', async () => {
    const r = await postForm(`${h.serverUrl}/campaigns`, [
      { name: 'action', value: 'playvoice' },
      { name: 'param.voicetype', value: '2' },
      { name: 'param.voicefile', value: 'http://example.invalid/promo.mp3' },
      { name: 'param.chengshudu', value: '1' },
      { name: 'param', value: 'userid=1@extGroup-1' },
      { name: 'cps', value: '5' },
      { name: 'max-concurrent', value: '3' },
      { name: 'dryRun', value: 'true' },
      { name: 'file', filename: 'named.csv', content: LIST },
    ]);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ dryRun: true, import: { added: 4, estimatedSeconds: 1 } });
  });

  it('a dry run answers what would be added and stores nothing', async () => {
    const before = await h.container.campaigns.list();
    const r = await postForm(`${h.serverUrl}/campaigns`, [
      { name: 'definition', value: playvoiceDefinition() },
      { name: 'dryRun', value: 'true' },
      { name: 'file', filename: 'dry.csv', content: `${LIST}\nEve,not-a-number,Xian\nAnn,13900000001,Beijing` },
    ]);
    expect(r.status).toBe(200);
    expect(r.json.id).toBeUndefined();
    expect(r.json).toMatchObject({ dryRun: true, import: { dryRun: true, rowsRead: 6, added: 4, invalid: 1, duplicate: 1 } });
    expect(await h.container.campaigns.list()).toEqual(before);
    const scratch = await h.container.redis.keys(`${h.config.prefix}:campaigns:dry:*`);
    expect(scratch).toEqual([]);
  });

  it('refuses a file part sent before the fields, and says to send the fields first', async () => {
    const before = await h.container.campaigns.list();
    const r = await postForm(`${h.serverUrl}/campaigns`, [
      { name: 'file', filename: 'first.csv', content: LIST },
      { name: 'definition', value: playvoiceDefinition() },
    ]);
    expect(r.status).toBe(400);
    expect((r.json.error as { message: string }).message).toMatch(/file part came before the campaign fields/);
    expect(((r.json.error as { problems: string[] }).problems).join(' ')).toMatch(/definition came after the file part/);
    expect(await h.container.campaigns.list()).toEqual(before);
  });

  it('refuses a form without a file part', async () => {
    const r = await postForm(`${h.serverUrl}/campaigns`, [{ name: 'definition', value: playvoiceDefinition() }]);
    expect(r.status).toBe(400);
    expect((r.json.error as { message: string }).message).toMatch(/no contact list/);
  });

  it('answers 413 for a file over the size limit, and leaves no campaign to dial', async () => {
    const rows = Array.from({ length: 400 }, (_, i) => `Row ${i},139${String(i).padStart(8, '0')},Beijing`);
    const big = ['name,phone,city', ...rows].join('\n');
    expect(big.length).toBeGreaterThan(4096 * 2);
    const before = new Set(await h.container.campaigns.list());
    const r = await postForm(`${smallUrl}/campaigns`, [
      { name: 'definition', value: playvoiceDefinition() },
      { name: 'file', filename: 'big.csv', content: big },
    ]);
    expect(r.status).toBe(413);
    expect((r.json.error as { message: string }).message).toMatch(/big\.csv is larger than the 4096 bytes an upload may hold/);
    const created = (await h.container.campaigns.list()).filter((id) => !before.has(id));
    for (const id of created) expect((await h.container.campaigns.get(id))?.state).toBe('cancelled');
  });

  it('answers 413 for a field over its size limit and for too many fields', async () => {
    const long = await postForm(`${smallUrl}/campaigns`, [
      { name: 'definition', value: playvoiceDefinition({ name: 'x'.repeat(3000) }) },
      { name: 'file', filename: 'a.csv', content: LIST },
    ]);
    expect(long.status).toBe(413);
    expect((long.json.error as { message: string }).message).toMatch(/field definition is longer than the 2048 bytes/);
    const many: Part[] = Array.from({ length: 6 }, (_, i) => ({ name: `param.p${i}`, value: 'v' }));
    const tooMany = await postForm(`${smallUrl}/campaigns`, [...many, { name: 'file', filename: 'a.csv', content: LIST }]);
    expect(tooMany.status).toBe(413);
    expect((tooMany.json.error as { message: string }).message).toMatch(/more than 4 fields|more than 5 parts/);
  });

  it('answers 422 with the reason for a file that is not a list at all', async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(2000, 7)]);
    const before = await h.container.campaigns.list();
    const r = await postForm(`${h.serverUrl}/campaigns`, [
      { name: 'definition', value: playvoiceDefinition() },
      { name: 'file', filename: 'photo.csv', content: png, type: 'application/octet-stream' },
    ]);
    expect(r.status).toBe(422);
    expect((r.json.error as { message: string }).message).toMatch(/photo\.csv/);
    expect(((r.json.error as { problems: string[] }).problems)[0]).toMatch(/^binary_file: /);
    const created = (await h.container.campaigns.list()).filter((id) => !before.includes(id));
    for (const id of created) expect((await h.container.campaigns.get(id))?.state).toBe('cancelled');
  });

  it('answers 400 listing every problem of a bad definition, each field named', async () => {
    const r = await postForm(`${h.serverUrl}/campaigns`, [
      { name: 'definition', value: JSON.stringify({ action: 'playvoice', params: { voicetype: '2' }, maxAttempts: 0 }) },
      { name: 'cps', value: 'fast' },
      { name: 'colour', value: 'red' },
      { name: 'file', filename: 'a.csv', content: LIST },
    ]);
    expect(r.status).toBe(400);
    const problems = ((r.json.error as { problems: string[] }).problems).join('\n');
    expect(problems).toMatch(/field cps must be a number, got "fast"/);
    expect(problems).toMatch(/unknown field "colour"/);

    const def = await postForm(`${h.serverUrl}/campaigns`, [
      { name: 'definition', value: JSON.stringify({ action: 'playvoice', params: { voicetype: '2' }, window: { hours: '25:00-26:00' } }) },
      { name: 'file', filename: 'a.csv', content: LIST },
    ]);
    expect(def.status).toBe(400);
    expect((def.json.error as { message: string }).message).toBe('invalid campaign definition');
    const list = ((def.json.error as { problems: string[] }).problems).join('\n');
    expect(list).toMatch(/window\.hours/);
    expect(list).toMatch(/voicefile/);
  });

  it('adds a list to a campaign again without adding anything twice', async () => {
    const first = await postForm(`${h.serverUrl}/campaigns`, [
      { name: 'definition', value: playvoiceDefinition({ window: { starts: '2099-01-01T00:00:00Z' } }) },
      { name: 'file', filename: 'again.csv', content: `${LIST}\nEve,not-a-number,Xian` },
    ]);
    expect(first.status).toBe(201);
    const id = first.json.id as string;
    const total = (await h.container.campaigns.get(id))?.total;
    expect(total).toBe(5);

    const again = await postForm(`${h.serverUrl}/campaigns/${id}/contacts`, [{ name: 'file', filename: 'again.csv', content: `${LIST}\nEve,not-a-number,Xian` }]);
    expect(again.status).toBe(200);
    expect(again.json.import).toMatchObject({ rowsRead: 5, added: 0, duplicate: 0, alreadyInCampaign: 5 });
    expect((await h.container.campaigns.get(id))?.total).toBe(5);

    const more = await postForm(`${h.serverUrl}/campaigns/${id}/contacts`, [
      { name: 'dryRun', value: 'true' },
      { name: 'file', filename: 'more.csv', content: `${LIST}\nFay,13900000009,Chengdu` },
    ]);
    expect(more.json).toMatchObject({ id, dryRun: true, import: { added: 1, alreadyInCampaign: 4 } });
    expect((await h.container.campaigns.get(id))?.total).toBe(5);

    const added = await postForm(`${h.serverUrl}/campaigns/${id}/contacts`, [{ name: 'file', filename: 'more.csv', content: `${LIST}\nFay,13900000009,Chengdu` }]);
    expect(added.json.import).toMatchObject({ added: 1, alreadyInCampaign: 4 });
    expect((await h.container.campaigns.get(id))?.total).toBe(6);
    expect((await h.container.contacts.dueCount(id)).due).toBe(5);

    const defHere = await postForm(`${h.serverUrl}/campaigns/${id}/contacts`, [
      { name: 'cps', value: '3' },
      { name: 'file', filename: 'more.csv', content: LIST },
    ]);
    expect(defHere.status).toBe(400);
    expect(((defHere.json.error as { problems: string[] }).problems)[0]).toMatch(/got cps/);

    const unknown = await postForm(`${h.serverUrl}/campaigns/zzzzzzzz/contacts`, [{ name: 'file', filename: 'x.csv', content: LIST }]);
    expect(unknown.status).toBe(404);
  });

  it('marks a number on a list the campaign names as dnc at import, and never calls it', async () => {
    await h.container.dnc.add('upload-blocked', ['13900000022']);
    const r = await postForm(`${h.serverUrl}/campaigns`, [
      { name: 'definition', value: playvoiceDefinition() },
      { name: 'dnc', value: 'upload-blocked' },
      { name: 'numberFormat', value: 'as_written' },
      { name: 'file', filename: 'dnc.csv', content: ['name,phone', 'Gil,13900000021', 'Hoa,13900000022', 'Ike,13900000023'].join('\n') },
    ]);
    expect(r.status).toBe(201);
    expect(r.json.import).toMatchObject({ added: 2, dnc: 1 });
    const id = r.json.id as string;
    await untilDone(h, id);
    const rows = await jsonl(`${h.serverUrl}/campaigns/${id}/results?format=jsonl`);
    expect(rows.find((x) => x.name === 'Hoa')).toMatchObject({ status: 'dnc' });
    expect(rows.filter((x) => x.status === 'answered').map((x) => x.name).sort()).toEqual(['Gil', 'Ike']);
    expect(h.sim.ledger().some((e) => e.number === '13900000022')).toBe(false);
  });

  it('lists the rows not dialed in the rejects report, with their lines and reasons', async () => {
    const csv = ['name,phone,city', 'Ann,13900000031,Beijing', 'Bob,,Shanghai', 'Cid,12ab,"Shen, zhen"', 'Ann again,13900000031,Beijing', 'Dan,13900000034,Wuhan'].join('\n');
    const r = await postForm(`${h.serverUrl}/campaigns`, [
      { name: 'definition', value: playvoiceDefinition({ window: { starts: '2099-01-01T00:00:00Z' } }) },
      { name: 'file', filename: 'rejects.csv', content: csv },
    ]);
    expect(r.status).toBe(201);
    const id = r.json.id as string;
    const rows = await jsonl(`${h.serverUrl}/campaigns/${id}/rejects?format=jsonl`);
    expect(rows).toEqual([
      { line: 3, status: 'invalid', reason: 'the phone column "phone" is empty', name: 'Bob', phone: '', city: 'Shanghai' },
      { line: 4, status: 'invalid', reason: expect.stringMatching(/^"12ab" in column "phone" /) as unknown as string, name: 'Cid', phone: '12ab', city: 'Shen, zhen' },
      { line: 5, status: 'duplicate', reason: 'same number as line 2', name: 'Ann again', phone: '13900000031', city: 'Beijing' },
    ]);
    const res = await h.api(`/campaigns/${id}/rejects`);
    expect(res.headers['content-type']).toMatch(/text\/csv/);
    const lines = (await res.body.text()).trim().split('\n');
    expect(lines[0]).toBe('line,status,reason,name,phone,city');
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(/^4,invalid,.*,Cid,12ab,"Shen, zhen"$/);
    const bad = await h.api(`/campaigns/${id}/rejects?format=xml`);
    expect(bad.statusCode).toBe(400);
    await bad.body.text();
  });
});
