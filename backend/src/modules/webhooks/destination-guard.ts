import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { AppError } from '../../lib/errors';

/**
 * Destinations a webhook may reach unless the operator allows private networks: global unicast only.
 * ipaddr.js (a well-kept parser, the one Express's proxy-addr uses) names each special-purpose range
 * (`range()`); anything but `unicast` is refused, and the rule that refuses an address is its range's
 * name: loopback, private, linkLocal (cloud metadata at 169.254.169.254), carrierGradeNat, unspecified
 * (0/8, ::), reserved, multicast, broadcast, uniqueLocal (fc00::/7), ipv4Mapped (::ffff:0:0/96),
 * rfc6145, rfc6052 (NAT64: 64:ff9b::/96, 64:ff9b:1::/48), 6to4 (2002::/16), teredo (2001::/32), ...
 * Tunnels and translators are refused outright rather than by the IPv4 address they carry: they reach
 * IPv4 hosts this process cannot vet. Two rules ipaddr.js has no name for: the deprecated
 * IPv4-compatible block (::/96), and IPv6 outside 2000::/3, the only block allocated for global unicast.
 */
const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96');
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/** The name of the rule that refuses `address`, or undefined for a global unicast address. */
export function refusalRule(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'notAnAddress';
  const parsed = ipaddr.parse(address);
  const range = parsed.range();
  if (range !== 'unicast') return range;
  if (parsed.kind() === 'ipv6') {
    if (parsed.match(IPV4_COMPATIBLE)) return 'ipv4Compatible';
    if (!parsed.match(GLOBAL_UNICAST_V6)) return 'notGlobalUnicast';
  }
  return undefined;
}

export const isBlockedAddress = (address: string): boolean => refusalRule(address) !== undefined;

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
