import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { AppError } from '../../lib/errors';

/**
 * Addresses a webhook must never reach unless the operator allows private networks: loopback, the
 * private ranges, link-local (cloud metadata at 169.254.169.254), CGNAT, "this network", multicast
 * and reserved space, and their IPv6 counterparts. IPv4-mapped and NAT64 IPv6 addresses are checked
 * as the IPv4 address they carry.
 */
const BLOCKED = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  BLOCKED.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['100::', 64],
] as const) {
  BLOCKED.addSubnet(network, prefix, 'ipv6');
}

/** The IPv4 address an IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::a.b.c.d) address carries. */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (!hex) return undefined;
  const [high, low] = [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family !== 6) return true;
  const v4 = embeddedIpv4(address);
  if (v4) return BLOCKED.check(v4, 'ipv4');
  return BLOCKED.check(address, 'ipv6');
}

/** A destination checked once: requests connect to `address`, never to whatever the name resolves to later. */
export interface VettedDestination {
  url: URL;
  address: string;
  family: 4 | 6;
}

export class DestinationRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DestinationRefused';
  }
}

export interface GuardOptions {
  allowPrivateNetworks: boolean;
  /** Production sends record data only over TLS. */
  requireHttps: boolean;
}

/**
 * Parses and resolves a webhook URL; every address the name resolves to must be public (a name with
 * one private address among public ones is refused: the connection could land on either).
 */
export async function vetDestination(raw: string, options: GuardOptions): Promise<VettedDestination> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DestinationRefused('is not a valid URL');
  }
  if (url.protocol !== 'https:' && (url.protocol !== 'http:' || options.requireHttps)) {
    throw new DestinationRefused(options.requireHttps ? 'must be an https URL' : 'must be an http or https URL');
  }
  if (url.username || url.password) throw new DestinationRefused('must not carry credentials');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: Array<{ address: string; family: number }>;
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true, verbatim: true });
  } catch {
    throw new DestinationRefused('does not resolve');
  }
  if (addresses.length === 0) throw new DestinationRefused('does not resolve');
  if (!options.allowPrivateNetworks && addresses.some(({ address }) => isBlockedAddress(address))) {
    throw new DestinationRefused('resolves to a loopback, private, link-local or reserved address');
  }
  const first = addresses[0]!;
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** The same check for a request body field: a refusal is a 400 naming the field. */
export async function assertAcceptableUrl(raw: string, field: string, options: GuardOptions): Promise<void> {
  try {
    await vetDestination(raw, options);
  } catch (error) {
    if (!(error instanceof DestinationRefused)) throw error;
    throw new AppError('VALIDATION_ERROR', `The ${field} is not an acceptable destination`, [{ field, message: error.message }]);
  }
}
