import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startHarness, SECRET, type Harness } from '../support/harness.js';

const TOKEN = 'api-token-0123456789abcdef';

describe('API token', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('api-auth', {}, { AUTODIALER_API_TOKEN: TOKEN, PBX_CALLBACK_ALLOW_IPS: '10.9.9.9' });
  });
  afterAll(async () => h?.close());

  it('guards the campaign API and the dashboard data, not health, the dashboard page or the callbacks', async () => {
    expect((await request(`${h.serverUrl}/campaigns`)).statusCode).toBe(401);
    expect((await request(`${h.serverUrl}/campaigns`, { headers: { authorization: 'Bearer wrong-token-000000000' } })).statusCode).toBe(401);
    expect((await request(`${h.serverUrl}/campaigns`, { headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(200);
    expect((await request(`${h.serverUrl}/campaigns/abcdefgh/pause`, { method: 'POST' })).statusCode).toBe(401);
    expect((await request(`${h.serverUrl}/metrics`)).statusCode).toBe(401);
    expect((await request(`${h.serverUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(200);
    expect((await request(`${h.serverUrl}/campaigns/abcdefgh`, { method: 'DELETE' })).statusCode).toBe(401);
    expect((await request(`${h.serverUrl}/campaigns/abcdefgh/notifications/resend`, { method: 'POST' })).statusCode).toBe(401);
    expect((await request(`${h.serverUrl}/dashboard/data`)).statusCode).toBe(401);
    expect((await request(`${h.serverUrl}/dashboard/data`, { headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(200);
    expect((await request(`${h.serverUrl}/`)).statusCode).toBe(200);
    expect((await request(`${h.serverUrl}/healthz`)).statusCode).toBe(200);
    const cb = await request(`${h.serverUrl}/callbacks/sipcall/status?key=${SECRET}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uuid: 'u-x', status: 'ring', callee: '1', starttime: '1581124302' }),
    });
    expect(cb.statusCode).toBe(200);
  });

  it('does not let X-Forwarded-For pass an IP allow-list unless told to trust a proxy', async () => {
    expect(h.config.trustProxy).toBe(false);
    const spoofed = await request(`${h.serverUrl}/callbacks/pbx/cdr?key=${SECRET}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.9.9.9' },
      body: '{}',
    });
    expect(spoofed.statusCode).toBe(403);
  });
});
