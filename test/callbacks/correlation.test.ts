/**
 * How callbacks find their attempt when they carry no customuuid: sipcall
 * status callbacks (callee while the call is live, call uuid once a CDR
 * revealed it) and pbx CDRs (originated call id, parked when the CDR beats
 * the originate response).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignWithAttempts, PBX_DEF, pbxCdr, SIPCALL_DEF, sipcallCdr, sipcallStatus, startRig, type Rig } from './support.js';

describe('sipcall status callbacks', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig('cb-status');
  });
  afterAll(async () => rig?.close());

  async function recorded(id: unknown) {
    await rig.c.receiver.idle();
    const [r] = await rig.c.callbackLog.results([String(id)]);
    return r;
  }

  it('tie to the live attempt through the callee, then through the call uuid the CDR revealed', async () => {
    const { cid, attempts } = await campaignWithAttempts(rig.c, SIPCALL_DEF, 2);
    const [a, b] = [attempts[0]!, attempts[1]!];

    // Live: the callee leads to the attempt, and the uuid it carries is remembered.
    const ring = await rig.post('/callbacks/sipcall/status', JSON.stringify(sipcallStatus({ uuid: 'uuid-a', callee: a.number, status: 'ring' })));
    expect(await recorded(ring.json.stored)).toMatchObject({ counter: 'progress', kind: 'progress', attemptId: a.id, campaignId: cid });
    expect((await rig.c.attempts.get(a.id))?.state).toBe('ringing');
    // The same uuid with no usable callee still finds it.
    const answer = await rig.post('/callbacks/sipcall/status', JSON.stringify(sipcallStatus({ uuid: 'uuid-a', callee: '', status: 'answer' })));
    expect(await recorded(answer.json.stored)).toMatchObject({ kind: 'progress', attemptId: a.id });
    expect((await rig.c.attempts.get(a.id))?.state).toBe('answered');

    // Attempt b: its callee mapping has expired; the CDR comes first and reveals the call uuid.
    await rig.c.redis.del(rig.c.keys.callee('sipcall', b.number));
    const early = await rig.post('/callbacks/sipcall/status', JSON.stringify(sipcallStatus({ uuid: 'uuid-b', callee: b.number, status: 'ring' })));
    // Not tied yet: kept, counted as progress (never an orphan result).
    expect(await recorded(early.json.stored)).toMatchObject({ counter: 'progress', kind: 'orphan', attemptId: null });
    const cdr = await rig.post('/callbacks/sipcall/cdr', JSON.stringify(sipcallCdr({ customuuid: b.id, uuid: 'uuid-b', destnumber: b.number, outcome: 'busy' })));
    expect(await recorded(cdr.json.stored)).toMatchObject({ counter: 'correlated', kind: 'final', attemptId: b.id });
    expect((await rig.c.attempts.get(b.id))?.callUuid).toBe('uuid-b');
    const hangup = await rig.post('/callbacks/sipcall/status', JSON.stringify(sipcallStatus({ uuid: 'uuid-b', callee: '', status: 'hangup' })));
    // Tied through the uuid now; the attempt is final, so it changes nothing.
    expect(await recorded(hangup.json.stored)).toMatchObject({ counter: 'progress', kind: 'ignored', attemptId: b.id });
    const after = await rig.c.attempts.get(b.id);
    expect(after).toMatchObject({ state: 'final', outcome: 'busy' });

    // A CDR without customuuid ties through the uuid too.
    const bare = sipcallCdr({ customuuid: '', uuid: 'uuid-b', destnumber: b.number, outcome: 'busy' });
    const dup = await rig.post('/callbacks/sipcall/cdr', JSON.stringify(bare));
    expect(await recorded(dup.json.stored)).toMatchObject({ counter: 'duplicate', attemptId: b.id });

    const counts = await rig.c.callbackLog.counters(cid);
    expect(counts).toMatchObject({ progress: 3, correlated: 1, duplicate: 1, orphan: 0 });
    const totals = await rig.c.callbackLog.counters(null);
    expect(totals.progress).toBe(4);
  });

  it('keeps a status callback for nobody as progress, and a CDR for an unknown customuuid as an orphan', async () => {
    const before = await rig.c.callbackLog.counters(null);
    const s = await rig.post('/callbacks/sipcall/status', JSON.stringify(sipcallStatus({ uuid: 'uuid-nobody', callee: '19999999999', status: 'hangup' })));
    const c = await rig.post('/callbacks/sipcall/cdr', JSON.stringify(sipcallCdr({ customuuid: 'zzzzzzzz-9-1', uuid: 'uuid-nobody', destnumber: '19999999999', outcome: 'busy' })));
    const g = await rig.post('/callbacks/sipcall/cdr', JSON.stringify(sipcallCdr({ customuuid: 'not-one-of-ours', uuid: 'uuid-x', destnumber: '1', outcome: 'busy' })));
    expect([s.status, c.status, g.status]).toEqual([200, 200, 200]);
    expect(await recorded(s.json.stored)).toMatchObject({ counter: 'progress', kind: 'orphan' });
    expect(await recorded(c.json.stored)).toMatchObject({ counter: 'orphan', kind: 'orphan' });
    expect(await recorded(g.json.stored)).toMatchObject({ counter: 'orphan', kind: 'orphan' });
    const after = await rig.c.callbackLog.counters(null);
    expect(after.orphan - before.orphan).toBe(2);
    expect(after.progress - before.progress).toBe(1);
  });
});

describe('pbx CDRs', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig('cb-pbx');
  });
  afterAll(async () => rig?.close());

  it('ties a CDR by the originated call id', async () => {
    const { cid, attempts } = await campaignWithAttempts(rig.c, PBX_DEF, 1);
    const a = attempts[0]!;
    const res = await rig.post('/callbacks/pbx/cdr', JSON.stringify(pbxCdr({ callId: `orig.${a.idx}`, disposition: 'ANSWERED' })));
    expect(res.status).toBe(200);
    await rig.c.receiver.idle();
    expect(await rig.c.attempts.get(a.id)).toMatchObject({ state: 'final', outcome: 'answered', billsec: 20 });
    expect((await rig.c.callbackLog.counters(cid)).correlated).toBe(1);
  });

  it('parks a CDR that beats the originate response as an orphan, then adopts it once the call id is known', async () => {
    const { cid, attempts } = await campaignWithAttempts(rig.c, PBX_DEF, 1, { accept: false });
    const a = attempts[0]!;
    const callId = 'orig.early.1703145054.787335';
    const before = await rig.c.callbackLog.counters(null);

    const res = await rig.post('/callbacks/pbx/cdr', JSON.stringify(pbxCdr({ callId, disposition: 'BUSY' })));
    expect(res.status).toBe(200);
    await rig.c.receiver.idle();
    expect(await rig.c.callbackLog.results([String(res.json.stored)])).toMatchObject([{ counter: 'orphan', kind: 'orphan' }]);
    expect((await rig.c.callbackLog.counters(null)).orphan - before.orphan).toBe(1);
    expect((await rig.c.attempts.get(a.id))?.state).toBe('dialing');
    // Nothing to adopt for a call id nobody parked.
    expect(await rig.c.receiver.adoptParked('orig.unknown')).toBe(false);

    // The originate response arrives: the id is mapped, and the parked CDR is interpreted.
    await rig.c.service.dialResult(a.id, 'pbx', { kind: 'accepted', providerCallId: callId, detail: 'late response' });
    expect(await rig.c.receiver.adoptParked(callId)).toBe(true);
    expect(await rig.c.attempts.get(a.id)).toMatchObject({ state: 'final', outcome: 'busy', callbackId: String(res.json.stored) });
    const { state } = await rig.c.contacts.state(cid, a.idx);
    expect(state.s).toBe('busy');

    const after = await rig.c.callbackLog.counters(null);
    // The orphan became a correlated result: counted once, under the campaign.
    expect(after.orphan - before.orphan).toBe(0);
    expect(after.correlated - before.correlated).toBe(1);
    expect((await rig.c.callbackLog.counters(cid)).correlated).toBe(1);
    expect(await rig.c.callbackLog.results([String(res.json.stored)])).toMatchObject([{ counter: 'correlated', kind: 'final', attemptId: a.id }]);
    // Adopted once only.
    expect(await rig.c.receiver.adoptParked(callId)).toBe(false);
  });
});
