import { isBlockedAddress, refusalRule, vetDestination } from '../src/modules/webhooks/destination-guard';

/** The SSRF guard of webhooks and integrations: only global unicast destinations, each refusal named by its rule. */
describe('webhook destination guard: which rule refuses each range', () => {
  it.each([
    ['::/96 (IPv4-compatible)', '::a9fe:a9fe', 'ipv4Compatible'],
    ['::/128', '::', 'unspecified'],
    ['::1', '::1', 'loopback'],
    ['::ffff:0:0/96 (IPv4-mapped)', '::ffff:8.8.8.8', 'ipv4Mapped'],
    ['::ffff:0:0:0/96 (RFC 6145)', '::ffff:0:808:808', 'rfc6145'],
    ['64:ff9b::/96 (NAT64)', '64:ff9b::808:808', 'rfc6052'],
    ['64:ff9b:1::/48 (local NAT64)', '64:ff9b:1::808:808', 'rfc6052'],
    ['2002::/16 (6to4)', '2002:a9fe:a9fe::1', '6to4'],
    ['2001::/32 (Teredo)', '2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
    ['2001:db8::/32 (documentation)', '2001:db8::1', 'reserved'],
    ['fc00::/7 (unique local)', 'fd12:3456::1', 'uniqueLocal'],
    ['fe80::/10 (link-local)', 'fe80::1', 'linkLocal'],
    ['ff00::/8 (multicast)', 'ff02::1', 'multicast'],
    ['100::/64 (discard)', '100::1', 'discard'],
    ['outside 2000::/3', '4000::1', 'notGlobalUnicast'],
    ['0.0.0.0/8', '0.1.2.3', 'unspecified'],
    ['10.0.0.0/8', '10.1.2.3', 'private'],
    ['100.64.0.0/10 (CGNAT)', '100.100.0.1', 'carrierGradeNat'],
    ['127.0.0.0/8', '127.0.0.1', 'loopback'],
    ['169.254.0.0/16 (metadata)', '169.254.169.254', 'linkLocal'],
    ['172.16.0.0/12', '172.20.0.1', 'private'],
    ['192.0.0.0/24', '192.0.0.8', 'reserved'],
    ['192.0.2.0/24 (TEST-NET-1)', '192.0.2.1', 'reserved'],
    ['192.88.99.0/24 (6to4 relay)', '192.88.99.1', 'reserved'],
    ['192.168.0.0/16', '192.168.1.1', 'private'],
    ['198.18.0.0/15 (benchmarking)', '198.19.0.1', 'reserved'],
    ['198.51.100.0/24 (TEST-NET-2)', '198.51.100.7', 'reserved'],
    ['203.0.113.0/24 (TEST-NET-3)', '203.0.113.9', 'reserved'],
    ['224.0.0.0/4 (multicast)', '239.1.1.1', 'multicast'],
    ['240.0.0.0/4', '240.0.0.1', 'reserved'],
    ['255.255.255.255', '255.255.255.255', 'broadcast'],
    ['not an address', 'nonsense', 'notAnAddress'],
  ])('when the destination is in %s (%s), then the rule "%s" refuses it', (_range, address, rule) => {
    expect(refusalRule(address)).toBe(rule);
    expect(isBlockedAddress(address)).toBe(true);
  });

  it('when the destination is global unicast, then no rule refuses it', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e']) {
      expect(refusalRule(address)).toBeUndefined();
    }
  });

  it('when a URL names a refused address as a bracketed IPv6 literal, then it is refused before any request', async () => {
    for (const url of ['https://[::ffff:169.254.169.254]/', 'https://[64:ff9b::a9fe:a9fe]/', 'https://[2002:a9fe:a9fe::1]/', 'https://[::a9fe:a9fe]/']) {
      await expect(vetDestination(url, { allowPrivateNetworks: false, requireHttps: true })).rejects.toThrow();
    }
  });
});
