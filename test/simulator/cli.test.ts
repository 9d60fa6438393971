import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSimulateCommand, parseMix, simulatorOptionsFromFlags } from '../../src/cli/simulate.js';
import { makeCall, multipart } from './support.js';

let dir: string;
const agent = new Agent();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
});

afterAll(async () => {
  await agent.close();
  await rm(dir, { recursive: true, force: true });
});

function program(env: Record<string, string | undefined>, stop: Promise<string>, lines: string[]): Command {
  const p = new Command('autodialer').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  addSimulateCommand(p, { env, log: (l) => lines.push(l), untilStopped: () => stop });
  return p;
}

describe('simulatorOptionsFromFlags', () => {
  it('takes the callback URL and secret from the environment unless flags say otherwise', () => {
    const env = { AUTODIALER_PUBLIC_URL: 'http://dialer:8080', AUTODIALER_CALLBACK_SECRET: 'from-env-secret-123' };
    expect(simulatorOptionsFromFlags({}, env)).toEqual({ port: 8090, callbackUrl: 'http://dialer:8080', callbackSecret: 'from-env-secret-123' });
    expect(simulatorOptionsFromFlags({ callbackUrl: 'http://other:1', seed: '42', cpsCap: 10 }, env)).toMatchObject({
      callbackUrl: 'http://other:1',
      seed: 42,
      cpsCap: 10,
    });
  });

  it('reads the script file and names it when it is wrong', async () => {
    const good = join(dir, 'good.json');
    const bad = join(dir, 'bad.json');
    await writeFile(good, JSON.stringify({ '13800000000': ['busy', 'answered'] }));
    await writeFile(bad, JSON.stringify({ '13800000000': ['ringing'] }));
    expect(simulatorOptionsFromFlags({ script: good }, {}).script).toEqual({ '13800000000': ['busy', 'answered'] });
    expect(() => simulatorOptionsFromFlags({ script: bad }, {})).toThrow(new RegExp(`script file ${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    expect(() => simulatorOptionsFromFlags({ script: join(dir, 'missing.json') }, {})).toThrow(/cannot read script file/);
  });

  it('parses an outcome mix and refuses unknown outcomes', () => {
    expect(parseMix('answered=0.6, no_answer=0.3,busy=0.1')).toEqual({ answered: 0.6, no_answer: 0.3, busy: 0.1 });
    expect(() => parseMix('ringing=1')).toThrow(/unknown outcome "ringing"/);
    expect(() => parseMix('busy')).toThrow(/busy=0.5/);
  });
});

describe('simulate command', () => {
  it('prints its URL, serves requests, and closes on the stop signal', async () => {
    let stop!: (signal: string) => void;
    const stopped = new Promise<string>((resolve) => (stop = resolve));
    const lines: string[] = [];
    const running = program({}, stopped, lines).parseAsync(['node', 'autodialer', 'simulate', '--port', '0', '--seed', '3', '--mix', 'busy=1', '--cps-cap', '50']);
    while (lines.length === 0) await new Promise((r) => setImmediate(r));
    const url = /listening on (http:\/\/\S+)/.exec(lines[0] ?? '')?.[1] ?? '';
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const res = await request(url, {
      method: 'POST',
      body: multipart(makeCall('13800000000')),
      headers: { 'content-type': 'multipart/form-data; boundary=----simTestBoundary7MA4YWxk' },
      dispatcher: agent,
    });
    expect(((await res.body.json()) as { ret: number }).ret).toBe(200);
    const ledger = (await (await request(`${url}/_sim/ledger`, { dispatcher: agent })).body.json()) as { outcome: string }[];
    expect(ledger.map((e) => e.outcome)).toEqual(['busy']);

    stop('SIGTERM');
    await running;
    expect(lines).toContain('SIGTERM: closing the simulator');
    expect(lines.some((l) => l.includes('cps cap: 50'))).toBe(true);
    expect(lines.at(-1)).toMatch(/^requests 1, calls placed 1/);
    const after = await request(`${url}/_sim/stats`, { dispatcher: new Agent() }).then(
      () => 'answered',
      (e: Error & { code?: string }) => e.code,
    );
    expect(after).toBe('ECONNREFUSED');
  });

  it('fails with a clear message on bad options', async () => {
    const lines: string[] = [];
    const run = program({}, new Promise(() => undefined), lines).parseAsync(['node', 'autodialer', 'simulate', '--token', 'short', '--port', '0']);
    await expect(run).rejects.toBeInstanceOf(CommanderError);
    await expect(run).rejects.toThrow(/token must be exactly 32 characters, got 5/);
    expect(lines).toEqual([]);
  });

  it('refuses a rate that is not a number', async () => {
    const run = program({}, new Promise(() => undefined), []).parseAsync(['node', 'autodialer', 'simulate', '--lost-cdr-rate', 'lots']);
    await expect(run).rejects.toThrow(/expected a number, got "lots"/);
  });
});
