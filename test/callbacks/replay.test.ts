/**
 * Replay over the stored log reproduces the same records (and never counts or
 * applies an entry twice); entries stored by a process that stopped before
 * interpreting them are recovered by the next one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../../src/app/container.js';
import { campaignWithAttempts, PBX_DEF, pbxCdr, SIPCALL_DEF, sipcallCdr, sipcallStatus, startRig, stopRigKeepingKeys, type Rig } from './support.js';
import { testPrefix } from '../support/redis.js';

/** Everything replay could change: attempts, contacts, campaign counts, callback counters and settlements. */
async function snapshot(c: Container, cids: string[], attemptIds: string[]) {
  const r = c.redis;
  const out: Record<string, unknown> = {};
  for (const id of attemptIds) {
    const a = await c.attempts.get(id);
    out[`attempt ${id}`] = a ? { ...a.stored, ver: String(a.ver) } : null;
  }
  for (const cid of cids) {
    out[`contacts ${cid}`] = await r.hgetall(c.keys.contactState(cid));
    out[`counts ${cid}`] = await r.hgetall(c.keys.counts(cid));
    out[`callbacks ${cid}`] = await c.callbackLog.counters(cid);
  }
  out.totals = await c.callbackLog.counters(null);
  out.results = await r.hgetall(`${c.keys.callbackLog}:results`);
  out.pending = await c.callbackLog.pendingCount();
  return out;
}

describe('replay', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig('cb-replay');
  });
  afterAll(async () => rig?.close());

  it('reproduces the same outcomes and counts, and ties an orphan whose attempt became known', async () => {
    const { c } = rig;
    const { cid, attempts } = await campaignWithAttempts(c, SIPCALL_DEF, 4);
    const [a, b, d, e] = attempts as [(typeof attempts)[0], (typeof attempts)[0], (typeof attempts)[0], (typeof attempts)[0]];
    const cdr = (x: typeof a, outcome: 'answered' | 'busy') => JSON.stringify(sipcallCdr({ customuuid: x.id, uuid: `u-${x.idx}`, destnumber: x.number, outcome }));
    // a: CDR and its duplicate; b: ring then CDR; d: deadline, late CDR, its duplicate; e: one CDR.
    await rig.post('/callbacks/sipcall/cdr', cdr(a, 'answered'));
    await rig.post('/callbacks/sipcall/cdr', cdr(a, 'answered'));
    await rig.post('/callbacks/sipcall/status', JSON.stringify(sipcallStatus({ uuid: `u-${b.idx}`, callee: b.number, status: 'ring' })));
    // The ring is interpreted before the CDR is sent (the two have different correlation keys: sent together, either may apply first).
    await c.receiver.idle();
    await rig.post('/callbacks/sipcall/cdr', cdr(b, 'busy'));
    await c.receiver.idle();
    expect(await c.service.deadline(d.id)).toBe('no_result');
    await rig.post('/callbacks/sipcall/cdr', cdr(d, 'answered'));
    await rig.post('/callbacks/sipcall/cdr', cdr(d, 'answered'));
    await rig.post('/callbacks/sipcall/cdr', cdr(e, 'busy'));
    // Unreadable, unknown, and a status for nobody.
    await rig.post('/callbacks/sipcall/cdr', '{"billsec": "ten"}');
    await rig.post('/callbacks/sipcall/cdr', JSON.stringify(sipcallCdr({ customuuid: 'zzzzzzzz-1-1', uuid: 'u-z', destnumber: '1', outcome: 'busy' })));
    await rig.post('/callbacks/sipcall/status', JSON.stringify(sipcallStatus({ uuid: 'u-nobody', callee: '19999999999', status: 'ring' })));
    // pbx: a CDR before its originate response (an orphan), then the response maps the id — but nobody adopts it.
    const pbx = await campaignWithAttempts(c, PBX_DEF, 1, { accept: false });
    const p = pbx.attempts[0]!;
    await rig.post('/callbacks/pbx/cdr', JSON.stringify(pbxCdr({ callId: 'orig.p', disposition: 'ANSWERED' })));
    await c.receiver.idle();
    await c.service.dialResult(p.id, 'pbx', { kind: 'accepted', providerCallId: 'orig.p', detail: '' });

    const ids = [...attempts.map((x) => x.id), p.id];
    const before = await snapshot(c, [cid, pbx.cid], ids);
    expect(before[`callbacks ${cid}`]).toMatchObject({ correlated: 3, duplicate: 2, late: 1, conflict: 0, progress: 1 });
    // The unreadable one was counted, not stored: replay never sees it.
    expect(before.totals).toMatchObject({ received: 10, malformed: 1, orphan: 2, progress: 2 });
    expect((before[`attempt ${p.id}`] as Record<string, string>).state).toBe('accepted');

    const tally = await c.receiver.replay();
    // final: a, b, e and the pbx orphan now tied; orphan: the unknown customuuid and the status for nobody.
    expect(tally).toEqual({ final: 4, duplicate: 2, late: 1, progress: 1, orphan: 2 });
    const after = await snapshot(c, [cid, pbx.cid], ids);

    // The sipcall campaign is exactly as it was: no outcome changed, no counter grew.
    for (const key of [`callbacks ${cid}`, `contacts ${cid}`, `counts ${cid}`, ...attempts.map((x) => `attempt ${x.id}`)]) {
      expect(after[key], key).toEqual(before[key]);
    }
    // The pbx orphan now ties: its attempt is final, and its count moved from orphan to correlated.
    expect(after[`attempt ${p.id}`]).toMatchObject({ state: 'final', outcome: 'answered' });
    expect(after[`callbacks ${pbx.cid}`]).toMatchObject({ correlated: 1 });
    expect(after.totals).toEqual({ ...(before.totals as object), orphan: 1, correlated: (before.totals as { correlated: number }).correlated + 1 });

    // A second replay changes nothing at all.
    expect(await c.receiver.replay()).toEqual(tally);
    expect(await snapshot(c, [cid, pbx.cid], ids)).toEqual(after);
  });
});

describe('a second CDR that contradicts the first', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig('cb-conflict');
  });
  afterAll(async () => rig?.close());

  it('keeps the first outcome and counts one conflict', async () => {
    const { cid, attempts } = await campaignWithAttempts(rig.c, SIPCALL_DEF, 1);
    const a = attempts[0]!;
    const cdr = (outcome: 'answered' | 'busy') => JSON.stringify(sipcallCdr({ customuuid: a.id, uuid: 'u-a', destnumber: a.number, outcome }));
    await rig.post('/callbacks/sipcall/cdr', cdr('busy'));
    await rig.c.receiver.idle();
    const second = await rig.post('/callbacks/sipcall/cdr', cdr('answered'));
    await rig.c.receiver.idle();
    expect(await rig.c.attempts.get(a.id)).toMatchObject({ state: 'final', outcome: 'busy', conflicts: 1 });
    expect(await rig.c.callbackLog.counters(cid)).toMatchObject({ correlated: 1, conflict: 1 });
    expect(await rig.c.callbackLog.results([String(second.json.stored)])).toMatchObject([{ counter: 'conflict' }]);
    expect(await rig.c.callbackLog.pendingCount()).toBe(0);
  });
});

describe('recovery of callbacks stored but never interpreted', () => {
  const prefix = testPrefix('cb-recover');
  let first: Rig | null = null;
  let next: Rig[] = [];
  afterAll(async () => {
    if (first) await stopRigKeepingKeys(first).catch(() => undefined);
    for (const r of next) await r.close();
  });

  it('interprets them when the next servers start, applying and counting each once', async () => {
    first = await startRig('cb-recover', {}, { prefix });
    const { c } = first;
    const { cid, attempts } = await campaignWithAttempts(c, SIPCALL_DEF, 2);
    const [a, b] = [attempts[0]!, attempts[1]!];
    const raw = (body: string) => ({ kind: 'sipcall-cdr' as const, receivedAt: Date.now(), remoteIp: '127.0.0.1', contentType: 'application/json', body });
    // Stored, then the process stopped: never interpreted.
    const untouched = await c.callbackLog.append(raw(JSON.stringify(sipcallCdr({ customuuid: a.id, uuid: 'u-a', destnumber: a.number, outcome: 'answered' }))));
    // Stored and applied to its attempt, but the process stopped before settling it.
    const body = sipcallCdr({ customuuid: b.id, uuid: 'u-b', destnumber: b.number, outcome: 'busy' });
    const applied = await c.callbackLog.append(raw(JSON.stringify(body)));
    expect(await c.service.result(b.id, 'sipcall', { outcome: 'busy', billsec: 0, answeredAt: null, endedAt: null, hangupCause: '17', hangupDirection: null, userKey: '', providerCallId: 'u-b' }, applied)).toBe('final');
    const unreadable = await c.callbackLog.append(raw('{"customuuid": '));
    expect(await c.callbackLog.pendingCount()).toBe(3);
    await stopRigKeepingKeys(first);
    first = null;

    // Two processes start at once, two minutes later, on the same Redis: each entry is claimed by one of them.
    next = await Promise.all([1, 2].map(() => startRig('cb-recover', {}, { prefix, now: () => Date.now() + 120_000 })));
    const [second, third] = next as [Rig, Rig];
    await Promise.all(next.map((r) => r.c.receiver.idle()));
    const log = second.c.callbackLog;
    expect(await log.pendingCount()).toBe(0);
    expect(await log.results([untouched, applied, unreadable])).toMatchObject([
      { counter: 'correlated', attemptId: a.id },
      { counter: 'correlated', attemptId: b.id },
      { counter: 'malformed' },
    ]);
    expect(await second.c.attempts.get(a.id)).toMatchObject({ state: 'final', outcome: 'answered' });
    // Applied once only: not seen as a duplicate of itself.
    expect(await second.c.attempts.get(b.id)).toMatchObject({ state: 'final', outcome: 'busy', duplicates: 0 });
    expect(await log.counters(cid)).toMatchObject({ correlated: 2, duplicate: 0 });
    expect(await log.counters(null)).toMatchObject({ received: 3, correlated: 2, malformed: 1, duplicate: 0 });
    expect(await second.c.receiver.recover({ olderThanMs: 0 })).toBe(0);
    expect(await third.c.receiver.recover({ olderThanMs: 0 })).toBe(0);
  });
});
