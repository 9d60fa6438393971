/**
 * createProviders: one adapter per configured family, wired from a real
 * loaded Config, dialing a real server.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createProviders } from '../../src/providers/index.js';
import { seedText, TOKEN } from './support/fixtures.js';
import { reply, startScriptedServer, type ScriptedServer } from './support/server.js';

describe('createProviders', () => {
  let server: ScriptedServer;
  beforeEach(async () => {
    server = await startScriptedServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it('makes only the configured adapters', async () => {
    const none = createProviders(loadConfig({}, null));
    expect([...none.keys()]).toEqual([]);

    const sipOnly = createProviders(loadConfig({ SIPCALL_API_URL: server.url, SIPCALL_TOKEN: TOKEN }, null));
    expect([...sipOnly.keys()]).toEqual(['sipcall']);
    expect(sipOnly.get('sipcall')?.actions).toEqual(['playvoice', 'makecall', 'doublecall']);
    await Promise.all([...sipOnly.values()].map((a) => a.close()));
  });

  it('wires each adapter to its configuration', async () => {
    const config = loadConfig(
      {
        SIPCALL_API_URL: `${server.url}/sip`,
        SIPCALL_TOKEN: TOKEN,
        SIPCALL_BODY_ENCODING: 'urlencoded',
        PBX_BASE_URL: `${server.url}/pbx`,
        PBX_API_KEY: 'key-1',
        PBX_USERNAME: 'test',
        PBX_PASSWORD: 'Aa123456',
      },
      null,
    );
    const providers = createProviders(config);
    try {
      expect([...providers.keys()].sort()).toEqual(['pbx', 'sipcall']);
      expect(providers.get('pbx')?.actions).toEqual(['originate']);
      server.script(
        reply({ status: 200, body: seedText('sipcall-response-makecall.json') }),
        reply({ status: 200, body: seedText('pbx-originate-response.json') }),
      );
      const sip = await providers.get('sipcall')!.dial({ action: 'makecall', number: '100', attemptId: 'c.1.1', params: { extnumber: '8001' } });
      const pbx = await providers.get('pbx')!.dial({ action: 'originate', number: '552', attemptId: 'c.2.1', params: { caller: '557', context: 'main_routing', caller_id: '557' } });
      expect(sip.kind).toBe('accepted');
      expect(pbx).toMatchObject({ kind: 'accepted', providerCallId: 'orig.call.1703145054.787335' });
      const [s, p] = server.requests;
      expect(s).toMatchObject({ method: 'POST', url: '/sip' });
      expect(s!.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(new URLSearchParams(s!.body.toString('utf8')).get('token')).toBe(TOKEN);
      expect(p).toMatchObject({ method: 'PUT', url: '/pbx/api/v4/call/originate/act' });
      expect(p!.headers['x-apikey']).toBe('key-1');
    } finally {
      await Promise.all([...providers.values()].map((a) => a.close()));
    }
  });
});
