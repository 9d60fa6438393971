import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { guardedLookup, isPrivateAddress, literalAddressRefusal, PRIVATE_ADDRESS_CODE } from '../../src/notify/address-guard.js';
import { makeWebhookSender } from '../../src/notify/sender.js';
import { startReceiver } from './support.js';

const REFUSED = [
  '127.0.0.1',
  '127.255.0.9',
  '10.1.2.3',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.1.10',
  '169.254.169.254',
  '100.64.0.1',
  '0.0.0.0',
  '224.0.0.1',
  '255.255.255.255',
  '::1',
  '::',
  'fe80::1',
  'fd00::1234',
  'ff02::1',
  '::ffff:127.0.0.1',
  '::ffff:a00:1',
  '[::1]',
];
const ALLOWED = ['8.8.8.8', '93.184.216.34', '172.32.0.1', '100.128.0.1', '11.0.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '[2001:4860:4860::8888]'];

function lookupAll(host: string): Promise<{ err: NodeJS.ErrnoException | null; addresses: LookupAddress[] }> {
  return new Promise((done) => {
    guardedLookup(host, { all: true }, (err, addresses) => done({ err, addresses: (addresses as LookupAddress[]) ?? [] }));
  });
}

describe('webhook address guard', () => {
  it.each(REFUSED)('refuses %s', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each(ALLOWED)('allows %s', (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });

  it('refuses a URL written with a refused address, and leaves names to the look-up', () => {
    expect(literalAddressRefusal(new URL('http://10.0.0.5:8080/hook'))?.code).toBe(PRIVATE_ADDRESS_CODE);
    expect(literalAddressRefusal(new URL('http://[::1]/hook'))?.message).toMatch(/::1 is loopback, private or reserved/);
    expect(literalAddressRefusal(new URL('https://8.8.8.8/hook'))).toBeNull();
    expect(literalAddressRefusal(new URL('https://localhost/hook'))).toBeNull();
  });

  it('resolves a name as dns.lookup does, failing when every address it gives is refused', async () => {
    const local = await lookupAll('localhost');
    expect(local.err?.code).toBe(PRIVATE_ADDRESS_CODE);
    expect(local.err?.message).toMatch(/^webhook host localhost resolves to (127\.0\.0\.1|::1), a loopback, private or reserved address, .*\(AUTODIALER_WEBHOOK_PRIVATE_ADDRESSES=deny\)$/);
    const outside = await lookupAll('93.184.216.34');
    expect(outside.err).toBeNull();
    expect(outside.addresses).toEqual([{ address: '93.184.216.34', family: 4 }]);
  });

  it("with 'deny', never connects to a receiver on loopback, whether named by address or by name; with 'allow' it does", async () => {
    const rx = await startReceiver();
    const port = new URL(rx.url).port;
    const opts = { connectTimeoutMs: 1_000, requestTimeoutMs: 2_000, connectionsPerOrigin: 1 };
    const deny = makeWebhookSender({ ...opts, privateAddresses: 'deny' });
    const allow = makeWebhookSender({ ...opts, privateAddresses: 'allow' });
    const signal = new AbortController().signal;
    try {
      const byAddress = await deny.send(`http://127.0.0.1:${port}/hook`, {}, '{}', signal);
      expect(byAddress).toMatchObject({ ok: false, code: PRIVATE_ADDRESS_CODE, permanent: true, aborted: false, httpStatus: null });
      const byName = await deny.send(`http://localhost:${port}/hook`, {}, '{}', signal);
      expect(byName).toMatchObject({ ok: false, code: PRIVATE_ADDRESS_CODE, permanent: true });
      expect(byName.ok ? '' : byName.error).toMatch(/resolves to/);
      expect(rx.received).toHaveLength(0);
      expect(await allow.send(`http://localhost:${port}/hook`, {}, '{}', signal)).toEqual({ ok: true, httpStatus: 200 });
      expect(rx.received).toHaveLength(1);
    } finally {
      await deny.close();
      await allow.close();
      await rx.close();
    }
  });
});
