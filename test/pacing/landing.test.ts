/**
 * The dial processor lands every admitted send in the pacing log once its
 * exchange is over (before its result is recorded), even when the adapter
 * throws. Real Redis for the pacer; the other collaborators are stubs, and
 * one manual clock drives the pacer and the processor (its sleeps advance it).
 */
import type { Job } from 'bullmq';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCampaignDefinition } from '../../src/campaign/definition.js';
import { resolveCampaign, type CampaignCache } from '../../src/campaign/runtime.js';
import { STALE_ADMISSION_MS, makeDialProcessor, type DialProcessorDeps } from '../../src/dispatch/processor.js';
import type { AttemptService } from '../../src/engine/attempts.js';
import type { QueueRegistry, DialJobData } from '../../src/infra/queues.js';
import { createRedisPacer } from '../../src/pacing/index.js';
import type { DialOutcome, ProviderAdapter } from '../../src/providers/types.js';
import type { ContactStore } from '../../src/store/contacts.js';
import type { DncStore } from '../../src/store/dnc.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { manualClock } from './helpers.js';

const redis = connectRedis();
const prefix = testPrefix('landing');
afterAll(async () => {
  await cleanPrefix(redis, prefix);
  redis.disconnect();
});

const ACCEPTED: DialOutcome = { kind: 'accepted', providerCallId: 'p-1', detail: 'ok' };

async function setup(cid: string, cps: number, dial: (advance: (ms: number) => void) => Promise<DialOutcome>, opts: { beginTakesMs?: number } = {}) {
  const clock = manualClock();
  const pacer = createRedisPacer({ redis, prefix, clock });
  await pacer.setCampaignLimits(cid, { cps, maxConcurrent: 0 });
  const def = parseCampaignDefinition(
    {
      name: 'Landing',
      action: 'playvoice',
      params: { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' },
      cps,
    },
    { timezone: 'UTC', region: 'CN' },
  );
  const c = resolveCampaign({
    id: cid,
    definition: def,
    state: 'running',
    createdAt: new Date(clock.now()).toISOString(),
    startedAt: null,
    finishedAt: null,
    pausedReason: null,
    header: [],
    total: 1,
    importDone: true,
    importSummary: null,
  });
  const sentKey = `${prefix}:pace:camp:${cid}:sent`;
  /** The attempt's score in the campaign's log (µs) when its result is recorded. */
  const atResult: (string | null)[] = [];
  const outcomes: DialOutcome[] = [];
  const service = {
    dialDeadline: () => clock.now() + 60_000,
    begin: async () => {
      // The begin's commit held up (Redis away and back): the clock moves on meanwhile.
      clock.advance(opts.beginTakesMs ?? 0);
      return { result: 'began' as const, id: 'x', deadline: clock.now() + 60_000 };
    },
    dialResult: async (id: string, _family: string, outcome: DialOutcome) => {
      atResult.push(await redis.zscore(sentKey, id));
      outcomes.push(outcome);
    },
    uncountCall: async () => undefined,
    endContact: async () => undefined,
  };
  const adapter = { family: def.provider, actions: [def.action], dial: () => dial((ms) => clock.advance(ms)), close: async () => undefined };
  const deps: DialProcessorDeps = {
    providers: new Map([[def.provider, adapter as ProviderAdapter]]),
    service: service as unknown as AttemptService,
    campaigns: { get: async () => c } as unknown as CampaignCache,
    contacts: {
      rowAndState: async () => ({ row: { l: 2, v: ['13800000000'], d: '13800000000', e: '+8613800000000' }, raw: '', state: { s: 'pending', n: 1, p: 0 } }),
    } as unknown as ContactStore,
    dnc: { check: async () => [] } as unknown as DncStore,
    pacer,
    queues: {} as QueueRegistry,
    now: () => clock.now(),
    sleep: async (ms) => clock.advance(ms),
    log: pino({ level: 'silent' }),
    pauseCampaign: async () => undefined,
    requestTimeoutMs: () => 12_000,
  };
  const job = { queueName: `dial-${cid}`, data: { idx: 0, n: 1 }, id: `${cid}-0-1` } as unknown as Job<DialJobData>;
  return { clock, process: makeDialProcessor(deps), job, sentKey, atResult, outcomes };
}

describe('the dial processor lands what the admission let through', () => {
  it('lowers the send to the end of its exchange before the result is recorded', async () => {
    let admitted = 0;
    const s = await setup('cland', 10, async (advance) => {
      admitted = Number(await redis.zscore(`${prefix}:pace:camp:cland:sent`, 'cland-0-1'));
      advance(40);
      return ACCEPTED;
    });
    expect(await s.process(s.job)).toBe('dialed');
    const landedAt = s.clock.now();
    // In flight during the request: admitted at the slot, counted until the request timeout.
    expect(admitted).toBe((landedAt - 40 + 12_000) * 1000);
    // Landed when the response came back, already when the result is recorded.
    expect(s.atResult).toEqual([String(landedAt * 1000)]);
  });

  it('lands the send when the adapter throws', async () => {
    const s = await setup('cthrow', 10, async (advance) => {
      advance(25);
      throw new Error('adapter bug');
    });
    await expect(s.process(s.job)).rejects.toThrow('adapter bug');
    expect(await redis.zscore(s.sentKey, 'cthrow-0-1')).toBe(String(s.clock.now() * 1000));
    expect(s.atResult).toEqual([]);
  });

  it('neither admits nor lands a send no rate spaced', async () => {
    const s = await setup('cfree', 0, async () => ACCEPTED);
    expect(await s.process(s.job)).toBe('dialed');
    expect(await redis.exists(s.sentKey)).toBe(0);
    expect(s.atResult).toEqual([null]);
  });

  it('does not send a request whose begin was held up past its admission: withdrawn, not sent, dialed again', async () => {
    let sent = 0;
    const s = await setup(
      'cstale',
      10,
      async () => {
        sent++;
        return ACCEPTED;
      },
      { beginTakesMs: STALE_ADMISSION_MS + 1 },
    );
    expect(await s.process(s.job)).toBe('requeued');
    expect(sent).toBe(0);
    // Its place in the send log is given back: the sends admitted meanwhile are the only ones counted.
    expect(s.atResult).toEqual([null]);
    expect(s.outcomes).toEqual([expect.objectContaining({ kind: 'not_sent', code: 'ADMISSION_STALE' })]);
  });

  it('sends a request whose begin took less than that', async () => {
    const s = await setup('cprompt', 10, async () => ACCEPTED, { beginTakesMs: STALE_ADMISSION_MS });
    expect(await s.process(s.job)).toBe('dialed');
    expect(s.outcomes).toEqual([ACCEPTED]);
  });
});
