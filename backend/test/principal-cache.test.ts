import { randomUUID } from 'node:crypto';
import { UserPrincipal } from '../src/modules/auth/principal';
import { PrincipalCache } from '../src/modules/auth/principal-cache';

/** The cache alone, on a clock the test moves: what it keeps, for how long, and what it forgets. */
describe('principal cache', () => {
  const tenantId = randomUUID();
  let now = 1_000_000;
  const clock = () => now;
  const caller = (userId = randomUUID(), sessionId = randomUUID()) => {
    const credential = { kind: 'user', tenantId, userId, sessionId, jti: randomUUID(), exp: 0 } as const;
    const principal: UserPrincipal = {
      kind: 'user',
      tenantId,
      userId,
      sessionId,
      jti: credential.jti,
      tokenExpiresAt: 0,
      email: 'a@example.com',
      roleId: randomUUID(),
      roleKey: 'tenant_admin',
      teamId: null,
      permissions: new Set(['leads:read']),
      plan: { code: 'pro', features: new Set(), quotas: {}, requestsPerHour: 1000, billingStatus: 'active' },
      mfaEnabled: false,
      mfaEnrollmentRequired: false,
    };
    return { credential, principal };
  };
  const vouched = () => {
    const cache = new PrincipalCache(30_000, clock);
    cache.vouch(now + 1_000);
    return cache;
  };

  it('when a caller is kept, then it is answered until its time is up', () => {
    const cache = vouched();
    const { credential, principal } = caller();
    cache.putPrincipal(credential, principal, cache.generation);
    expect(cache.principal(credential)).toBe(principal);
    cache.vouch(now + 60_000);
    now += 30_000;
    expect(cache.principal(credential)).toBeUndefined();
  });

  it('when an invalidation lands while a caller is being read from the database, then that read is not kept', () => {
    const cache = vouched();
    const { credential, principal } = caller();
    const generation = cache.generation;
    cache.invalidate({ tenantId, userId: randomUUID() });
    cache.putPrincipal(credential, principal, generation);
    expect(cache.principal(credential)).toBeUndefined();
  });

  it('when a change names a user, then only that user is forgotten; a tenant-wide change forgets everyone of the tenant only', () => {
    const cache = vouched();
    const [one, two] = [caller(), caller()];
    const stranger = { ...caller(), credential: { ...caller().credential, tenantId: randomUUID() } };
    stranger.principal = { ...stranger.principal, tenantId: stranger.credential.tenantId };
    for (const { credential, principal } of [one, two, stranger]) cache.putPrincipal(credential, principal, cache.generation);
    cache.invalidate({ tenantId, userId: one.principal.userId });
    expect([cache.principal(one.credential), cache.principal(two.credential)]).toEqual([undefined, two.principal]);
    cache.invalidate({ tenantId });
    expect([cache.principal(two.credential), cache.principal(stranger.credential)]).toEqual([undefined, stranger.principal]);
  });

  it('when the bus stops vouching, then nothing is answered or kept; when it vouches again, what was kept before is gone', () => {
    const cache = vouched();
    const { credential, principal } = caller();
    cache.putPrincipal(credential, principal, cache.generation);
    now += 1_000;
    expect(cache.principal(credential)).toBeUndefined();
    cache.putPrincipal(credential, principal, cache.generation);
    cache.vouch(now + 1_000);
    expect(cache.principal(credential)).toBeUndefined();

    cache.putPrincipal(credential, principal, cache.generation);
    cache.distrust();
    expect(cache.principal(credential)).toBeUndefined();
  });

  it("when an API key expires before the cache's time is up, then its hash is forgotten at the key's expiry", () => {
    const cache = vouched();
    const credential = { kind: 'api_key', tenantId, apiKeyId: randomUUID() } as const;
    cache.putApiKey('hash', credential, new Date(now + 500), cache.generation);
    expect(cache.apiKey('hash')).toEqual(credential);
    now += 500;
    expect(cache.apiKey('hash')).toBeUndefined();
  });

  it("when an API key is used, then its use is recorded at most once a minute", () => {
    const cache = vouched();
    const id = randomUUID();
    expect([cache.apiKeyUseDue(id), cache.apiKeyUseDue(id)]).toEqual([true, false]);
    now += 60_001;
    expect(cache.apiKeyUseDue(id)).toBe(true);
  });
});
