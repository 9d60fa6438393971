import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { postForm, playvoiceDefinition } from './form.js';

describe('a number added to a do-not-call list after its upload', () => {
  let h: Harness;
  beforeAll(async () => {
    // No worker yet: nothing is dialed until the list has changed.
    h = await startHarness('upload-dnc', { mix: { answered: 1 } });
  });
  afterAll(async () => h?.close());

  it('is not called, and its contact ends dnc', async () => {
    const r = await postForm(`${h.serverUrl}/campaigns`, [
      { name: 'definition', value: playvoiceDefinition({ dnc: ['late-optout'] }) },
      { name: 'numberFormat', value: 'as_written' },
      { name: 'file', filename: 'late.csv', content: ['name,phone', 'Jo,13900000041', 'Ky,13900000042', 'Lu,13900000043'].join('\n') },
    ]);
    expect(r.status).toBe(201);
    expect(r.json.import).toMatchObject({ added: 3, dnc: 0 });
    const id = r.json.id as string;

    await h.container.dnc.add('late-optout', ['13900000042']);
    const done = h.container.events.waitFor('campaign:completed', (e) => e.campaignId === id, 60_000);
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
    await done;

    const called = h.sim.ledger().map((e) => e.number).sort();
    expect(called).toEqual(['13900000041', '13900000043']);
    const res = await h.api(`/campaigns/${id}/results?format=jsonl`);
    const rows = (await res.body.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    expect(rows.find((x) => x.name === 'Ky')).toMatchObject({ status: 'dnc', attempts: '0' });
    expect(rows.find((x) => x.name === 'Ky')?.error).toMatch(/do-not-call list late-optout/);
    const counts = (await h.container.campaigns.counts(id)).byStatus;
    expect(counts).toMatchObject({ answered: 2, dnc: 1, pending: 0 });
    // A contact ended at dial time is listed with the rows not dialed, with its reason.
    const rejects = await h.api(`/campaigns/${id}/rejects?format=jsonl`);
    const listed = (await rejects.body.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, string | number>);
    expect(listed).toEqual([{ line: 3, status: 'dnc', reason: expect.stringMatching(/late-optout/) as unknown as string, name: 'Ky', phone: '13900000042' }]);
  });
});
