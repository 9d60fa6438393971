/**
 * Correlation in worker processes (AUTODIALER_CORRELATE_IN=worker): the
 * server only stores and answers; correlators lease pending entries from the
 * log, interpret them once, and take over what a dead correlator leased.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startRig, campaignWithAttempts, sipcallCdr, sipcallStatus, SIPCALL_DEF, type Rig } from './support.js';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

async function settled(r: Rig): Promise<void> {
  for (let i = 0; i < 200 && (await r.c.callbackLog.pendingCount()) > 0; i++) await new Promise((res) => setTimeout(res, 10));
}

describe('correlation in worker processes', () => {
  it('stores and answers, leaves interpretation to a correlator, and each entry is applied once', async () => {
    rig = await startRig('cb-deferred', { AUTODIALER_CORRELATE_IN: 'worker' });
    const { c } = rig;
    const { cid, attempts } = await campaignWithAttempts(c, SIPCALL_DEF, 4);
    for (const [i, a] of attempts.entries()) {
      const outcome = i % 2 === 0 ? 'answered' : 'busy';
      const res = await rig.post('/callbacks/sipcall/cdr', JSON.stringify(sipcallCdr({ customuuid: a.id, uuid: `u-${i}`, destnumber: a.number, outcome })));
      expect(res.status).toBe(200);
    }
    // A malformed body is answered 400 and counted on the request path, not stored.
    expect((await rig.post('/callbacks/sipcall/cdr', '{"customuuid": 12')).status).toBe(400);
    // Nothing interpreted yet: stored and pending.
    expect(await c.callbackLog.pendingCount()).toBe(4);
    expect((await c.attempts.get(attempts[0]!.id))?.state).not.toBe('final');

    // Two correlators pull at once: the leases split the entries, none is taken twice.
    const [a, b] = await Promise.all([c.receiver.pull({ limit: 3 }), c.receiver.pull({ limit: 3 })]);
    expect(a + b).toBe(4);
    await c.receiver.idle();
    await settled(rig);
    expect(await c.callbackLog.pendingCount()).toBe(0);
    const counters = await c.callbackLog.counters(cid);
    expect(counters).toMatchObject({ received: 0, correlated: 4, duplicate: 0 });
    const totals = await c.callbackLog.counters(null);
    expect(totals).toMatchObject({ received: 4, correlated: 4, malformed: 1 });
    for (const [i, at] of attempts.entries()) {
      const rec = await c.attempts.get(at.id);
      expect(rec?.state).toBe('final');
      expect(rec?.outcome).toBe(i % 2 === 0 ? 'answered' : 'busy');
      // The CDR's call uuid is indexed with the commit.
      expect(await c.attempts.byCallUuid(`u-${i}`)).toBe(at.id);
    }
    // A status callback for a finished call finds it through that uuid and moves nothing.
    await rig.post('/callbacks/sipcall/status', JSON.stringify(sipcallStatus({ uuid: 'u-0', callee: attempts[0]!.number, status: 'hangup' })));
    expect(await c.receiver.pull()).toBe(1);
    await c.receiver.idle();
    expect((await c.attempts.get(attempts[0]!.id))?.outcome).toBe('answered');
    expect(await c.receiver.pull()).toBe(0);
  });

  it('takes over what a correlator leased and never settled, without applying it twice', async () => {
    rig = await startRig('cb-deferred-lease', { AUTODIALER_CORRELATE_IN: 'worker' });
    const { c } = rig;
    const { cid, attempts } = await campaignWithAttempts(c, SIPCALL_DEF, 2);
    for (const [i, a] of attempts.entries()) {
      await rig.post('/callbacks/sipcall/cdr', JSON.stringify(sipcallCdr({ customuuid: a.id, uuid: `v-${i}`, destnumber: a.number, outcome: 'answered' })));
    }
    const t0 = Date.now();
    // A correlator leases both entries and dies: it applies the first one's result, settles nothing.
    const leased = await c.callbackLog.lease(t0, t0 + 60_000, 10);
    expect(leased.entries.map((e) => e.leasedBefore)).toEqual([false, false]);
    const first = leased.entries[0]!.cb;
    const body = JSON.parse(first.body) as Record<string, unknown>;
    expect(body.customuuid).toBe(attempts[0]!.id);
    const applied = await c.receiver.interpret(first);
    expect(applied.kind).toBe('final');
    // interpret settles; make the first look unsettled again, as if the process died before settling.
    await c.redis.zadd(`${rig.prefix}:callbacks:pending`, t0 + 60_000, first.id);
    await c.redis.hdel(`${rig.prefix}:callbacks:results`, first.id);

    // Within the lease nobody else takes them.
    expect(await c.receiver.pull({ now: t0 + 1000 })).toBe(0);
    // After it, another correlator does; the entry already applied is recognised, not applied or counted twice.
    expect(await c.receiver.pull({ now: t0 + 61_000 })).toBe(2);
    await c.receiver.idle();
    await settled(rig);
    const counters = await c.callbackLog.counters(cid);
    expect(counters.duplicate).toBe(0);
    for (const a of attempts) expect((await c.attempts.get(a.id))?.state).toBe('final');
    expect((await c.campaigns.counts(cid)).byStatus.answered).toBe(2);
  });

  it('leases entries spread over the log, each with its own fields, and drops ids whose entry is gone', async () => {
    rig = await startRig('cb-deferred-spread', { AUTODIALER_CORRELATE_IN: 'worker' });
    const { c } = rig;
    const at = 1_700_000_000_000;
    const ids = await Promise.all(
      Array.from({ length: 30 }, (_, i) => c.callbackLog.append({ kind: 'sipcall-cdr', receivedAt: at + i, remoteIp: '127.0.0.1', contentType: 'application/json', body: JSON.stringify({ n: i }) })),
    );
    // Settled in the middle: pending are the first, the last five, and one whose log entry was deleted.
    await c.callbackLog.settle(ids.slice(1, 25).map((id) => ({ settlement: { id, counter: 'orphan', kind: 'orphan', attemptId: null, campaignId: null } })));
    await c.redis.xdel(c.keys.callbackLog, ids[27]!);
    const leased = await c.callbackLog.lease(at + 100, at + 60_000, 10);
    expect(leased.entries.map((e) => JSON.parse(e.cb.body) as { n: number })).toEqual([{ n: 0 }, { n: 25 }, { n: 26 }, { n: 28 }, { n: 29 }]);
    expect(leased.entries.map((e) => e.cb.id)).toEqual([ids[0], ids[25], ids[26], ids[28], ids[29]]);
    expect(leased.gone).toEqual([ids[27]]);
    // Leased: nobody takes them again before the lease ends; the gone one left the pending set.
    expect((await c.callbackLog.lease(at + 200, at + 60_000, 10)).entries).toEqual([]);
    expect(await c.callbackLog.pendingCount()).toBe(5);
  });

  it('stores callbacks received together in one script call, in order, each with its own id', async () => {
    rig = await startRig('cb-deferred-batch', { AUTODIALER_CORRELATE_IN: 'worker' });
    const { c } = rig;
    const bodies = Array.from({ length: 150 }, (_, i) => JSON.stringify({ n: i }));
    const ids = await Promise.all(bodies.map((body, i) => c.callbackLog.append({ kind: 'sipcall-cdr', receivedAt: 1_700_000_000_000 + i, remoteIp: '127.0.0.1', contentType: 'application/json', body })));
    expect(new Set(ids).size).toBe(150);
    const stored: string[] = [];
    for await (const cb of c.callbackLog.read()) stored.push(cb.body);
    expect(stored).toEqual(bodies);
    const streamIds: string[] = [];
    for await (const cb of c.callbackLog.read()) streamIds.push(cb.id);
    expect(streamIds).toEqual(ids);
    expect(await c.callbackLog.pendingCount()).toBe(150);
    expect((await c.callbackLog.counters(null)).received).toBe(150);
  });
});
