import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { makeWallClock } from '../../src/simulator/callbacks.js';
import { drawOutcome, formatOutcome, parseOutcome, resolveCall } from '../../src/simulator/outcomes.js';
import { makeRng } from '../../src/simulator/rng.js';
import { SlidingWindow } from '../../src/simulator/window.js';

describe('makeWallClock', () => {
  it('formats like luxon in every zone, across DST transitions', () => {
    const fmt = makeWallClock();
    const zones = ['Asia/Shanghai', 'Asia/Tehran', 'America/New_York', 'Europe/London', 'Asia/Kathmandu', 'Australia/Lord_Howe'];
    const mismatches: string[] = [];
    let checked = 0;
    for (const zone of zones) {
      for (let ms = Date.UTC(2020, 0, 1); ms < Date.UTC(2024, 0, 1); ms += 61 * 60 * 1000 + 7_001) {
        const expected = DateTime.fromMillis(ms, { zone }).toFormat('yyyy-MM-dd HH:mm:ss');
        if (fmt(ms, zone) !== expected) mismatches.push(`${zone} ${ms}: ${fmt(ms, zone)} != ${expected}`);
        checked++;
      }
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBeGreaterThan(100_000);
  });
});

describe('SlidingWindow', () => {
  it('finds the busiest second exactly, as a brute force count does', () => {
    const rng = makeRng('window');
    const times: number[] = [];
    let t = 0;
    for (let i = 0; i < 3000; i++) {
      t += rng.int(0, 40);
      times.push(t);
    }
    const w = new SlidingWindow(1000);
    for (const x of times) w.add(x);
    let brute = 0;
    for (const end of times) brute = Math.max(brute, times.filter((x) => x > end - 1000 && x <= end).length);
    expect(w.max).toBe(brute);
  });

  it('counts an event exactly 1000 ms old as outside the window', () => {
    const w = new SlidingWindow(1000);
    w.add(0);
    w.add(500);
    expect(w.count(999)).toBe(2);
    expect(w.count(1000)).toBe(1);
    expect(w.count(1500)).toBe(0);
  });
});

describe('outcomes', () => {
  it('round-trips every script entry through parse and format', () => {
    for (const e of ['answered', 'answered:1', 'answered:1:30', 'answered::30', 'busy', 'lost', 'reset', 'toofast', 'agent_no_answer']) {
      const o = parseOutcome(e);
      expect(o).not.toBeNull();
      expect(formatOutcome(o!)).toBe(e);
    }
    expect(parseOutcome('answered:12')).toBeNull();
    expect(parseOutcome('ANSWERED')).toBeNull();
  });

  it('draws in proportion to the weights, and never agent_no_answer for sipcall', () => {
    const mix = { answered: 3, answered_key: 0, no_answer: 1, busy: 0, failed: 0, agent_no_answer: 1 };
    const rates = { http5xxRate: 0, http429Rate: 0, resetRate: 0, timeoutRate: 0 };
    const count = (family: 'sipcall' | 'pbx') => {
      const seen: Record<string, number> = {};
      for (let i = 0; i < 5000; i++) {
        const label = formatOutcome(drawOutcome(makeRng(`mix|${i}`), mix, family, rates));
        seen[label] = (seen[label] ?? 0) + 1;
      }
      return seen;
    };
    const sip = count('sipcall');
    expect(Object.keys(sip).sort()).toEqual(['answered', 'no_answer']);
    expect(sip.answered! / 5000).toBeGreaterThan(0.7);
    expect(sip.answered! / 5000).toBeLessThan(0.8);
    const pbx = count('pbx');
    expect(Object.keys(pbx).sort()).toEqual(['agent_no_answer', 'answered', 'no_answer']);
    expect(pbx.agent_no_answer! / 5000).toBeGreaterThan(0.15);
    expect(pbx.agent_no_answer! / 5000).toBeLessThan(0.25);
  });

  it('reports a pressed key only for a voice menu, picking one of the routing rule keys', () => {
    const keyed = parseOutcome('answered:')!;
    const drawn = { type: 'call' as const, result: 'answered' as const, key: '', billsec: null };
    expect(keyed.type === 'call' && keyed.key).toBeNull();
    const menu = { family: 'sipcall' as const, keyMenu: true, userid: '2@g1,5@g2', answerTimeoutSec: 30 };
    const keys = new Set(Array.from({ length: 50 }, (_, i) => resolveCall(makeRng(`k${i}`), drawn, menu).key));
    expect([...keys].sort()).toEqual(['2', '5']);
    expect(resolveCall(makeRng('x'), drawn, { ...menu, keyMenu: false }).key).toBe('');
    const pbxAgent = resolveCall(makeRng('y'), { type: 'call', result: 'agent_no_answer', key: null, billsec: null }, { ...menu, family: 'pbx', answerTimeoutSec: 45 });
    expect(pbxAgent).toMatchObject({ disposition: 'no_answer', ringSec: 45, billsec: 0, sendCdr: false });
  });
});
