import { describe, expect, it } from 'vitest';
import { DEFAULT_MIX, DEFAULT_TOKEN, parseScript, parseSimulatorOptions, SimulatorError } from '../../src/simulator/index.js';

function problems(raw: unknown): string {
  try {
    parseSimulatorOptions(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(SimulatorError);
    expect((err as SimulatorError).code).toBe('ERR_SIM_OPTIONS');
    return (err as Error).message;
  }
  throw new Error('expected the options to be refused');
}

describe('parseSimulatorOptions', () => {
  it('applies every default', () => {
    const o = parseSimulatorOptions({});
    expect(o).toMatchObject({
      port: 0,
      host: '127.0.0.1',
      token: DEFAULT_TOKEN,
      callbackUrl: null,
      callbackSecret: null,
      callbackKeyIn: 'query',
      callbackEncoding: 'json',
      callbackDelayMs: 50,
      timeScale: 0.001,
      mix: DEFAULT_MIX,
      script: {},
      cpsCap: 0,
      timezone: 'Asia/Shanghai',
      pbxTimezone: 'Asia/Tehran',
      numbersAsStrings: 'never',
      duplicateCdrRate: 0,
      slowResponseMs: 0,
    });
    expect(o.token).toHaveLength(32);
  });

  it('fills the weights a partial mix leaves out with 0', () => {
    expect(parseSimulatorOptions({ mix: { busy: 2 } }).mix).toEqual({
      answered: 0,
      answered_key: 0,
      no_answer: 0,
      busy: 2,
      failed: 0,
      agent_no_answer: 0,
    });
  });

  it('names each bad field and says what to change, all at once', () => {
    const message = problems({
      token: 'short',
      http5xxRate: 1.5,
      callbackUrl: 'ftp://x',
      timezone: 'Mars/Olympus',
      numbersAsStrings: 'sometimes',
      cpsCap: 2.5,
      mix: { answered: 1, ringing: 1 },
      script: { '13800000000': ['answered', 'maybe'] },
    });
    expect(message).toContain('token must be exactly 32 characters, got 5');
    expect(message).toContain('http5xxRate must be between 0 and 1');
    expect(message).toContain('callbackUrl must be an http(s) URL');
    expect(message).toContain('timezone must be an IANA time zone such as Asia/Shanghai');
    expect(message).toContain('numbersAsStrings must be never, always or random');
    expect(message).toContain('cpsCap must be a whole number');
    expect(message).toContain('mix: unknown key ringing (use answered, answered_key');
    expect(message).toContain('script.13800000000.1: unknown script entry "maybe"');
  });

  it('refuses unknown options and a mix with nothing that can be drawn', () => {
    expect(problems({ cps: 10 })).toContain('options: unknown key cps');
    expect(problems({ mix: { agent_no_answer: 1 } })).toMatch(/mix needs a weight above 0/);
  });
});

describe('parseScript', () => {
  it('accepts every documented entry', () => {
    const entries = [
      'answered', 'answered:1', 'answered:#:30', 'answered::5', 'no_answer', 'busy', 'failed', 'unallocated',
      'agent_no_answer', 'lost', 'reject', 'error500', 'error429', 'reset', 'timeout', 'toofast',
    ];
    expect(parseScript({ '1001': entries })).toEqual({ '1001': entries });
  });

  it('refuses an empty list and a non-list', () => {
    expect(() => parseScript({ '1001': [] })).toThrow(/at least one outcome/);
    expect(() => parseScript({ '1001': 'busy' })).toThrow(/maps a number to a list of outcomes/);
  });
});
