/**
 * The Redis byte budget, on real Redis, by MEMORY USAGE (bytes are
 * deterministic where timings are not): contacts dialed through the attempt
 * service, each with its status callbacks and CDR posted to the server and
 * correlated, then the raw callbacks past their retention.
 *   - every attempt record ≤ 250 B;
 *   - per dialed contact, everything its campaign keeps once its raw
 *     callbacks have gone, ≤ 1 KB.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCallbackRetention } from '../../src/store/callback-retention.js';
import { campaignWithAttempts, SIPCALL_DEF, sipcallCdr, sipcallStatus, startRig, type Rig } from '../callbacks/support.js';
import { redisBytes, sumBytes } from '../../bench/redis-bytes.js';

const CONTACTS = 60;
const OUTCOMES = ['answered', 'busy', 'no_answer', 'answered', 'failed'] as const;

describe('Redis bytes per attempt and per dialed contact', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig('mem-budget');
  });
  afterAll(async () => rig?.close());

  it('stay within their budget', async () => {
    const { c, prefix } = rig;
    const { attempts } = await campaignWithAttempts(c, SIPCALL_DEF, CONTACTS);
    for (const [i, a] of attempts.entries()) {
      const uuid = randomUUID();
      const outcome = OUTCOMES[i % OUTCOMES.length]!;
      const statuses = outcome === 'answered' ? (['ring', 'answer', 'hangup'] as const) : (['ring', 'hangup'] as const);
      for (const status of statuses) await rig.post('/callbacks/sipcall/status', JSON.stringify(sipcallStatus({ uuid, callee: a.number, status })));
      const cdr = { ...sipcallCdr({ customuuid: a.id, uuid, destnumber: a.number, outcome, at: Date.now() }), userkey: outcome === 'answered' ? '1' : '' };
      await rig.post('/callbacks/sipcall/cdr', JSON.stringify(cdr));
    }
    await c.receiver.idle();
    expect(await c.callbackLog.pendingCount()).toBe(0);
    for (const a of attempts) expect((await c.attempts.get(a.id))?.state).toBe('final');

    const atCompletion = await redisBytes(c.redis, prefix);
    const records = atCompletion.find((g) => g.group === '<prefix>:att:*');
    expect(records?.keys).toBe(CONTACTS);
    // Each record on its own: the largest (an answered call: its uuid, times, CDR fields and callback id) too.
    for (const a of attempts) {
      const bytes = Number(await c.redis.call('MEMORY', 'USAGE', c.keys.attempt(a.id), 'SAMPLES', '0'));
      expect(bytes, a.id).toBeLessThanOrEqual(250);
    }

    // The raw callbacks (about 600 B each while kept) go once past their retention; what they did stays in the attempts.
    const pruned = await makeCallbackRetention({ redis: c.redis, keys: c.keys }).prune(Date.now() + 1);
    expect(pruned.removed).toBeGreaterThanOrEqual(CONTACTS * 3);
    const kept = await redisBytes(c.redis, prefix);
    // The callee look-ups are the live calls' (they expire 30 s after each call's result deadline).
    const perContact = sumBytes(kept, (g) => g.group !== '<prefix>:callee:sipcall:*') / CONTACTS;
    expect(perContact).toBeLessThanOrEqual(1024);
    expect(kept.find((g) => g.group === '<prefix>:calluuid:*')?.keys).toBe(CONTACTS);
  });
});
