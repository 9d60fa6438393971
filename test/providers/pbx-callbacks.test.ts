/**
 * The PBX CDR: the Asterisk-field example, dispositions, the configurable
 * call-id field, the zone, form bodies and bad bodies.
 */
import { describe, expect, it } from 'vitest';
import { parsePbxCdr } from '../../src/providers/pbx/callbacks.js';
import { CallbackParseError } from '../../src/providers/types.js';
import { asFormFields, seedRecord } from './support/fixtures.js';

const OPTS = { timezone: 'Asia/Tehran', callIdField: 'originated_call_id' };
const example = () => seedRecord('pbx-cdr-asterisk-example.json');
const unanswered = (disposition: string) => ({ ...example(), disposition, billsec: '0', duration: '25' });

function parseError(fn: () => unknown): CallbackParseError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CallbackParseError) return err;
    throw err;
  }
  throw new Error('expected a CallbackParseError');
}

describe('parsePbxCdr', () => {
  it('reads the Asterisk example: answered, tied by the originated call id, times from calldate in UTC', () => {
    // calldate 2023-12-21 11:20:54 in Tehran (+03:30) is 07:50:54Z; ringing lasted duration - billsec = 7 s.
    expect(parsePbxCdr(example(), OPTS)).toEqual({
      kind: 'result',
      family: 'pbx',
      correlation: { by: 'provider_call_id', value: 'orig.call.1703145054.787335' },
      result: {
        outcome: 'answered',
        billsec: 35,
        answeredAt: '2023-12-21T07:51:01.000Z',
        endedAt: '2023-12-21T07:51:36.000Z',
        hangupCause: 'ANSWERED',
        hangupDirection: null,
        userKey: null,
        providerCallId: '1703145054.787335',
      },
    });
  });

  it('reads numbers as JSON numbers and a form body alike', () => {
    const expected = parsePbxCdr(example(), OPTS);
    expect(parsePbxCdr({ ...example(), duration: 42, billsec: 35 }, OPTS)).toEqual(expected);
    expect(parsePbxCdr(asFormFields(example()), OPTS)).toEqual(expected);
  });

  it('maps each disposition through the default table, keeping the raw one', () => {
    const outcome = (d: string) => {
      const p = parsePbxCdr(unanswered(d), OPTS);
      return p.kind === 'result' ? p.result : null;
    };
    expect(outcome('NO ANSWER')).toMatchObject({ outcome: 'no_answer', answeredAt: null, endedAt: '2023-12-21T07:51:19.000Z', hangupCause: 'NO ANSWER' });
    expect(outcome('no answer')?.outcome).toBe('no_answer');
    expect(outcome('BUSY')?.outcome).toBe('busy');
    expect(outcome('FAILED')?.outcome).toBe('failed');
    expect(outcome('CONGESTION')?.outcome).toBe('failed');
    expect(outcome('SOMETHING ELSE')).toMatchObject({ outcome: 'failed', hangupCause: 'SOMETHING ELSE' });
  });

  it('a partial disposition table is merged over the default', () => {
    const opts = { ...OPTS, dispositions: { outcomes: { 'no answer': 'busy' as const } } };
    const p = parsePbxCdr(unanswered('NO ANSWER'), opts);
    expect(p.kind === 'result' && p.result.outcome).toBe('busy');
    const q = parsePbxCdr(unanswered('BUSY'), opts);
    expect(q.kind === 'result' && q.result.outcome).toBe('busy');
    const r = parsePbxCdr(unanswered('CANCEL'), { ...OPTS, dispositions: { fallback: 'no_answer' as const } });
    expect(r.kind === 'result' && r.result.outcome).toBe('no_answer');
  });

  it('reads the call id from the configured field', () => {
    const { originated_call_id: id, ...rest } = example();
    const p = parsePbxCdr({ ...rest, call_id: id }, { ...OPTS, callIdField: 'call_id' });
    expect(p.correlation).toEqual({ by: 'provider_call_id', value: 'orig.call.1703145054.787335' });
    const err = parseError(() => parsePbxCdr(rest, OPTS));
    expect(err.field).toBe('originated_call_id');
    expect(err.message).toContain('PBX_CDR_CALL_ID_FIELD');
  });

  it.each([
    ['disposition', { disposition: '' }, /missing/],
    ['calldate', { calldate: '' }, /missing/],
    ['calldate', { calldate: '21/12/2023 11:20' }, /time like/],
    ['duration', { duration: 'long' }, /whole number/],
    ['billsec', { billsec: null }, /missing/],
    ['billsec', { billsec: '-1' }, /negative/],
    ['src', { src: { a: 1 } }, /text/],
  ])('a bad %s is a CallbackParseError naming it (%j)', (field, patch, message) => {
    const err = parseError(() => parsePbxCdr({ ...example(), ...patch }, OPTS));
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
  });

  it('refuses a body that is not fields', () => {
    expect(parseError(() => parsePbxCdr('calldate=x', OPTS)).field).toBeNull();
  });
});
