/**
 * Where a webhook may be sent: with `privateAddresses: 'deny'`, never to a
 * loopback, private, link-local, shared, multicast or reserved address, so
 * that whoever writes a campaign definition cannot make the dialer post into
 * the network it runs in. The check is made on the address the socket
 * connects to (a name is resolved, then checked), not on the URL's text, so a
 * name that resolves to an inside address is refused too.
 */
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';

export type PrivateAddressPolicy = 'allow' | 'deny';

/** The error code of a refused address: the webhook can never be sent to as it stands. */
export const PRIVATE_ADDRESS_CODE = 'ERR_WEBHOOK_PRIVATE_ADDRESS';

const IPV4_RANGES: readonly [string, number][] = [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT (shared)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata services live here)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];
const IPV6_RANGES: readonly [string, number][] = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
];

const blocked = new BlockList();
for (const [net, prefix] of IPV4_RANGES) blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of IPV6_RANGES) blocked.addSubnet(net, prefix, 'ipv6');

/** An IPv4 address written inside IPv6 (`::ffff:10.0.0.1`, `::10.0.0.1`): the IPv4 one, else null. */
function embeddedIpv4(address: string): string | null {
  const m = /^::(?:ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : null;
}

/** True when the address (IPv4 or IPv6, brackets allowed) is one a webhook is refused under 'deny'. */
export function isPrivateAddress(address: string): boolean {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const v4 = embeddedIpv4(bare);
  if (v4) return blocked.check(v4, 'ipv4');
  const family = isIP(bare);
  if (family === 4) return blocked.check(bare, 'ipv4');
  if (family === 6) {
    // IPv4-mapped in hex form (::ffff:a00:1) is the IPv4 address it maps.
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(bare);
    if (mapped) {
      const hi = parseInt(mapped[1]!, 16);
      const lo = parseInt(mapped[2]!, 16);
      return blocked.check(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, 'ipv4');
    }
    return blocked.check(bare, 'ipv6');
  }
  return false;
}

export class PrivateAddressError extends Error {
  readonly code = PRIVATE_ADDRESS_CODE;
  constructor(host: string, address: string) {
    super(
      host === address
        ? `webhook address ${address} is loopback, private or reserved, and this dialer refuses those (AUTODIALER_WEBHOOK_PRIVATE_ADDRESSES=deny)`
        : `webhook host ${host} resolves to ${address}, a loopback, private or reserved address, and this dialer refuses those (AUTODIALER_WEBHOOK_PRIVATE_ADDRESSES=deny)`,
    );
    this.name = 'PrivateAddressError';
  }
}

/**
 * The refusal for a URL whose host is itself an address (no name to resolve),
 * or null. A name is checked when it is resolved (`guardedLookup`).
 */
export function literalAddressRefusal(url: URL): PrivateAddressError | null {
  const host = url.hostname;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) === 0) return null;
  return isPrivateAddress(bare) ? new PrivateAddressError(bare, bare) : null;
}

/**
 * A `lookup` for net/tls connect that resolves as dns.lookup does and drops
 * refused addresses; when none is left, it fails with PrivateAddressError.
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  const all = (options as LookupOptions).all === true;
  dnsLookup(hostname, { ...(options as LookupOptions), all: true }, (err, addresses) => {
    if (err) {
      callback(err, all ? [] : '', 0);
      return;
    }
    const list = addresses as LookupAddress[];
    const allowed = list.filter((a) => !isPrivateAddress(a.address));
    if (allowed.length === 0) {
      const refused = new PrivateAddressError(hostname, list[0]?.address ?? hostname);
      callback(refused as NodeJS.ErrnoException, all ? [] : '', 0);
      return;
    }
    if (all) {
      (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
      return;
    }
    const first = allowed[0]!;
    callback(null, first.address, first.family);
  });
};
