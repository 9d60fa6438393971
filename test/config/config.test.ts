import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, providerUnavailable } from '../../src/config.js';
import { problemsOf } from '../support/config.js';

const TOKEN = 'abcdefghijklmnopqrstuvwxyz012345';

describe('configuration', () => {
  it('has the documented defaults and no provider when none is configured', () => {
    const c = loadConfig({}, null);
    expect(c).toMatchObject({ redisUrl: 'redis://127.0.0.1:6379', prefix: 'autodialer', httpPort: 8080, publicUrl: null, callbackSecret: null });
    expect(c.providers).toEqual({ sipcall: null, pbx: null });
    expect(providerUnavailable(c, 'sipcall')).toBe('provider sipcall is not configured: set SIPCALL_API_URL, SIPCALL_TOKEN');
    expect(providerUnavailable(c, 'pbx')).toMatch(/PBX_BASE_URL, PBX_API_KEY, PBX_USERNAME, PBX_PASSWORD/);
  });

  it('refuses a sipcall token that is not exactly 32 characters, saying how long it was', () => {
    expect(problemsOf({ SIPCALL_API_URL: 'http://127.0.0.1:8090', SIPCALL_TOKEN: 'ABCDEFG' })).toContain(
      'SIPCALL_TOKEN: sipcall token must be 32 characters, got 7',
    );
  });

  it('lists every problem at once, each naming its variable', () => {
    const problems = problemsOf({
      REDIS_URL: 'localhost:6379',
      AUTODIALER_HTTP_PORT: 'eighty',
      SIPCALL_API_URL: 'ftp://x',
      SIPCALL_TOKEN: TOKEN,
      SIPCALL_TIMEZONE: 'Mars/Olympus',
      AUTODIALER_CALLBACK_SECRET: 'short',
    });
    expect(problems.map((p) => p.split(':')[0])).toEqual(
      expect.arrayContaining(['REDIS_URL', 'AUTODIALER_HTTP_PORT', 'AUTODIALER_CALLBACK_SECRET', 'SIPCALL_API_URL', 'SIPCALL_TIMEZONE']),
    );
  });

  it('configures both providers from the contract names', () => {
    const c = loadConfig(
      {
        SIPCALL_API_URL: 'http://127.0.0.1:8090',
        SIPCALL_TOKEN: TOKEN,
        SIPCALL_TIMEZONE: 'Asia/Shanghai',
        PBX_BASE_URL: 'http://127.0.0.1:8090',
        PBX_API_KEY: 'k',
        PBX_USERNAME: 'u',
        PBX_PASSWORD: 'p',
      },
      null,
    );
    expect(c.providers.sipcall).toMatchObject({ apiUrl: 'http://127.0.0.1:8090', token: TOKEN, timezone: 'Asia/Shanghai', bodyEncoding: 'multipart' });
    expect(c.providers.pbx).toMatchObject({ apiKey: 'k', username: 'u', password: 'p', callIdField: 'originated_call_id' });
  });

  it('reads an optional .env file, the real environment winning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'adcfg-'));
    const file = join(dir, '.env');
    writeFileSync(file, '# comment\nAUTODIALER_PREFIX=fromfile\nAUTODIALER_HTTP_PORT="9000"\n');
    const c = loadConfig({ AUTODIALER_HTTP_PORT: '9100' }, file);
    expect(c.prefix).toBe('fromfile');
    expect(c.httpPort).toBe(9100);
  });

  it('takes outcome tables inline or from a file, and names the bad entry', () => {
    const dir = mkdtempSync(join(tmpdir(), 'adcfg-'));
    const file = join(dir, 'pbx.json');
    writeFileSync(file, JSON.stringify({ outcomes: { CHANUNAVAIL: 'failed' } }));
    const c = loadConfig({ SIPCALL_OUTCOME_TABLE: '{"causes":{"10001":"no_answer"}}', PBX_DISPOSITION_TABLE: file }, null);
    expect(c.outcomeTables.sipcall).toEqual({ causes: { '10001': 'no_answer' } });
    expect(c.outcomeTables.pbx).toEqual({ outcomes: { CHANUNAVAIL: 'failed' } });
    const problems = problemsOf({ SIPCALL_OUTCOME_TABLE: '{"causes":{"17":"maybe"}}', PBX_DISPOSITION_TABLE: '/nope/x.json' });
    expect(problems.some((p) => p.startsWith('SIPCALL_OUTCOME_TABLE') && p.includes('17'))).toBe(true);
    expect(problems.some((p) => p.startsWith('PBX_DISPOSITION_TABLE') && p.includes('/nope/x.json'))).toBe(true);
  });

  it('takes the notifier options from AUTODIALER_NOTIFY_* (durations as people write them), the rest keeping their defaults', () => {
    expect(loadConfig({}, null).notifier).toEqual({});
    const c = loadConfig(
      {
        AUTODIALER_NOTIFY_BACKOFF: '10s, 1m,5m',
        AUTODIALER_NOTIFY_JITTER: '0.1',
        AUTODIALER_NOTIFY_MAX_TRIES: '5',
        AUTODIALER_NOTIFY_MAX_AGE: '6h',
        AUTODIALER_NOTIFY_CONNECT_TIMEOUT: '2s',
        AUTODIALER_NOTIFY_REQUEST_TIMEOUT: '15s',
        AUTODIALER_NOTIFY_CONCURRENCY: '4',
        AUTODIALER_NOTIFY_CONNECTIONS_PER_ORIGIN: '2',
        AUTODIALER_NOTIFY_CLAIM_AFTER: '2m',
        AUTODIALER_NOTIFY_LEASE: '90s',
        AUTODIALER_NOTIFY_DEAD_LETTER_LIMIT: '50',
        AUTODIALER_WEBHOOK_PRIVATE_ADDRESSES: 'DENY',
      },
      null,
    );
    expect(c.notifier).toEqual({
      backoffMs: [10_000, 60_000, 300_000],
      jitter: 0.1,
      maxTries: 5,
      maxAgeMs: 21_600_000,
      connectTimeoutMs: 2_000,
      requestTimeoutMs: 15_000,
      concurrency: 4,
      connectionsPerOrigin: 2,
      claimAfterMs: 120_000,
      leaseMs: 90_000,
      deadLetterLimit: 50,
      privateAddresses: 'deny',
    });
  });

  it('names the notifier variable that is wrong, and the ones that do not fit together', () => {
    const unreadable = problemsOf({ AUTODIALER_NOTIFY_BACKOFF: '5s,soon', AUTODIALER_NOTIFY_MAX_TRIES: 'many', AUTODIALER_NOTIFY_JITTER: '-1' });
    expect(unreadable).toHaveLength(3);
    expect(unreadable[0]).toMatch(/^AUTODIALER_NOTIFY_BACKOFF: invalid duration "soon"/);
    expect(unreadable[1]).toBe('AUTODIALER_NOTIFY_JITTER: AUTODIALER_NOTIFY_JITTER must be a number such as 0.2 (got "-1")');
    expect(unreadable[2]).toBe('AUTODIALER_NOTIFY_MAX_TRIES: AUTODIALER_NOTIFY_MAX_TRIES must be a whole number (got "many")');
    expect(problemsOf({ AUTODIALER_NOTIFY_JITTER: '1.5', AUTODIALER_WEBHOOK_PRIVATE_ADDRESSES: 'sometimes' })).toEqual([
      'AUTODIALER_NOTIFY_JITTER must be between 0 and 1',
      "AUTODIALER_WEBHOOK_PRIVATE_ADDRESSES must be 'allow' or 'deny'",
    ]);
    expect(problemsOf({ AUTODIALER_NOTIFY_REQUEST_TIMEOUT: '2m' })).toEqual([
      'AUTODIALER_NOTIFY_CLAIM_AFTER must be longer than AUTODIALER_NOTIFY_CONNECT_TIMEOUT + AUTODIALER_NOTIFY_REQUEST_TIMEOUT, or a live consumer would lose entries it is still sending',
      'AUTODIALER_NOTIFY_LEASE must be longer than AUTODIALER_NOTIFY_CONNECT_TIMEOUT + AUTODIALER_NOTIFY_REQUEST_TIMEOUT, or a retry in flight would be taken again',
    ]);
  });

  it('reads provider account limits: unset is null (the built-in default then applies), 0 is no limit', () => {
    expect(loadConfig({}, null).accountLimits).toEqual({ sipcall: { cps: null, maxConcurrent: null }, pbx: { cps: null, maxConcurrent: null } });
    expect(loadConfig({ SIPCALL_MAX_CPS: '12.5', SIPCALL_MAX_CHANNELS: '30', PBX_MAX_CPS: '0', PBX_MAX_CHANNELS: '0' }, null).accountLimits).toEqual({
      sipcall: { cps: 12.5, maxConcurrent: 30 },
      pbx: { cps: 0, maxConcurrent: 0 },
    });
    expect(problemsOf({ SIPCALL_MAX_CPS: 'fast', SIPCALL_MAX_CHANNELS: '2.5', PBX_MAX_CPS: '-1', PBX_MAX_CHANNELS: '200000' })).toEqual([
      'SIPCALL_MAX_CPS: SIPCALL_MAX_CPS must be a number of calls per second such as 10 or 0.5 (0: no limit) (got "fast")',
      'SIPCALL_MAX_CHANNELS: SIPCALL_MAX_CHANNELS must be a whole number (got "2.5")',
      'PBX_MAX_CPS: PBX_MAX_CPS must be a number of calls per second such as 10 or 0.5 (0: no limit) (got "-1")',
      'PBX_MAX_CHANNELS: PBX_MAX_CHANNELS must be between 0 and 100000 (got "200000")',
    ]);
  });

  it('keeps settled raw callbacks 1 hour in Redis unless AUTODIALER_CALLBACK_RETENTION says otherwise (0: for ever)', () => {
    expect(loadConfig({}, null).callbackRetentionMs).toBe(3_600_000);
    expect(loadConfig({ AUTODIALER_CALLBACK_RETENTION: '7d' }, null).callbackRetentionMs).toBe(7 * 86_400_000);
    expect(loadConfig({ AUTODIALER_CALLBACK_RETENTION: '0' }, null).callbackRetentionMs).toBeNull();
    expect(problemsOf({ AUTODIALER_CALLBACK_RETENTION: '10m' })).toEqual(['AUTODIALER_CALLBACK_RETENTION: keep callbacks at least 1h (0 keeps them for ever), got "10m"']);
    expect(problemsOf({ AUTODIALER_CALLBACK_RETENTION: 'a month' })[0]).toMatch(/^AUTODIALER_CALLBACK_RETENTION: invalid duration "a month"/);
  });
});
