/**
 * Where a provider account's limits come from (an operator's account pace,
 * the dialing processes' environment, the built-in default), and the pace a
 * campaign gets from its own limits and its account's.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisPacer } from '../../src/pacing/index.js';
import {
  DEFAULT_ACCOUNT_CPS,
  makeAccountLimitStore,
  paceFromEnv,
  startupPace,
  type AccountLimitsEnv,
  type AccountPace,
} from '../../src/pacing/account-limits.js';
import { combineLimits, effectivePace } from '../../src/campaign/pace.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { startHarness } from '../support/harness.js';

const UNSET: AccountLimitsEnv = { cps: null, maxConcurrent: null };
const none = { value: undefined, origin: undefined };

describe('account limits without Redis', () => {
  it('takes the environment, else 10 calls/s and no channel cap', () => {
    expect(DEFAULT_ACCOUNT_CPS).toBe(10);
    expect(paceFromEnv(UNSET)).toEqual({ cps: 10, cpsFrom: 'default', maxConcurrent: 0, maxConcurrentFrom: 'default' });
    expect(paceFromEnv({ cps: 0, maxConcurrent: 30 })).toEqual({ cps: 0, cpsFrom: 'env', maxConcurrent: 30, maxConcurrentFrom: 'env' });
  });

  it('at start-up keeps what an operator set, limit by limit, and applies the environment to the rest', () => {
    const env = { cps: 25, maxConcurrent: 40 };
    expect(startupPace({ cps: none, maxConcurrent: none }, env)).toEqual({ cps: 25, cpsFrom: 'env', maxConcurrent: 40, maxConcurrentFrom: 'env' });
    expect(startupPace({ cps: { value: 5, origin: 'operator' }, maxConcurrent: { value: 9, origin: 'env' } }, env)).toEqual({
      cps: 5,
      cpsFrom: 'operator',
      maxConcurrent: 40,
      maxConcurrentFrom: 'env',
    });
    // A previous environment or default gives way to this one.
    expect(startupPace({ cps: { value: 10, origin: 'default' }, maxConcurrent: { value: 0, origin: 'default' } }, env)).toMatchObject({ cps: 25, maxConcurrent: 40 });
    // Set before sources were recorded (only account pace wrote account limits then): an operator's.
    expect(startupPace({ cps: { value: 3, origin: undefined }, maxConcurrent: { value: 0, origin: undefined } }, UNSET)).toEqual({
      cps: 3,
      cpsFrom: 'operator',
      maxConcurrent: 0,
      maxConcurrentFrom: 'operator',
    });
  });

  it('combines a campaign with its account: the tighter limit holds, 0 is none', () => {
    expect(combineLimits({ cps: 20, maxConcurrent: 0 }, { cps: 10, maxConcurrent: 30 })).toEqual({ cps: 10, maxConcurrent: 30 });
    expect(combineLimits({ cps: 5, maxConcurrent: 4 }, { cps: 10, maxConcurrent: 0 })).toEqual({ cps: 5, maxConcurrent: 4 });
    expect(combineLimits({ cps: 0, maxConcurrent: 0 }, { cps: 0, maxConcurrent: 0 })).toEqual({ cps: 0, maxConcurrent: 0 });
  });
});

describe("a campaign's effective pace, in words", () => {
  const account = (over: Partial<AccountPace>): AccountPace => ({ ...paceFromEnv(UNSET), ...over });
  const flags = { cps: 'campaign --cps', maxConcurrent: 'campaign --max-concurrent' };

  it('no campaign limit: the account default, and how to change it', () => {
    const p = effectivePace('sipcall', { cps: 0, maxConcurrent: 0 }, account({}), flags);
    expect(p).toMatchObject({ cps: 10, cpsSource: 'account', maxConcurrent: 0, maxConcurrentSource: 'none' });
    expect(p.text).toBe('pace: 10 calls/s (account sipcall default; set SIPCALL_MAX_CPS or autodialer account pace), channels: no limit');
  });

  it('a campaign rate under its account\'s, channels capped by the account from the environment', () => {
    const p = effectivePace('sipcall', { cps: 20, maxConcurrent: 0 }, account({ cps: 50, cpsFrom: 'env', maxConcurrent: 30, maxConcurrentFrom: 'env' }), flags);
    expect(p.text).toBe('pace: 20 calls/s (campaign --cps), channels: 30 (account sipcall, SIPCALL_MAX_CHANNELS)');
    expect(p).toMatchObject({ cps: 20, maxConcurrent: 30, campaign: { cps: 20, maxConcurrent: 0 }, account: { name: 'sipcall', cps: 50 } });
  });

  it('a campaign rate above its account\'s: the account holds it, and says so', () => {
    const p = effectivePace('pbx', { cps: 20, maxConcurrent: 4 }, account({ cps: 2, cpsFrom: 'operator' }), flags);
    expect(p.text).toBe('pace: 2 calls/s (account pbx, set by autodialer account pace, below campaign --cps (20)), channels: 4 (campaign --max-concurrent)');
    const byDefault = effectivePace('sipcall', { cps: 20, maxConcurrent: 0 }, account({}), flags);
    expect(byDefault.text).toMatch(/^pace: 10 calls\/s \(account sipcall default, below campaign --cps \(20\); set SIPCALL_MAX_CPS or autodialer account pace\)/);
  });

  it('an account made unlimited on purpose says where', () => {
    const p = effectivePace('sipcall', { cps: 0, maxConcurrent: 0 }, account({ cps: 0, cpsFrom: 'env' }), flags);
    expect(p.text).toBe('pace: no limit (account sipcall, SIPCALL_MAX_CPS), channels: no limit');
  });
});

describe('account limits on Redis', () => {
  const redis = connectRedis();
  const prefix = testPrefix('acct-limits');
  const pacer = createRedisPacer({ redis, prefix });
  const store = makeAccountLimitStore({ redis, prefix, pacer });
  afterAll(async () => {
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('operator over environment over default, until reset', async () => {
    // Nothing in force yet: shown as what the next dialing process would apply, nothing written.
    expect(await store.current('sipcall', { cps: 7, maxConcurrent: null })).toMatchObject({ cps: 7, cpsFrom: 'env', maxConcurrent: 0, maxConcurrentFrom: 'default' });
    expect(await pacer.getAccountLimits('sipcall')).toEqual({ cps: 0, maxConcurrent: 0 });

    // A dialing process starts with no variable set: the default is in force.
    await store.applyEnvironment('sipcall', UNSET);
    expect(await pacer.getAccountLimits('sipcall')).toEqual({ cps: DEFAULT_ACCOUNT_CPS, maxConcurrent: 0 });

    // One with SIPCALL_MAX_CPS=25, SIPCALL_MAX_CHANNELS=30: the environment wins over the default.
    await store.applyEnvironment('sipcall', { cps: 25, maxConcurrent: 30 });
    expect(await pacer.getAccountLimits('sipcall')).toEqual({ cps: 25, maxConcurrent: 30 });

    // The operator lowers the rate: it stays over the environment at the next start; channels still follow it.
    expect(await store.setByOperator('sipcall', { cps: 5 }, UNSET)).toEqual({ cps: 5, cpsFrom: 'operator', maxConcurrent: 30, maxConcurrentFrom: 'env' });
    await store.applyEnvironment('sipcall', { cps: 25, maxConcurrent: 40 });
    expect(await store.current('sipcall', UNSET)).toEqual({ cps: 5, cpsFrom: 'operator', maxConcurrent: 40, maxConcurrentFrom: 'env' });
    expect(await pacer.getAccountLimits('sipcall')).toEqual({ cps: 5, maxConcurrent: 40 });

    // Reset: back to the environment the last dialing process started with, whatever this process's says.
    expect(await store.reset('sipcall', UNSET)).toEqual({ cps: 25, cpsFrom: 'env', maxConcurrent: 40, maxConcurrentFrom: 'env' });
    expect(await pacer.getAccountLimits('sipcall')).toEqual({ cps: 25, maxConcurrent: 40 });
    await store.applyEnvironment('sipcall', UNSET);
    expect(await store.current('sipcall', UNSET)).toEqual({ cps: 10, cpsFrom: 'default', maxConcurrent: 0, maxConcurrentFrom: 'default' });
  });

  it('keeps limits set before their sources were recorded as an operator\'s', async () => {
    await pacer.setAccountLimits('pbx', { cps: 3, maxConcurrent: 0 });
    expect(await store.current('pbx', UNSET)).toEqual({ cps: 3, cpsFrom: 'operator', maxConcurrent: 0, maxConcurrentFrom: 'operator' });
    await store.applyEnvironment('pbx', { cps: 50, maxConcurrent: null });
    expect(await pacer.getAccountLimits('pbx')).toEqual({ cps: 3, maxConcurrent: 0 });
  });
});

describe('a dialing process starting', () => {
  it('puts its environment\'s account limits in force, for the providers it is configured for', async () => {
    const h = await startHarness('acct-start', {}, { SIPCALL_MAX_CPS: '25', SIPCALL_MAX_CHANNELS: '40' });
    try {
      const pacer = h.container.pacer;
      // Nothing waits for it at start: wait for the limits to be in force.
      for (let i = 0; (await pacer.getAccountLimits('pbx')).cps === 0; i++) {
        if (i > 500) throw new Error('the account limits were never put in force');
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(await pacer.getAccountLimits('sipcall')).toEqual({ cps: 25, maxConcurrent: 40 });
      expect(await h.container.accountLimits.current('pbx', h.config.accountLimits.pbx)).toEqual({
        cps: 10,
        cpsFrom: 'default',
        maxConcurrent: 0,
        maxConcurrentFrom: 'default',
      });
    } finally {
      await h.close();
    }
  });
});
