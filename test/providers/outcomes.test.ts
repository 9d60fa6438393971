import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PBX_DISPOSITIONS,
  normalizeDisposition,
  parsePbxDispositionTable,
  pbxOutcome,
  resolvePbxDispositions,
} from '../../src/providers/pbx/outcomes.js';
import {
  DEFAULT_SIPCALL_OUTCOMES,
  parseSipcallOutcomeTable,
  resolveSipcallOutcomes,
  sipcallOutcome,
} from '../../src/providers/sipcall/outcomes.js';

describe('sipcall outcome table', () => {
  const unanswered = (hangupCause: string | null) => ({ answeredAt: null, billsec: 0, hangupCause });

  it('answered needs both an answer time and billed seconds', () => {
    expect(sipcallOutcome({ answeredAt: '2020-02-09T04:32:51.000Z', billsec: 1, hangupCause: '17' })).toBe('answered');
    expect(sipcallOutcome({ answeredAt: '2020-02-09T04:32:51.000Z', billsec: 0, hangupCause: '17' })).toBe('busy');
    expect(sipcallOutcome({ answeredAt: null, billsec: 12, hangupCause: '18' })).toBe('no_answer');
  });

  it('maps the Q.850-style causes of the default table', () => {
    const by = (codes: number[]) => codes.map((c) => sipcallOutcome(unanswered(String(c))));
    expect(by([17])).toEqual(['busy']);
    expect(by([18, 19, 480])).toEqual(['no_answer', 'no_answer', 'no_answer']);
    const failed = [1, 3, 21, 22, 27, 28, 31, 34, 38, 41, 42, 127];
    expect(by(failed)).toEqual(failed.map(() => 'failed'));
    expect(by([16, 10001])).toEqual(['no_answer', 'no_answer']);
    expect(sipcallOutcome(unanswered(null))).toBe('no_answer');
  });

  it('merges a partial table over the default without changing the default', () => {
    const t = resolveSipcallOutcomes({ causes: { '17': 'no_answer', '600': 'rejected' } });
    expect(sipcallOutcome(unanswered('17'), t)).toBe('no_answer');
    expect(sipcallOutcome(unanswered('600'), t)).toBe('rejected');
    expect(sipcallOutcome(unanswered('34'), t)).toBe('failed');
    expect(t.fallback).toBe('no_answer');
    expect(DEFAULT_SIPCALL_OUTCOMES.causes['17']).toBe('busy');
    expect(resolveSipcallOutcomes({ fallback: 'failed' }).fallback).toBe('failed');
  });

  it('reads an override from raw input, naming each bad entry', () => {
    expect(parseSipcallOutcomeTable({ causes: { '603': 'rejected' } })).toEqual({ causes: { '603': 'rejected' } });
    expect(() => parseSipcallOutcomeTable({ causes: { '17': 'engaged' }, fallback: 'meh' }, 'outcomes.json')).toThrow(
      /outcomes\.json\.causes\.17: must be one of answered, no_answer, busy, failed, rejected, got "engaged"[\s\S]*outcomes\.json\.fallback/,
    );
    expect(() => parseSipcallOutcomeTable({ causes: { busy: 'busy' } })).toThrow(/hangupcause key must be a whole number/);
    expect(() => parseSipcallOutcomeTable({ extra: 1 })).toThrow();
  });
});

describe('pbx disposition table', () => {
  it('maps the Asterisk dispositions, unknown ones to failed', () => {
    expect(['ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED', 'CONGESTION', 'WHATEVER'].map((d) => pbxOutcome(d))).toEqual([
      'answered',
      'no_answer',
      'busy',
      'failed',
      'failed',
      'failed',
    ]);
  });

  it('normalizes case, spacing and underscores', () => {
    expect(normalizeDisposition(' no_answer ')).toBe('NO ANSWER');
    expect(pbxOutcome('No  Answer')).toBe('no_answer');
    expect(pbxOutcome('NOANSWER')).toBe('no_answer');
  });

  it('merges a partial table over the default', () => {
    const t = resolvePbxDispositions({ outcomes: { congestion: 'busy' }, fallback: 'no_answer' });
    expect(pbxOutcome('CONGESTION', t)).toBe('busy');
    expect(pbxOutcome('FAILED', t)).toBe('failed');
    expect(pbxOutcome('CANCEL', t)).toBe('no_answer');
    expect(DEFAULT_PBX_DISPOSITIONS.outcomes.CONGESTION).toBe('failed');
  });

  it('reads an override from raw input, naming each bad entry', () => {
    expect(parsePbxDispositionTable({ outcomes: { CANCEL: 'no_answer' } })).toEqual({ outcomes: { CANCEL: 'no_answer' } });
    expect(() => parsePbxDispositionTable({ outcomes: { BUSY: 'engaged' } })).toThrow(/pbx disposition table\.outcomes\.BUSY: must be one of/);
  });
});
