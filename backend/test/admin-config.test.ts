import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import request from 'supertest';
import { auditRetentionJob } from '../src/modules/audit/audit-retention.job';
import { effectiveSettings } from '../src/modules/runtime-settings/runtime-settings';
import { bearer, registerTenant, Registered } from './support/api-fixtures';
import { eventually } from './support/eventually';
import { platformAdmins, PlatformAdminsFixture } from './support/platform-admin-fixtures';
import { buildTestApp, jobsRoleKnex, ownerKnex, TestApp } from './support/test-app';

const RESET = {
  rateLimitAnonymousMax: null,
  rateLimitAnonymousWindowSeconds: null,
  rateLimitLoginMax: null,
  rateLimitLoginWindowSeconds: null,
  auditRetentionDays: null,
  idempotencyTtlSeconds: null,
};

describe('platform admin: runtime config', () => {
  // Two instances of one deployment (same REDIS_KEY_PREFIX, so the same settings scope and counters).
  const prefix = `test:cfg-${randomUUID().slice(0, 8)}:`;
  let t: TestApp;
  let other: TestApp;
  let owner: Knex;
  let admins: PlatformAdminsFixture;
  let tenant: Registered;

  beforeAll(async () => {
    t = buildTestApp({ env: { REDIS_KEY_PREFIX: prefix } });
    other = buildTestApp({ env: { REDIS_KEY_PREFIX: prefix, RUNTIME_SETTINGS_CACHE_SECONDS: '1' } });
    owner = ownerKnex();
    admins = await platformAdmins(t, owner);
    tenant = await registerTenant(t.app);
  });
  afterEach(async () => {
    await put(admins.superAdmin.token, RESET).expect(200);
  });
  afterAll(async () => {
    await t.close();
    await other.close();
    await owner.destroy();
  });

  const put = (token: string, body: unknown) => request(t.app).put('/api/v1/admin/config').set(bearer(token)).send(body as object);
  const anonymous = (app: TestApp) => request(app.app).get(`/api/v1/nothing-here-${randomUUID().slice(0, 4)}`);

  it('when nothing is overridden, then every setting shows its environment value', async () => {
    const res = await request(t.app).get('/api/v1/admin/config').set(bearer(admins.support.token));
    expect(res.status).toBe(200);
    expect(res.body.data.settings.rateLimitAnonymousMax).toEqual({ value: 100000, source: 'environment', environmentValue: 100000 });
    expect(res.body.data.settings.auditRetentionDays).toEqual({ value: 365, source: 'environment', environmentValue: 365 });
    expect(res.body.data.propagation).toEqual({ cacheSeconds: 5 });
  });

  it('when the anonymous limit is lowered, then the next anonymous requests get 429 sooner, without a restart', async () => {
    const first = await anonymous(t);
    expect(first.headers['ratelimit-policy']).toMatch(/^"anonymous"; q=100000; w=900;/);
    // Sign-ins of this file share the IP budget: the new limit leaves room for exactly two more requests.
    const used = 100000 - Number(/r=(\d+)/.exec(String(first.headers.ratelimit))?.[1]);
    const res = await put(admins.superAdmin.token, { rateLimitAnonymousMax: used + 2 });
    expect(res.status).toBe(200);
    expect(res.body.data.settings.rateLimitAnonymousMax).toEqual({ value: used + 2, source: 'override', environmentValue: 100000 });
    expect((await anonymous(t)).status).toBe(404);
    const passing = await anonymous(t);
    expect(passing.status).toBe(404);
    expect(passing.headers['ratelimit-policy']).toMatch(new RegExp(`^"anonymous"; q=${used + 2}; w=900;`));
    const refused = await anonymous(t);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('RATE_LIMITED');

    await put(admins.superAdmin.token, { rateLimitAnonymousMax: null }).expect(200);
    expect((await anonymous(t)).status).toBe(404);
  });

  it('when a setting changes on one instance, then another instance of the deployment applies it within its cache TTL', async () => {
    expect((await anonymous(other)).headers['ratelimit-policy']).toMatch(/q=100000;/);
    await put(admins.superAdmin.token, { rateLimitAnonymousMax: 77 }).expect(200);
    let policy = '';
    await eventually(async () => {
      policy = String((await anonymous(other)).headers['ratelimit-policy']);
      return policy.includes('q=77;');
    }, 15_000, 'the other instance applying the setting');
    expect(policy).toMatch(/^"anonymous"; q=77; w=900;/);
  });

  it('when the window changes, then the limiter answers with the new window', async () => {
    await put(admins.superAdmin.token, { rateLimitAnonymousWindowSeconds: 120 }).expect(200);
    expect((await anonymous(t)).headers['ratelimit-policy']).toMatch(/^"anonymous"; q=100000; w=120;/);
  });

  it('when the login limit is lowered, then sign-in attempts are refused sooner', async () => {
    await put(admins.superAdmin.token, { rateLimitLoginMax: 2 }).expect(200);
    const attempt = () => request(t.app).post('/api/v1/auth/login').send({ email: tenant.email, password: 'Wrong-Passw0rd-1' });
    expect((await attempt()).status).toBe(401);
    expect((await attempt()).status).toBe(401);
    expect((await attempt()).status).toBe(429);
  });

  it('when the idempotency TTL is changed, then new keys expire after it', async () => {
    await put(admins.superAdmin.token, { idempotencyTtlSeconds: 120 }).expect(200);
    const key = `cfg-${randomUUID()}`;
    await request(t.app).post('/api/v1/leads').set(tenant.auth).set('Idempotency-Key', key).send({ lastName: 'Ttl' }).expect(201);
    const [row] = await owner.raw('select extract(epoch from expires_at - created_at)::int as ttl from idempotency_keys where tenant_id = ? and key = ?', [
      tenant.tenantId,
      key,
    ]).then((result: { rows: Array<{ ttl: number }> }) => result.rows);
    expect(row?.ttl).toBeGreaterThanOrEqual(119);
    expect(row?.ttl).toBeLessThanOrEqual(121);
  });

  it('when the audit retention is changed, then the retention job uses it', async () => {
    // 100 years: the job then prunes nothing, whichever tenants share the database.
    await put(admins.superAdmin.token, { auditRetentionDays: 36500 }).expect(200);
    expect((await effectiveSettings(t.deps.platformKnex, t.deps.config)).auditRetentionDays).toBe(36500);
    const logged: Array<Record<string, unknown>> = [];
    const logger = { info: (_message: string, meta: Record<string, unknown>) => logged.push(meta) } as never;
    const jobs = jobsRoleKnex();
    try {
      await auditRetentionJob.run({} as never, { ...t.deps, jobsKnex: jobs }, { id: '1', attempt: 1, maxAttempts: 1, logger });
    } finally {
      await jobs.destroy();
    }
    const cutoff = Date.parse(String(logged[0]?.cutoff));
    expect(Math.abs(cutoff - (Date.now() - 36500 * 86_400_000))).toBeLessThan(60_000);
  });

  it('when a setting changes, then the platform audit log records who changed what, before and after', async () => {
    await put(admins.superAdmin.token, { auditRetentionDays: 400, rateLimitLoginMax: 50 }).expect(200);
    const [entry] = await owner('platform_audit_logs')
      .where({ action: 'config.update', actor_id: admins.superAdmin.id })
      .orderBy('occurred_at', 'desc')
      .limit(1);
    expect(entry.details).toEqual({
      scope: prefix,
      requested: { auditRetentionDays: 400, rateLimitLoginMax: 50 },
      before: { auditRetentionDays: 365, rateLimitLoginMax: 100000 },
      after: { auditRetentionDays: 400, rateLimitLoginMax: 50 },
    });
  });

  it.each([
    ['an empty body', {}],
    ['an unknown setting', { colour: 3 }],
    ['a zero limit', { rateLimitAnonymousMax: 0 }],
    ['a text value', { rateLimitLoginMax: 'many' }],
    ['a fraction', { auditRetentionDays: 1.5 }],
    ['a TTL below a minute', { idempotencyTtlSeconds: 10 }],
  ])('when the body is %s, then 400 and nothing is stored', async (_name, body) => {
    const res = await put(admins.superAdmin.token, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(await owner('platform_settings').where({ scope: prefix })).toEqual([]);
  });

  it('when a support admin or a tenant user writes, then 403; without a token, 401; nothing is stored', async () => {
    expect((await put(admins.support.token, { rateLimitAnonymousMax: 5 })).status).toBe(403);
    expect((await request(t.app).put('/api/v1/admin/config').set(tenant.auth).send({ rateLimitAnonymousMax: 5 })).status).toBe(403);
    expect((await request(t.app).get('/api/v1/admin/config').set(tenant.auth)).status).toBe(403);
    expect((await request(t.app).put('/api/v1/admin/config').send({ rateLimitAnonymousMax: 5 })).status).toBe(401);
    expect(await owner('platform_settings').where({ scope: prefix })).toEqual([]);
  });
});
