/**
 * The sipcall CDR and status callbacks, from the seeds and in every shape they
 * may take: numbers as strings, form fields, empty times, no customuuid, bad bodies.
 */
import { describe, expect, it } from 'vitest';
import { parseSipcallCdr, parseSipcallStatus } from '../../src/providers/sipcall/callbacks.js';
import { CallbackParseError, type ParsedCallback } from '../../src/providers/types.js';
import { asFormFields, seedRecord } from './support/fixtures.js';

const SH = { timezone: 'Asia/Shanghai' };
const cdr = () => seedRecord('sipcall-cdr.json');
const status = () => seedRecord('sipcall-status-callback.json');
const asForm = asFormFields;

function parseError(fn: () => unknown): CallbackParseError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CallbackParseError) return err;
    throw err;
  }
  throw new Error('expected a CallbackParseError');
}

function resultOf(p: ParsedCallback) {
  if (p.kind !== 'result') throw new Error(`expected a result, got ${p.kind}`);
  return p;
}

describe('parseSipcallCdr', () => {
  it("reads the seed's CDR: answered, correlated by customuuid, times in UTC", () => {
    expect(parseSipcallCdr(cdr(), SH)).toEqual({
      kind: 'result',
      family: 'sipcall',
      correlation: { by: 'customuuid', value: '110001168' },
      result: {
        outcome: 'answered',
        billsec: 10,
        answeredAt: '2020-02-09T04:32:51.000Z',
        endedAt: '2020-02-09T04:33:01.000Z',
        hangupCause: '10001',
        hangupDirection: '10040',
        userKey: '',
        providerCallId: '3418035c-4af5-11ea-afb2-fbc8753285b6',
      },
    });
  });

  it('reads numbers given as strings, and a form-encoded body, to the same result', () => {
    const expected = parseSipcallCdr(cdr(), SH);
    const stringly = Object.fromEntries(Object.entries(cdr()).map(([k, v]) => [k, String(v)]));
    expect(parseSipcallCdr(stringly, SH)).toEqual(expected);
    expect(parseSipcallCdr(asForm(cdr()), SH)).toEqual(expected);
  });

  it('converts wall-clock times in the configured zone', () => {
    const ny = resultOf(parseSipcallCdr(cdr(), { timezone: 'America/New_York' }));
    expect(ny.result.answeredAt).toBe('2020-02-09T17:32:51.000Z');
    const summer = resultOf(parseSipcallCdr({ ...cdr(), answertime: '2020-07-09 12:32:51', endtime: '2020-07-09 12:33:01' }, { timezone: 'America/New_York' }));
    expect(summer.result.answeredAt).toBe('2020-07-09T16:32:51.000Z');
    expect(summer.result.endedAt).toBe('2020-07-09T16:33:01.000Z');
  });

  it('an empty answertime is not answered; the hangup cause decides', () => {
    const base = { ...cdr(), answertime: '', billsec: 0 };
    const by = (hangupcause: unknown) => resultOf(parseSipcallCdr({ ...base, hangupcause }, SH)).result;
    expect(by(17)).toMatchObject({ outcome: 'busy', answeredAt: null, hangupCause: '17', billsec: 0 });
    expect(by('19').outcome).toBe('no_answer');
    expect(by(480).outcome).toBe('no_answer');
    expect(by(34).outcome).toBe('failed');
    expect(by('127').outcome).toBe('failed');
    expect(by(10001).outcome).toBe('no_answer');
    expect(by('')).toMatchObject({ outcome: 'no_answer', hangupCause: null });
    expect(by(16).endedAt).toBe('2020-02-09T04:33:01.000Z');
  });

  it('an answer time with no billed seconds is not answered; the zero date means no answer time', () => {
    expect(resultOf(parseSipcallCdr({ ...cdr(), billsec: '0', hangupcause: 17 }, SH)).result).toMatchObject({ outcome: 'busy', answeredAt: null });
    expect(resultOf(parseSipcallCdr({ ...cdr(), answertime: '0000-00-00 00:00:00', hangupcause: 18 }, SH)).result.outcome).toBe('no_answer');
  });

  it('a partial outcome table is merged over the default', () => {
    const outcomes = { causes: { '10001': 'failed' as const }, fallback: 'failed' as const };
    const unanswered = { ...cdr(), answertime: '', billsec: 0 };
    expect(resultOf(parseSipcallCdr({ ...unanswered, hangupcause: 10001 }, { ...SH, outcomes })).result.outcome).toBe('failed');
    expect(resultOf(parseSipcallCdr({ ...unanswered, hangupcause: 4242 }, { ...SH, outcomes })).result.outcome).toBe('failed');
    expect(resultOf(parseSipcallCdr({ ...unanswered, hangupcause: 17 }, { ...SH, outcomes })).result.outcome).toBe('busy');
  });

  it('without customuuid, correlates by the call uuid with the callee and start time', () => {
    const { customuuid: _drop, ...rest } = cdr();
    for (const body of [rest, { ...cdr(), customuuid: '' }, asForm({ ...cdr(), customuuid: '' })]) {
      expect(parseSipcallCdr(body, SH).correlation).toEqual({
        by: 'call_uuid',
        value: '3418035c-4af5-11ea-afb2-fbc8753285b6',
        callee: '85781218893',
        at: '2020-02-09T04:32:38.000Z',
      });
    }
  });

  it('keeps the key the callee pressed and ignores unknown extra keys', () => {
    const r = resultOf(parseSipcallCdr({ ...cdr(), userkey: '1', newfield: { nested: true }, another: 'x' }, SH));
    expect(r.result.userKey).toBe('1');
  });

  it.each([
    ['billsec', { billsec: 'ten' }, /whole number/],
    ['billsec', { billsec: undefined }, /missing/],
    ['billsec', { billsec: -3 }, /negative/],
    ['hangupcause', { hangupcause: { code: 17 } }, /whole number/],
    ['hangupcause', { hangupcause: '17a' }, /whole number/],
    ['duration', { duration: 13.5 }, /whole number/],
    ['answertime', { answertime: '2020/02/09 12:32:51' }, /2020-02-09 12:32:51/],
    ['answertime', { answertime: '2020-02-30 12:00:00' }, /not a valid time/],
    ['endtime', { endtime: 1581223981 }, /time like/],
    ['customuuid', { customuuid: ['a', 'b'] }, /text/],
    ['customuuid', { customuuid: '', uuid: '' }, /neither customuuid nor uuid/],
  ])('a bad %s is a CallbackParseError naming it (%j)', (field, patch, message) => {
    const body: Record<string, unknown> = { ...cdr(), ...patch };
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete body[k];
    const err = parseError(() => parseSipcallCdr(body, SH));
    expect(err.field).toBe(field);
    expect(err.code).toBe('ERR_CALLBACK_BODY');
    expect(err.message).toContain(field);
    expect(err.message).toMatch(message);
  });

  it.each([[null], [[cdr()]], ['answertime=…'], [42]])('a body that is not fields (%j) is refused', (body) => {
    const err = parseError(() => parseSipcallCdr(body, SH));
    expect(err.field).toBeNull();
    expect(err.message).toMatch(/must be a JSON object or form fields/);
  });
});

describe('parseSipcallStatus', () => {
  it("reads the seed's status callback as progress tied by the call uuid", () => {
    expect(parseSipcallStatus(status(), SH)).toEqual({
      kind: 'progress',
      family: 'sipcall',
      correlation: { by: 'call_uuid', value: 'f4ee8e7a-4a0f-11ea-8126-fbc8753285b6', callee: '85322888486', at: '2020-02-08T01:11:42.000Z' },
      status: 'ring',
      at: '2020-02-08T01:11:42.000Z',
    });
  });

  it('reads numbers as numbers, a form body, and each status', () => {
    const expected = parseSipcallStatus(status(), SH);
    expect(parseSipcallStatus({ ...status(), starttime: 1581124302, companycode: 2028, method: 2 }, SH)).toEqual(expected);
    expect(parseSipcallStatus(asForm(status()), SH)).toEqual(expected);
    for (const s of ['answer', 'hangup', 'HANGUP']) {
      const p = parseSipcallStatus({ ...status(), status: s }, SH);
      expect(p.kind === 'progress' && p.status).toBe(s.toLowerCase());
    }
  });

  it('an empty starttime or callee is null; a wall-clock starttime is read in the zone', () => {
    const p = parseSipcallStatus({ ...status(), starttime: '', callee: '' }, SH);
    expect(p).toMatchObject({ at: null, correlation: { callee: null, at: null } });
    expect(parseSipcallStatus({ ...status(), starttime: '2020-02-08 09:11:42' }, SH)).toMatchObject({ at: '2020-02-08T01:11:42.000Z' });
  });

  it.each([
    ['status', { status: 'busy' }, /one of ring, answer, hangup/],
    ['status', { status: '' }, /missing/],
    ['uuid', { uuid: '' }, /missing/],
    ['starttime', { starttime: 'yesterday' }, /whole number/],
    ['method', { method: 'manual' }, /whole number/],
  ])('a bad %s is a CallbackParseError naming it (%j)', (field, patch, message) => {
    const err = parseError(() => parseSipcallStatus({ ...status(), ...patch }, SH));
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
  });
});
