import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/shared.js';
import { cleanPrefix, connectRedis, REDIS_URL, testPrefix } from '../support/redis.js';

const prefix = testPrefix('cli');
const env = {
  REDIS_URL,
  AUTODIALER_PREFIX: prefix,
  SIPCALL_API_URL: 'http://127.0.0.1:1',
  SIPCALL_TOKEN: '0123456789abcdef0123456789abcdef',
  LOG_LEVEL: 'silent',
};

async function cli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => (out += t), err: (t) => (err += t), env: { ...env, ...extraEnv }, isTty: false };
  const code = await main(['node', 'autodialer', ...args], io);
  return { code, out, err };
}

const redis = connectRedis();
afterAll(async () => {
  await cleanPrefix(redis, prefix);
  redis.disconnect();
});

describe('the autodialer command line', () => {
  it('prints help through the package binary', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['bin/autodialer.js', '--help'], { env: { ...process.env, AUTODIALER_DEV: '1' } });
    expect(stdout).toMatch(/campaign/);
    expect(stdout).toMatch(/simulate/);
  });

  it('dry-runs a list: counts, nothing stored', async () => {
    const r = await cli(['campaign', 'create', 'fixtures/contacts.csv', '--definition', 'jobs/demo-playvoice.json', '--dry-run', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out) as Record<string, unknown>;
    expect(s).toMatchObject({ dryRun: true, rowsRead: 50, added: 48, invalid: 1, duplicate: 1, estimatedSeconds: 5 });
    expect(await redis.zcard(`${prefix}:campaigns`)).toBe(0);
  });

  it('reads a YAML definition from the jobs directory (its schedule and contacts left out) and names a broken one', async () => {
    const r = await cli(['campaign', 'create', 'fixtures/contacts.csv', '--definition', 'jobs/weekday-reminder.yaml', '--dry-run', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out) as Record<string, unknown>).toMatchObject({ dryRun: true, rowsRead: 50 });
    const bad = await cli(['campaign', 'create', 'fixtures/contacts.csv', '--definition', 'test/cli/fixtures/broken.yaml', '--dry-run']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/definition file test\/cli\/fixtures\/broken\.yaml is not valid YAML: .* at line \d+, column \d+/);
  });

  it('creates a campaign, shows its status, pauses and cancels it', async () => {
    const created = await cli([
      'campaign', 'create', 'fixtures/contacts.csv', '--definition', 'jobs/demo-playvoice.json', '--cps', '2', '--name', 'cli test', '--json',
    ]);
    expect(created.code).toBe(0);
    const { id, import: summary } = JSON.parse(created.out) as { id: string; import: Record<string, number> };
    expect(summary).toMatchObject({ added: 48, invalid: 1, duplicate: 1 });
    const status = await cli(['campaign', 'status', id, '--json']);
    const s = JSON.parse(status.out) as { id: string; state: string; counts: Record<string, number>; pace: { cps: number } };
    expect(s).toMatchObject({ id, state: 'running', pace: { cps: 2 } });
    expect(s.counts).toMatchObject({ pending: 48, invalid: 1, duplicate: 1 });
    expect((await cli(['campaign', 'pause', id])).out).toMatch(/paused/);
    const paced = await cli(['campaign', 'pace', id, '--cps', '5']);
    expect(paced.out).toMatch(/5 cps/);
    expect(paced.out).toMatch(/^pace: 5 calls\/s \(campaign pace --cps\), channels: 20 \(campaign pace --max-concurrent\)$/m);
    expect((await cli(['campaign', 'resume', id])).out).toMatch(/running/);
    expect((await cli(['campaign', 'cancel', id])).out).toMatch(/cancelled/);
    const out = join(mkdtempSync(join(tmpdir(), 'adcli-')), 'r.csv');
    const exported = await cli(['campaign', 'export', id, '--out', out]);
    expect(exported.code).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('name,phone,city,userid,memberid,status,attempts,customuuid,provider_call_id,billsec,userkey,answered_at,ended_at,hangupcause,error');
    expect(lines).toHaveLength(51);
  });

  it('prints the pace a new campaign gets and where each limit comes from', async () => {
    // The account's own: nothing configured, the built-in default holds a campaign faster than it.
    const fast = await cli(['campaign', 'create', 'fixtures/contacts.csv', '--definition', 'jobs/demo-playvoice.json', '--cps', '20', '--max-concurrent', '0', '--json']);
    const { pace } = JSON.parse(fast.out) as { pace: Record<string, unknown> };
    expect(pace).toMatchObject({
      cps: 10,
      cpsSource: 'account',
      maxConcurrent: 0,
      maxConcurrentSource: 'none',
      campaign: { cps: 20, maxConcurrent: 0 },
      account: { name: 'sipcall', cps: 10, cpsFrom: 'default', maxConcurrent: 0, maxConcurrentFrom: 'default' },
    });
    expect(pace.text).toBe(
      'pace: 10 calls/s (account sipcall default, below campaign --cps (20); set SIPCALL_MAX_CPS or autodialer account pace), channels: no limit',
    );

    // Text: the id alone on standard output, the pace beside it.
    const text = await cli(['campaign', 'create', 'fixtures/contacts.csv', '--definition', 'jobs/demo-playvoice.json', '--cps', '0'], { SIPCALL_MAX_CHANNELS: '30' });
    expect(text.out).toMatch(/^[a-z0-9]+\n$/);
    expect(text.err).toContain('pace: 10 calls/s (account sipcall default; set SIPCALL_MAX_CPS or autodialer account pace), channels: 20 (campaign maxConcurrent in jobs/demo-playvoice.json)');
    const capped = await cli(['campaign', 'create', 'fixtures/contacts.csv', '--definition', 'jobs/demo-playvoice.json', '--cps', '20', '--max-concurrent', '0', '--dry-run'], {
      SIPCALL_MAX_CPS: '50',
      SIPCALL_MAX_CHANNELS: '30',
    });
    expect(capped.out).toContain('pace: 20 calls/s (campaign --cps), channels: 30 (account sipcall, SIPCALL_MAX_CHANNELS)');
  });

  it('shows, sets and resets an account\'s limits: an operator\'s stay over the environment until reset', async () => {
    expect((await cli(['account', 'pace', 'sipcall'])).out).toBe(
      'account sipcall: 10 calls/s (default; set SIPCALL_MAX_CPS or autodialer account pace), channels: no limit (default; set SIPCALL_MAX_CHANNELS or autodialer account pace)\n',
    );
    expect((await cli(['account', 'pace', 'sipcall', '--cps', '4'])).out).toMatch(/^account sipcall: 4 calls\/s \(set by autodialer account pace; --reset drops it\)/);
    const create = ['campaign', 'create', 'fixtures/contacts.csv', '--definition', 'jobs/demo-playvoice.json', '--dry-run', '--json'];
    const held = JSON.parse((await cli(create, { SIPCALL_MAX_CPS: '50' })).out) as { pace: { cps: number; text: string }; estimatedSeconds: number };
    expect(held.pace.cps).toBe(4);
    expect(held.pace.text).toMatch(/^pace: 4 calls\/s \(account sipcall, set by autodialer account pace, below campaign cps in jobs\/demo-playvoice.json \(10\)\)/);
    // The dry run's estimate is at the pace that holds: 48 contacts at 4 calls/s.
    expect(held.estimatedSeconds).toBe(12);

    const reset = await cli(['account', 'pace', 'sipcall', '--reset', '--json'], { SIPCALL_MAX_CPS: '50' });
    expect(JSON.parse(reset.out)).toEqual({ account: 'sipcall', cps: 50, cpsFrom: 'env', maxConcurrent: 0, maxConcurrentFrom: 'default' });
    const both = await cli(['account', 'pace', 'sipcall', '--reset', '--cps', '3']);
    expect(both).toMatchObject({ code: 2 });
    expect(both.err).toMatch(/give --reset alone/);
  });

  it('keeps do-not-call lists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adcli-'));
    writeFileSync(join(dir, 'dnc.txt'), 'phone\n13800000001\n+86 138 0000 0002\nnot a number\n');
    const added = await cli(['dnc', 'add', 'global', join(dir, 'dnc.txt'), '--region', 'CN']);
    expect(added.out).toMatch(/2 numbers added to global/);
    expect(added.err).toMatch(/skipped line 4/);
    expect((await cli(['dnc', 'check', '13800000002', '--region', 'CN'])).out).toMatch(/\+8613800000002 is on: global/);
    expect((await cli(['dnc', 'check', '13800000009', '--region', 'CN'])).out).toMatch(/on no list/);
  });

  it('runs a correlator at the configured lower priority, and stops it on SIGTERM', async () => {
    for (const [nice, expected] of [[undefined, 10], ['3', 3]] as const) {
      const child = spawn(process.execPath, ['bin/autodialer.js', 'correlator'], {
        env: { ...process.env, ...env, AUTODIALER_DEV: '1', AUTODIALER_CORRELATE_IN: 'worker', LOG_LEVEL: 'info', ...(nice ? { AUTODIALER_CORRELATOR_NICE: nice } : {}) },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
      let log = '';
      await new Promise<void>((ready, fail) => {
        child.stderr.on('data', (chunk: Buffer) => {
          log += chunk.toString();
          if (log.includes('correlator running')) ready();
        });
        void exited.then((code) => fail(new Error(`correlator exited (${code}): ${log}`)));
      });
      expect(getPriority(child.pid)).toBe(Math.max(getPriority(), expected));
      expect(log).toMatch(new RegExp(`"nice":${Math.max(getPriority(), expected)}`));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  it('ends with the error, not a hang, when a role cannot start (its port in use)', async () => {
    const { createServer } = await import('node:net');
    const busy = createServer();
    await new Promise<void>((ready) => busy.listen(0, '0.0.0.0', ready));
    const address = busy.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const child = spawn(process.execPath, ['bin/autodialer.js', 'server'], {
        env: { ...process.env, ...env, AUTODIALER_DEV: '1', AUTODIALER_HTTP_PORT: String(port), LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
      expect(code).toBe(1);
      expect(err).toMatch(/autodialer: .*EADDRINUSE/);
    } finally {
      await new Promise<void>((done) => busy.close(() => done()));
    }
  }, 60_000);

  it('refuses bad input with one clear line and exit code 2', async () => {
    const missing = await cli(['campaign', 'create', 'nope.csv', '--action', 'makecall', '--param', 'extnumber=1001']);
    expect(missing).toMatchObject({ code: 2 });
    expect(missing.err).toMatch(/contact list nope.csv does not exist/);
    const badToken = await cli(['campaign', 'status', 'abcdefgh'], { SIPCALL_TOKEN: 'short' });
    expect(badToken.code).toBe(2);
    expect(badToken.err).toMatch(/sipcall token must be 32 characters, got 5/);
    const badDef = await cli(['campaign', 'create', 'fixtures/contacts.csv', '--action', 'playvoice', '--cps', '2']);
    expect(badDef.code).toBe(2);
    expect(badDef.err).toMatch(/voicefile/);
    const noPbx = await cli(['campaign', 'create', 'fixtures/contacts.csv', '--definition', 'jobs/pbx-originate.json']);
    expect(noPbx.err).toMatch(/provider pbx is not configured: set PBX_BASE_URL/);
    const unknown = await cli(['campaign', 'status', 'zzzzzzzz']);
    expect(unknown.err).toMatch(/no campaign with id zzzzzzzz/);
    // A correlator beside servers that interpret what they receive would take the same entries.
    const correlator = await cli(['correlator']);
    expect(correlator.code).toBe(2);
    expect(correlator.err).toMatch(/set AUTODIALER_CORRELATE_IN=worker/);
    const badNice = await cli(['correlator'], { AUTODIALER_CORRELATE_IN: 'worker', AUTODIALER_CORRELATOR_NICE: '25' });
    expect(badNice.code).toBe(2);
    expect(badNice.err).toMatch(/AUTODIALER_CORRELATOR_NICE must be between 0 and 19/);
    const badMode = await cli(['correlator'], { AUTODIALER_CORRELATE_IN: 'elsewhere' });
    expect(badMode.code).toBe(2);
    expect(badMode.err).toMatch(/AUTODIALER_CORRELATE_IN must be 'server' or 'worker'/);
  });
});
