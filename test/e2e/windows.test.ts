import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, csvSource, type Harness } from '../support/harness.js';

const params = { voicetype: '2', voicefile: 'http://x.invalid/a.mp3', chengshudu: '1', userid: '1@extGroup-1' };
const hhmm = (d: Date) => `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;

describe('calling windows in a running campaign', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('e2e-windows', { mix: { answered: 1 } });
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
  });
  afterAll(async () => h?.close());

  it('holds contacts outside their window until it opens, in their own zone, without dialing them', async () => {
    // A one-hour window starting two hours from now, in UTC; one contact carries a zone where it is open now.
    const now = new Date();
    const opens = new Date(Math.floor((now.getTime() + 2 * 3600_000) / 60_000) * 60_000);
    const closes = new Date(opens.getTime() + 3600_000);
    const def = h.container.definition({
      action: 'playvoice',
      params,
      cps: 20,
      window: { hours: `${hhmm(opens)}-${hhmm(closes)}`, timezone: 'UTC', timezoneColumn: 'tz' },
    });
    // Etc/GMT-2 is UTC+2: its wall clock is in the window now... only if the window starts within its current hour.
    const zoneOpenNow = 'Etc/GMT-2';
    const csv = `phone,tz\n13700000001,\n13700000002,UTC\n13700000003,${zoneOpenNow}\n`;
    const { id } = await h.container.createCampaign(def, csvSource(csv), 'window.csv');
    const dialed = h.container.events.waitFor('attempt:final', (e) => e.campaignId === id, 20_000);
    await dialed;
    const s = await h.container.status(id);
    expect(s?.counts.answered).toBe(1);
    expect(s?.scheduled).toBe(2);
    expect(s?.nextDueAt).toBe(opens.toISOString());
    const numbers = h.sim.ledger().map((e) => e.number);
    expect(numbers).toContain('13700000003');
    expect(numbers).not.toContain('13700000001');
    expect(numbers).not.toContain('13700000002');
  });

  it('expires what is left when the campaign expires', async () => {
    const now = Date.now();
    const def = h.container.definition({
      action: 'playvoice',
      params,
      window: { hours: `${hhmm(new Date(now + 2 * 3600_000))}-${hhmm(new Date(now + 3 * 3600_000))}`, timezone: 'UTC', expires: new Date(now + 1500).toISOString() },
    });
    const { id } = await h.container.createCampaign(def, csvSource('phone\n13700000011\n13700000012\n'), 'expire.csv');
    const done = h.container.events.waitFor('campaign:completed', (e) => e.campaignId === id, 20_000);
    if ((await h.container.campaigns.get(id))?.state !== 'completed') await done;
    const s = await h.container.status(id);
    expect(s?.counts).toMatchObject({ expired: 2, pending: 0 });
    expect(h.sim.ledger().map((e) => e.number)).not.toContain('13700000011');
  });
});
