/**
 * The adapters against the project's simulator, the provider stand-in the
 * demo and the benchmarks use: every classified outcome, for every operation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPbxAdapter, createSipcallAdapter } from '../../src/providers/index.js';
import type { DialOutcome, DialRequest, ProviderAdapter } from '../../src/providers/types.js';
import { DEFAULT_TOKEN, startSimulator, type Simulator } from '../../src/simulator/index.js';

const timeouts = { connectTimeoutMs: 1000, responseTimeoutMs: 1500 };

let sim: Simulator;
const adapters: ProviderAdapter[] = [];
beforeAll(async () => {
  sim = await startSimulator({ token: DEFAULT_TOKEN, mix: { answered: 1 } });
});
afterAll(async () => {
  await Promise.all(adapters.map((a) => a.close()));
  await sim.close();
});

function sipcall(token = DEFAULT_TOKEN): ProviderAdapter {
  const a = createSipcallAdapter({ apiUrl: sim.url, token, timezone: 'Asia/Shanghai', bodyEncoding: 'multipart', ...timeouts });
  adapters.push(a);
  return a;
}
function pbx(apiKey = 'sim-api-key'): ProviderAdapter {
  const a = createPbxAdapter({
    baseUrl: sim.url,
    apiKey,
    username: 'sim',
    password: 'sim-password',
    timezone: 'Asia/Tehran',
    callIdField: 'originated_call_id',
    ...timeouts,
  });
  adapters.push(a);
  return a;
}

const operations: { name: string; adapter: () => ProviderAdapter; request: (number: string) => DialRequest }[] = [
  {
    name: 'PlayVoice',
    adapter: () => sipcall(),
    request: (number) => ({ attemptId: `simplay1-${number.slice(-4)}-1`, number, action: 'playvoice', params: { voicetype: '2', voicefile: 'http://x.invalid/a.mp3', chengshudu: '1', userid: '1@extGroup-1' } }),
  },
  {
    name: 'MakeCall',
    adapter: () => sipcall(),
    request: (number) => ({ attemptId: `simmake1-${number.slice(-4)}-1`, number, action: 'makecall', params: { extnumber: '20280003' } }),
  },
  {
    name: 'DoubleCall',
    adapter: () => sipcall(),
    request: (number) => ({ attemptId: `simdoub1-${number.slice(-4)}-1`, number, action: 'doublecall', params: { extnumber: '20280003', anumber: '13900000000' } }),
  },
  {
    name: 'originate',
    adapter: () => pbx(),
    request: (number) => ({ attemptId: `simorig1-${number.slice(-4)}-1`, number, action: 'originate', params: { caller: '557', context: 'main_routing', caller_id: '557', trunk_name: 'cisco', timeout: '30' } }),
  },
];

const cases: { script: string; kind: DialOutcome['kind']; check?: (o: DialOutcome) => void }[] = [
  { script: 'answered', kind: 'accepted' },
  { script: 'reject', kind: 'rejected', check: (o) => expect(o.kind === 'rejected' && o.tooFast).toBe(false) },
  { script: 'toofast', kind: 'rejected', check: (o) => expect(o.kind === 'rejected' && o.tooFast).toBe(true) },
  { script: 'error500', kind: 'transient', check: (o) => expect(o.kind === 'transient' && o.httpStatus).toBe(500) },
  { script: 'error429', kind: 'transient', check: (o) => expect(o.kind === 'transient' && o.retryAfterMs).toBe(1000) },
  { script: 'reset', kind: 'in_doubt' },
  { script: 'timeout', kind: 'in_doubt' },
];

describe.each(operations)('$name against the simulator', (op) => {
  it.each(cases)('scripted $script is classified $kind, and the ledger saw exactly one request', async (c) => {
    const number = `1380013${String(cases.indexOf(c)).padStart(2, '0')}${operations.indexOf(op)}0`;
    sim.setScript(number, [c.script]);
    const before = sim.ledger().filter((e) => e.number === number).length;
    const outcome = await op.adapter().dial(op.request(number));
    expect(outcome.kind).toBe(c.kind);
    c.check?.(outcome);
    if (op.name === 'originate' && outcome.kind === 'accepted') expect(outcome.providerCallId).toMatch(/^orig\.call\.\d+\.\d{6}$/);
    expect(sim.ledger().filter((e) => e.number === number).length - before).toBe(1);
  });

  it('a bad token or key is fatal', async () => {
    const adapter = op.name === 'originate' ? pbx('wrong-key') : sipcall('ffffffffffffffffffffffffffffffff');
    const outcome = await adapter.dial(op.request('13800139999'));
    expect(outcome.kind).toBe('fatal');
  });
});
