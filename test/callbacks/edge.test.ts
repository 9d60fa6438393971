/**
 * The edge of the callback routes: refusals (401 / 403, counted, nothing
 * stored, the secret never logged) and malformed bodies (400 naming the
 * field, counted malformed, logged by their first bytes, never stored).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asForm, AUTH, numberOf, SECRET, sipcallCdr, sipcallStatus, startRig, type Rig } from './support.js';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/shared.js';
import { REDIS_URL } from '../support/redis.js';

const WRONG = 'wrong-key-presented-by-somebody';

describe('refused callbacks', () => {
  let rig: Rig;
  beforeAll(async () => {
    // Only one address may post sipcall callbacks; pbx takes any address.
    rig = await startRig('cb-auth', { SIPCALL_CALLBACK_ALLOW_IPS: '10.9.9.9' });
  });
  afterAll(async () => rig?.close());

  it('answers 401 without the key or with a wrong one (query or header), 403 outside the allow-list, counts each and stores none', async () => {
    const body = JSON.stringify({ originated_call_id: 'orig.x', disposition: 'ANSWERED', calldate: '2026-01-05 10:20:54', duration: 5, billsec: 3 });
    const before = await rig.c.callbackLog.counters(null);
    const stored = await rig.c.callbackLog.length();

    const none = await rig.post('/callbacks/pbx/cdr', body, { key: null });
    const wrongQuery = await rig.post('/callbacks/pbx/cdr', body, { key: WRONG });
    const wrongHeader = await rig.post('/callbacks/pbx/cdr', body, { key: WRONG, header: true });
    const emptyHeader = await rig.post('/callbacks/pbx/cdr', body, { key: '', header: true });
    expect([none.status, wrongQuery.status, wrongHeader.status, emptyHeader.status]).toEqual([401, 401, 401, 401]);
    expect(none.json).toEqual({ error: 'missing or wrong callback key' });

    // Right key, wrong address: the allow-list refuses before the key is looked at.
    const cdr = JSON.stringify(sipcallCdr({ customuuid: 'abcdefgh-1-1', uuid: 'u-1', destnumber: numberOf(1), outcome: 'busy' }));
    const outside = await rig.post('/callbacks/sipcall/cdr', cdr, { header: true });
    const outsideStatus = await rig.post('/callbacks/sipcall/status', JSON.stringify(sipcallStatus({ uuid: 'u-1', callee: numberOf(1), status: 'ring' })));
    expect([outside.status, outsideStatus.status]).toEqual([403, 403]);
    expect(outside.json).toEqual({ error: 'address not allowed' });

    const after = await rig.c.callbackLog.counters(null);
    expect(after.unauthorized - before.unauthorized).toBe(4);
    expect(after.forbidden - before.forbidden).toBe(2);
    expect(after.received - before.received).toBe(0);
    expect(await rig.c.callbackLog.length()).toBe(stored);

    // The right key over the pbx route (no allow-list) is taken.
    const ok = await rig.post('/callbacks/pbx/cdr', body, { header: true });
    expect(ok.status).toBe(200);
    await rig.c.receiver.idle();
    expect((await rig.c.callbackLog.counters(null)).received - before.received).toBe(1);
  });

  it('shows the deployment-wide counts, refusals included, to a monitoring system and on the command line', async () => {
    const before = await rig.c.callbackLog.counters(null);
    expect((await rig.post('/callbacks/pbx/cdr', '{}', { key: WRONG })).status).toBe(401);
    const orphan = JSON.stringify({ originated_call_id: 'orig.nobody', disposition: 'BUSY', calldate: '2026-01-05 10:20:54', duration: 3, billsec: 0 });
    expect((await rig.post('/callbacks/pbx/cdr', orphan, { header: true })).status).toBe(200);
    await rig.c.receiver.idle();
    const res = await fetch(`${rig.url}/metrics`, { headers: AUTH });
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const sample = (line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1]);
    expect(text).toContain('# TYPE autodialer_callbacks_total counter');
    expect(sample('autodialer_callbacks_total{kind="unauthorized"}')).toBe(before.unauthorized + 1);
    expect(sample('autodialer_callbacks_total{kind="orphan"}')).toBe(before.orphan + 1);
    expect(sample('autodialer_callbacks_total{kind="received"}')).toBe(before.received + 1);
    expect(sample('autodialer_callbacks_stored')).toBe(await rig.c.callbackLog.length());
    expect(sample('autodialer_callbacks_pending')).toBe(0);
    // Every sample line is well formed: a metric name, optional labels, a number.
    for (const line of text.trim().split('\n').filter((l) => l.startsWith('autodialer_'))) expect(line).toMatch(/^autodialer_[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? [0-9.e+-]+$/);

    let out = '';
    const io: CliIo = { out: (t) => (out += t), err: () => undefined, env: { REDIS_URL, AUTODIALER_PREFIX: rig.prefix, LOG_LEVEL: 'silent' }, isTty: false };
    expect(await main(['node', 'autodialer', 'callbacks', 'stats', '--json'], io)).toBe(0);
    const stats = JSON.parse(out) as { counters: Record<string, number>; stored: number; pending: number };
    expect(stats.counters.unauthorized).toBe(before.unauthorized + 1);
    expect(stats).toMatchObject({ stored: await rig.c.callbackLog.length(), pending: 0 });
  });

  it('never writes the secret or a presented key to the log', async () => {
    // Exercise every path that logs: refusals, an orphan, a malformed body, and a body over the size limit.
    await rig.post('/callbacks/pbx/cdr', '{}', { key: WRONG });
    await rig.post('/callbacks/pbx/cdr', JSON.stringify({ originated_call_id: 'orig.nobody', disposition: 'BUSY', calldate: '2026-01-05 10:20:54', duration: 5, billsec: 0 }));
    await rig.post('/callbacks/pbx/cdr', '{"disposition": 7', { header: true });
    await rig.post('/callbacks/pbx/cdr', `{"pad": "${'x'.repeat(80 * 1024)}"}`);
    await rig.c.receiver.idle();
    const logs = rig.logs();
    // The log did record these requests (an orphan warning at least), so it is not empty by accident.
    expect(logs).toMatch(/kept as orphan/);
    expect(logs).not.toContain(SECRET);
    expect(logs).not.toContain(WRONG);
  });
});

describe('unreadable callback bodies', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig('cb-malformed');
  });
  afterAll(async () => rig?.close());

  const good = () => sipcallCdr({ customuuid: 'abcdefgh-1-1', uuid: 'u-1', destnumber: numberOf(1), outcome: 'answered' });
  const without = (o: Record<string, unknown>, ...fields: string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => !fields.includes(k)));

  const CASES: { name: string; path: string; body: string; contentType?: string; field: string | null; says: RegExp }[] = [
    { name: 'not JSON', path: '/callbacks/sipcall/cdr', body: '{"customuuid": "abc", ', field: null, says: /not valid JSON/ },
    { name: 'a JSON array', path: '/callbacks/sipcall/cdr', body: '[1, 2]', field: null, says: /JSON object or form fields, got a JSON array/ },
    { name: 'an empty body', path: '/callbacks/sipcall/cdr', body: ' ', field: null, says: /empty body/ },
    { name: 'billsec "ten"', path: '/callbacks/sipcall/cdr', body: JSON.stringify({ ...good(), billsec: 'ten' }), field: 'billsec', says: /billsec must be a whole number.*"ten"/ },
    { name: 'billsec missing', path: '/callbacks/sipcall/cdr', body: JSON.stringify(without(good(), 'billsec')), field: 'billsec', says: /billsec is missing/ },
    { name: 'answertime not a time', path: '/callbacks/sipcall/cdr', body: JSON.stringify({ ...good(), answertime: 'yesterday' }), field: 'answertime', says: /answertime must be a time/ },
    { name: 'no customuuid and no uuid', path: '/callbacks/sipcall/cdr', body: JSON.stringify(without(good(), 'customuuid', 'uuid')), field: 'customuuid', says: /neither customuuid nor uuid/ },
    { name: 'status without uuid', path: '/callbacks/sipcall/status', body: JSON.stringify(without(sipcallStatus({ uuid: 'u', callee: '1', status: 'ring' }), 'uuid')), field: 'uuid', says: /uuid is missing/ },
    { name: 'status "dialing"', path: '/callbacks/sipcall/status', body: JSON.stringify({ ...sipcallStatus({ uuid: 'u', callee: '1', status: 'ring' }), status: 'dialing' }), field: 'status', says: /status must be one of ring, answer, hangup/ },
    { name: 'pbx CDR without the call id', path: '/callbacks/pbx/cdr', body: JSON.stringify({ disposition: 'ANSWERED', calldate: '2026-01-05 10:20:54', duration: 5, billsec: 3 }), field: 'originated_call_id', says: /originated_call_id is missing/ },
    { name: 'pbx CDR with duration -4', path: '/callbacks/pbx/cdr', body: JSON.stringify({ originated_call_id: 'o.1', disposition: 'ANSWERED', calldate: '2026-01-05 10:20:54', duration: -4, billsec: 0 }), field: 'duration', says: /duration must not be negative/ },
    { name: 'form: billsec "ten"', path: '/callbacks/sipcall/cdr', body: asForm({ ...good(), billsec: 'ten' }), contentType: 'application/x-www-form-urlencoded', field: 'billsec', says: /billsec must be a whole number/ },
    { name: 'form: no correlation', path: '/callbacks/sipcall/cdr', body: asForm(without(good(), 'customuuid', 'uuid')), contentType: 'application/x-www-form-urlencoded; charset=utf-8', field: 'customuuid', says: /neither customuuid nor uuid/ },
    { name: 'form: pbx without the call id', path: '/callbacks/pbx/cdr', body: 'disposition=BUSY&calldate=2026-01-05+10%3A20%3A54&duration=3&billsec=0', contentType: 'application/x-www-form-urlencoded', field: 'originated_call_id', says: /originated_call_id is missing/ },
  ];

  it.each(CASES)('$name → 400 naming the field, counted malformed, not stored', async (t) => {
    const before = await rig.c.callbackLog.counters(null);
    const stored = await rig.c.callbackLog.length();
    const res = await rig.post(t.path, t.body, t.contentType ? { contentType: t.contentType } : {});
    expect(res.status).toBe(400);
    expect(res.json.field).toBe(t.field);
    expect(String(res.json.error)).toMatch(t.says);
    expect(res.json.stored).toBeUndefined();
    expect(await rig.c.callbackLog.length()).toBe(stored);
    const after = await rig.c.callbackLog.counters(null);
    expect(after.malformed - before.malformed).toBe(1);
    expect(after.received - before.received).toBe(0);
    expect(after.orphan - before.orphan).toBe(0);
    expect(await rig.c.callbackLog.pendingCount()).toBe(0);
  });

  it('keeps nothing of many large malformed bodies, and logs only their first bytes, numbers masked', async () => {
    const before = await rig.c.callbackLog.counters(null);
    const stored = await rig.c.callbackLog.length();
    const keysOf = async () => {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await rig.c.redis.scan(cursor, 'MATCH', `${rig.prefix}:*`, 'COUNT', 1000);
        found.push(...keys);
        cursor = next;
      } while (cursor !== '0');
      return found.sort();
    };
    const keysBefore = await keysOf();
    // Valid JSON of 60 KB, but not a CDR (no billsec), with a phone number at its start.
    const body = JSON.stringify({ destnumber: '13912345678', pad: 'p'.repeat(60 * 1024) });
    const answers = await Promise.all(Array.from({ length: 50 }, () => rig.post('/callbacks/sipcall/cdr', body)));
    expect(answers.every((a) => a.status === 400)).toBe(true);
    expect((await rig.c.callbackLog.counters(null)).malformed - before.malformed).toBe(50);
    expect(await rig.c.callbackLog.length()).toBe(stored);
    expect(await keysOf()).toEqual(keysBefore);
    const lines = rig
      .logs()
      .split('\n')
      .filter((l) => l.includes('malformed callback refused'))
      .map((l) => JSON.parse(l) as { start: string; bytes: number; kind: string; field: string });
    expect(lines.length).toBeGreaterThanOrEqual(50);
    const last = lines[lines.length - 1]!;
    expect(last).toMatchObject({ kind: 'sipcall-cdr', bytes: body.length });
    expect(Buffer.byteLength(last.start)).toBeLessThanOrEqual(64);
    expect(last.start).toBe('{"destnumber":"<11 digits>","pad":"'.padEnd(64, 'p'));
    expect(rig.logs()).not.toContain('13912345678');
    expect(rig.logs()).not.toContain('p'.repeat(100));
  });

  it('takes a well-formed form-encoded CDR like its JSON twin', async () => {
    const before = await rig.c.callbackLog.counters(null);
    const res = await rig.post('/callbacks/sipcall/cdr', asForm(good()), { contentType: 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(200);
    await rig.c.receiver.idle();
    const [recorded] = await rig.c.callbackLog.results([String(res.json.stored)]);
    // Its attempt does not exist: kept as an orphan, not refused.
    expect(recorded).toMatchObject({ counter: 'orphan', kind: 'orphan' });
    const after = await rig.c.callbackLog.counters(null);
    expect(after.orphan - before.orphan).toBe(1);
    expect(after.malformed - before.malformed).toBe(0);
  });
});
