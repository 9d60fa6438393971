/**
 * The history store on a real PostgreSQL: migrations run once however many
 * processes start together; a batch written twice changes nothing; a row is
 * replaced only by a newer version of itself; text comes back as written
 * (NUL, which PostgreSQL text cannot hold, aside). And the configuration
 * and the archiver role without a database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/infra/logger.js';
import { openHistoryDatabase, type HistoryDatabase } from '../../src/history/pg.js';
import { makePgHistoryStore, type HistoryStore } from '../../src/history/store.js';
import { MIGRATIONS } from '../../src/history/migrations/index.js';
import type { ArchivedAttempt, ArchivedContact } from '../../src/history/records.js';
import { loadConfig, ConfigError } from '../../src/config.js';
import { main } from '../../src/cli/main.js';
import { copyBytes, copyCell } from '../../src/history/copy.js';
import { createDatabase, type TestDatabase } from './support.js';

const log = createLogger({ level: 'silent' });

function attempt(over: Partial<ArchivedAttempt> = {}): ArchivedAttempt {
  return {
    id: 'abcdefgh-0-1',
    cid: 'abcdefgh',
    idx: 0,
    n: 1,
    family: 'sipcall',
    number: '13800000001',
    e164: '+8613800000001',
    state: 'final',
    outcome: 'answered',
    late: false,
    inDoubt: false,
    ver: 3,
    dialingAt: Date.parse('2026-01-05T02:00:00.123Z'),
    acceptedAt: Date.parse('2026-01-05T02:00:00.456Z'),
    ringingAt: null,
    answeredAt: '2026-01-05T02:00:08.000Z',
    endedAt: '2026-01-05T02:00:20.000Z',
    finalAt: Date.parse('2026-01-05T02:00:21.789Z'),
    billsec: 12.5,
    hangupcause: '16',
    hangupdirection: '10040',
    userkey: '1',
    providerCallId: null,
    callUuid: 'c1d2',
    dialKind: 'accepted',
    resultSource: 'cdr',
    error: null,
    duplicates: 1,
    conflicts: null,
    correctedFrom: null,
    callbackId: '1767578400000-0',
    ...over,
  };
}

function contact(over: Partial<ArchivedContact> = {}): ArchivedContact {
  return {
    campaignId: 'abcdefgh',
    idx: 0,
    line: 2,
    number: '13800000001',
    e164: '+8613800000001',
    zone: null,
    columns: ['13800000001', 'tab\there, "quoted"\nnew line \\ back\\slash \u0000 nul', 'ünï €'],
    custom: null,
    result: {
      status: 'answered',
      attempts: 1,
      customuuid: 'abcdefgh-0-1',
      provider_call_id: 'c1d2',
      billsec: 12.5,
      userkey: '1',
      answered_at: '2026-01-05T02:00:08.000Z',
      ended_at: '2026-01-05T02:00:20.000Z',
      hangupcause: '16',
      error: null,
      late: false,
    },
    dials: 1,
    reason: null,
    ...over,
  };
}

describe('the history store', () => {
  let tdb: TestDatabase;
  let db: HistoryDatabase;
  let store: HistoryStore;

  beforeAll(async () => {
    tdb = await createDatabase('store');
    db = openHistoryDatabase(tdb.url, log);
    store = makePgHistoryStore(db);
  });
  afterAll(async () => {
    await db?.close();
    await tdb?.drop();
  });

  it('applies each migration once, however many processes start together', async () => {
    const others = Array.from({ length: 4 }, () => openHistoryDatabase(tdb.url, log));
    await Promise.all([db.ready(), ...others.map((o) => o.ready())]);
    await Promise.all(others.map((o) => o.close()));
    const again = openHistoryDatabase(tdb.url, log);
    await again.ready();
    await again.close();
    const { rows } = await tdb.pool.query<{ version: number; name: string }>('SELECT version, name FROM autodialer.migrations ORDER BY version');
    expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    const tables = await tdb.pool.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'autodialer' ORDER BY 1");
    expect(tables.rows.map((r) => r.t)).toEqual(['attempts', 'callbacks', 'campaigns', 'contacts', 'migrations']);
  });

  it('writes a batch twice and changes nothing the second time; a row gives way only to a newer version of itself', async () => {
    const cb = { id: '1767578400000-0', kind: 'sipcall-cdr', receivedAt: 1767578400000, remoteIp: '127.0.0.1', contentType: 'application/json', body: '{"a":"\\t\\n"}\tx\\y', settlement: null };
    const batch = { contacts: [contact()], attempts: [attempt()], callbacks: [cb] };
    expect(await store.write(batch)).toEqual({ contacts: 1, attempts: 1, callbacks: 1 });
    expect(await store.write(batch)).toEqual({ contacts: 0, attempts: 0, callbacks: 0 });

    // An older version of the attempt is not written over a newer one; a newer one is.
    expect((await store.write({ attempts: [attempt({ ver: 2, outcome: 'busy' })] })).attempts).toBe(0);
    expect((await store.write({ attempts: [attempt({ ver: 4, duplicates: 2 })] })).attempts).toBe(1);
    // A contact read while it was leaving Redis (no state, no attempt) never replaces what was archived.
    const fresh = contact({ dials: 0, result: { ...contact().result, status: 'pending', attempts: 0, customuuid: null } });
    expect((await store.write({ contacts: [fresh] })).contacts).toBe(0);
    // A late correction does.
    expect((await store.write({ contacts: [contact({ result: { ...contact().result, late: true } })] })).contacts).toBe(1);
    // A callback's settlement moves (an orphan adopted), its body never.
    const adopted = { ...cb, body: 'other', settlement: { counter: 'correlated' as const, kind: 'final', attemptId: 'abcdefgh-0-1', campaignId: 'abcdefgh' } };
    expect((await store.write({ callbacks: [adopted] })).callbacks).toBe(1);

    const [c] = await store.contacts('abcdefgh', 0, 10);
    expect(c).toEqual({ ...contact({ result: { ...contact().result, late: true } }), columns: contact().columns });
    const [a] = await store.attempts('abcdefgh', 0, 1);
    expect(a).toEqual(attempt({ ver: 4, duplicates: 2 }));
    const stored = await tdb.pool.query<{ body: string; counter: string; attempt_id: string }>('SELECT body, counter, attempt_id FROM autodialer.callbacks');
    expect(stored.rows).toEqual([{ body: cb.body, counter: 'correlated', attempt_id: 'abcdefgh-0-1' }]);
    expect(await store.numberHistory(['+8613800000001'], 10)).toEqual([{ ...attempt({ ver: 4, duplicates: 2 }), campaignName: null }]);
  });

  it('COPYs rows written for the first time straight in, and takes the upsert when some were there already', async () => {
    const ids = ['abcdefgh-5-1', 'abcdefgh-6-1'];
    const first = await store.write({ attempts: [attempt({ id: ids[0], idx: 5 })], contacts: [contact({ idx: 5 })] }, { fresh: true });
    expect(first).toEqual({ contacts: 1, attempts: 1, callbacks: 0 });
    // Written again (a crash before Redis was told), with one new row beside it: nothing doubled, the new one in.
    const again = await store.write({ attempts: [attempt({ id: ids[0], idx: 5 }), attempt({ id: ids[1], idx: 6 })], contacts: [contact({ idx: 5 })] }, { fresh: true });
    expect(again).toEqual({ contacts: 0, attempts: 1, callbacks: 0 });
    expect((await store.attempts('abcdefgh', 5, 7)).map((a) => a.id)).toEqual(ids);
    expect(await store.counts('abcdefgh')).toMatchObject({ contacts: 2, attempts: 3 });
  });

  it('keeps NUL out of text columns (PostgreSQL text cannot hold it) and in JSON ones', async () => {
    await store.write({ attempts: [attempt({ id: 'abcdefgh-1-1', idx: 1, error: 'a\u0000b' })], contacts: [contact({ idx: 1 })] });
    const [a] = await store.attempts('abcdefgh', 1, 2);
    expect(a?.error).toBe('a\uFFFDb');
    const [c] = await store.contacts('abcdefgh', 1, 1);
    expect(c?.columns[1]).toContain('\u0000');
  });
});

describe('COPY text', () => {
  it('escapes a body given as bytes exactly as the same body given as text', () => {
    const samples = ['{"plain":"json"}', 'tab\there', 'line\nbreak\r\n', 'back\\slash \\t', 'nul\u0000byte', 'ünï €𝄞', '', '\\\t\n\r\u0000'];
    for (const text of samples) expect(copyBytes(Buffer.from(text)).toString()).toBe(copyCell(text));
  });
});

describe('without a database', () => {
  it('checks DATABASE_URL, AUTODIALER_REDIS_KEEP and AUTODIALER_ARCHIVER_THREAD, naming them', () => {
    expect(loadConfig({}, null).history).toEqual({ databaseUrl: null, redisKeepMs: 3_600_000, callbackThread: true });
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/x', AUTODIALER_REDIS_KEEP: '0', AUTODIALER_ARCHIVER_THREAD: 'off' }, null).history).toEqual({
      databaseUrl: 'postgres://u:p@db:5432/x',
      redisKeepMs: 0,
      callbackThread: false,
    });
    let err: unknown;
    try {
      loadConfig({ DATABASE_URL: 'mysql://db/x', AUTODIALER_REDIS_KEEP: 'soon', AUTODIALER_ARCHIVER_THREAD: 'yes' }, null);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.join('\n')).toMatch(/^DATABASE_URL: must be a PostgreSQL URL/m);
    expect((err as ConfigError).problems.join('\n')).toMatch(/^AUTODIALER_REDIS_KEEP: invalid duration "soon"/m);
    expect((err as ConfigError).problems.join('\n')).toMatch(/^AUTODIALER_ARCHIVER_THREAD: must be on or off, got "yes"/m);
  });

  it('refuses the archiver role', async () => {
    let err = '';
    const code = await main(['node', 'autodialer', 'archiver'], { out: () => undefined, err: (t) => (err += t), env: { LOG_LEVEL: 'silent' }, isTty: false });
    expect(code).toBe(2);
    expect(err).toMatch(/autodialer archiver: set DATABASE_URL/);
  });
});
