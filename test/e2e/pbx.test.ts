import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, csvSource, type Harness } from '../support/harness.js';

describe('pbx two-way originate end to end', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('e2e-pbx', {
      script: {
        '09121110001': ['answered'],
        '09121110002': ['busy'],
        '09121110003': ['agent_no_answer'],
        '09121110004': ['failed'],
      },
      mix: { no_answer: 1 },
    });
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
  });
  afterAll(async () => h?.close());

  it('correlates CDRs by originated call id and ends a call with no CDR as no answer at its deadline', async () => {
    const def = h.container.definition({
      action: 'originate',
      params: { caller: '557', context: 'main_routing', caller_id: '557', trunk_name: 'cisco', timeout: '1' },
      cps: 20,
      maxConcurrent: 10,
      maxAttempts: 1,
      resultTimeout: '1s',
    });
    const csv = 'mobile,name\n09121110001,Sara\n09121110002,Reza\n09121110003,Nima\n09121110004,Mina\n557,Desk\n';
    const { id, summary } = await h.container.createCampaign(def, csvSource(csv), 'pbx.csv');
    expect(summary).toMatchObject({ added: 5, invalid: 0 });
    const done = h.container.events.waitFor('campaign:completed', (e) => e.campaignId === id, 60_000);
    if ((await h.container.campaigns.get(id))?.state !== 'completed') await done;

    const res = await h.api(`/campaigns/${id}/results?format=jsonl`);
    const rows = (await res.body.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    const by = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(by.Sara).toMatchObject({ status: 'answered' });
    expect(by.Sara!.provider_call_id).toMatch(/^orig\.call\./);
    expect(by.Reza).toMatchObject({ status: 'busy' });
    expect(by.Nima).toMatchObject({ status: 'no_answer' });
    expect(by.Nima!.error).toMatch(/no CDR/);
    expect(by.Mina).toMatchObject({ status: 'failed' });
    // An extension (the pbx seed's 557) is a valid callee for originate.
    expect(by.Desk!.status).not.toBe('invalid');

    // The wire: every originate carried string values and our contact as callee, once each.
    const ledger = h.sim.ledger().filter((e) => e.family === 'pbx');
    expect(ledger.map((e) => e.number).sort()).toEqual(['09121110001', '09121110002', '09121110003', '09121110004', '557']);

    // Attempts export: one row per attempt, with the dial result and the result source.
    const att = await h.api(`/campaigns/${id}/attempts?format=jsonl`);
    const attempts = (await att.body.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    expect(attempts).toHaveLength(5);
    const nima = attempts.find((a) => a.number === '09121110003')!;
    expect(nima).toMatchObject({ dial_result: 'accepted', outcome: 'no_answer', result_source: 'deadline' });
    const sara = attempts.find((a) => a.number === '09121110001')!;
    expect(sara).toMatchObject({ outcome: 'answered', result_source: 'callback' });
  });
});
