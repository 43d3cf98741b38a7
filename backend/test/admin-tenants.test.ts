import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import request from 'supertest';
import { platformCredentials, runtimeCredentials } from '../src/infra/db-roles';
import { ensureSuperAdmin } from '../src/modules/admin/platform-admins.service';
import { addMember, bearer, registerTenant, Registered } from './support/api-fixtures';
import { adminUrl, buildTestApp, ownerKnex, platformRoleKnex, runtimeKnex, TestApp } from './support/test-app';

const ADMIN_PASSWORD = 'Platform-Passw0rd-1';

describe('platform admin: tenants', () => {
  let t: TestApp;
  let owner: Knex;
  let superToken: string;
  let supportToken: string;
  const email = `root-${randomUUID().slice(0, 8)}@example.com`;

  const signIn = async (address: string) =>
    (await request(t.app).post('/api/v1/admin/auth/login').send({ email: address, password: ADMIN_PASSWORD })).body.data.tokens
      .accessToken as string;

  beforeAll(async () => {
    t = buildTestApp({ env: { SUPER_ADMIN_EMAIL: email, SUPER_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    owner = ownerKnex();
    await ensureSuperAdmin(t.deps.platformKnex, t.deps.config, t.deps.logger);
    const support = `support-${randomUUID().slice(0, 8)}@example.com`;
    const { password_hash } = await owner('platform_admins').where({ email }).first();
    await owner('platform_admins').insert({ email: support, password_hash, role: 'support' });
    superToken = await signIn(email);
    supportToken = await signIn(support);
  });
  afterAll(async () => {
    await t.close();
    await owner.destroy();
  });

  const api = (token: string) => ({
    list: (query: Record<string, string | number> = {}) => request(t.app).get('/api/v1/admin/tenants').query(query).set(bearer(token)),
    get: (id: string) => request(t.app).get(`/api/v1/admin/tenants/${id}`).set(bearer(token)),
    patch: (id: string, body: unknown) =>
      request(t.app).patch(`/api/v1/admin/tenants/${id}`).set(bearer(token)).set('User-Agent', 'console-test/1.0').send(body as object),
  });
  const platformAudit = (tenantId: string) => owner('platform_audit_logs').where({ tenant_id: tenantId }).orderBy('occurred_at');

  describe('GET /admin/tenants', () => {
    it('when tenants match a search, then they page oldest first by cursor without repeats', async () => {
      const run = randomUUID().slice(0, 8);
      const made: Registered[] = [];
      for (const letter of ['a', 'b', 'c']) made.push(await registerTenant(t.app, { company: `Pager ${run} ${letter}` }));
      const first = await api(superToken).list({ q: `pager ${run}`, limit: 2 });
      expect(first.status).toBe(200);
      expect(first.body.pagination).toMatchObject({ limit: 2, hasMore: true, nextCursor: expect.any(String) });
      const second = await api(superToken).list({ q: `pager ${run}`, limit: 2, cursor: first.body.pagination.nextCursor });
      expect(second.body.pagination).toEqual({ limit: 2, hasMore: false, nextCursor: null });
      const ids = [...first.body.data, ...second.body.data].map((tenant: { id: string }) => tenant.id);
      expect(ids).toEqual(made.map((tenant) => tenant.tenantId));
      expect(first.body.data[0]).toMatchObject({ name: `Pager ${run} a`, plan: 'pro', status: 'active', suspendedAt: null });
    });

    it('when filtered by subdomain, user email, status and plan, then only matching tenants come back', async () => {
      const pro = await registerTenant(t.app);
      const free = await registerTenant(t.app, { plan: 'free' });
      const idsOf = async (query: Record<string, string>) =>
        (await api(superToken).list({ ...query, limit: 500 })).body.data.map((tenant: { id: string }) => tenant.id) as string[];
      expect(await idsOf({ q: pro.subdomain })).toEqual([pro.tenantId]);
      expect(await idsOf({ q: free.email.toUpperCase() })).toEqual([free.tenantId]);
      expect(await idsOf({ q: free.subdomain, plan: 'pro' })).toEqual([]);
      expect(await idsOf({ q: free.subdomain, plan: 'free', status: 'active' })).toEqual([free.tenantId]);
      expect(await idsOf({ q: free.subdomain, status: 'suspended' })).toEqual([]);
      // '%' is a literal, not a wildcard: these tenants have none (another test file's may).
      const percent = await idsOf({ q: '%' });
      expect(percent).not.toContain(pro.tenantId);
      expect(percent).not.toContain(free.tenantId);
    });

    it('when the query is malformed, then 400 names each bad parameter', async () => {
      const res = await api(superToken).list({ status: 'gone', limit: 0, cursor: 'not-a-cursor', tenantId: 'x' });
      expect(res.status).toBe(400);
      const fields = res.body.error.details.map((detail: { field: string }) => detail.field).sort();
      expect(fields).toEqual(['query.cursor', 'query.limit', 'query.status', 'query.tenantId']);
    });
  });

  describe('GET /admin/tenants/:id', () => {
    it('when the tenant has users and records, then their counts, the plan limits and the last activity come back', async () => {
      const tenant = await registerTenant(t.app);
      await addMember(t.app, tenant, 'sales_user');
      for (const lastName of ['One', 'Two']) {
        expect((await request(t.app).post('/api/v1/leads').set(tenant.auth).send({ lastName })).status).toBe(201);
      }
      const contact = await request(t.app).post('/api/v1/contacts').set(tenant.auth).send({ firstName: 'C', lastName: 'Gone' });
      await request(t.app).delete(`/api/v1/contacts/${contact.body.data.id}`).set(tenant.auth);

      const res = await api(supportToken).get(tenant.tenantId);
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({
        id: tenant.tenantId,
        subdomain: tenant.subdomain,
        plan: 'pro',
        planLimits: { name: 'Pro', quotas: { users: 25, records: 100000 }, requestsPerHour: 1000 },
        usage: { users: 2, records: { leads: 2, contacts: 0, accounts: 0, deals: 0, tasks: 0, activities: 0, tickets: 0 } },
      });
      expect(res.body.data.planLimits.features).toContain('api_keys');
      const lastAudit = await owner('audit_logs').where({ tenant_id: tenant.tenantId }).max('occurred_at as at').first();
      expect(new Date(res.body.data.lastActivityAt)).toEqual(lastAudit?.at);
    });

    it('when the id is unknown, then 404; when it is not a uuid, then 400', async () => {
      const unknown = await api(superToken).get(randomUUID());
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('NOT_FOUND');
      const malformed = await api(superToken).get('not-a-uuid');
      expect(malformed.status).toBe(400);
      expect(malformed.body.error.details[0].field).toBe('params.id');
    });
  });

  describe('PATCH /admin/tenants/:id', () => {
    it("when a super admin suspends a tenant, then its users get 403 TENANT_SUSPENDED at once, and reactivation lets them back", async () => {
      const tenant = await registerTenant(t.app);
      const me = () => request(t.app).get('/api/v1/auth/me').set(tenant.auth);
      expect((await me()).status).toBe(200);

      const suspended = await api(superToken).patch(tenant.tenantId, { status: 'suspended', reason: 'Unpaid invoices' }).set('X-Request-Id', 'suspend-1');
      expect(suspended.status).toBe(200);
      expect(suspended.body.data).toMatchObject({ status: 'suspended', suspendedReason: 'Unpaid invoices', suspendedAt: expect.any(String) });
      const refused = await me();
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('TENANT_SUSPENDED');
      const login = await request(t.app).post('/api/v1/auth/login').send({ email: tenant.email, password: tenant.password });
      expect(login.status).toBe(403);

      const again = await api(superToken).patch(tenant.tenantId, { status: 'suspended', reason: 'Twice' });
      expect(again.body.data.suspendedReason).toBe('Unpaid invoices');

      const reactivated = await api(superToken).patch(tenant.tenantId, { status: 'active' });
      expect(reactivated.body.data).toMatchObject({ status: 'active', suspendedAt: null, suspendedReason: null });
      expect((await me()).status).toBe(200);

      const adminId = (await owner('platform_admins').where({ email }).first()).id as string;
      const entries = await platformAudit(tenant.tenantId);
      expect(entries).toHaveLength(2);
      expect(entries[0]).toMatchObject({
        actor_type: 'platform_admin',
        actor_id: adminId,
        action: 'tenant.suspend',
        target_type: 'tenant',
        target_id: tenant.tenantId,
        details: { reason: 'Unpaid invoices' },
        ip: expect.stringMatching(/127\.0\.0\.1|::1/),
        user_agent: 'console-test/1.0',
        request_id: 'suspend-1',
        result: 'success',
      });
      expect(entries[1]).toMatchObject({ action: 'tenant.reactivate', details: { suspendedReason: 'Unpaid invoices' } });
    });

    it("when a suspended tenant's API key calls, then 403 TENANT_SUSPENDED", async () => {
      const tenant = await registerTenant(t.app);
      const key = await request(t.app).post('/api/v1/api-keys').set(tenant.auth).send({ name: 'Sync', role: 'read_only' });
      await api(superToken).patch(tenant.tenantId, { status: 'suspended' });
      const res = await request(t.app).get('/api/v1/leads').set('X-API-Key', key.body.data.key as string);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('TENANT_SUSPENDED');
    });

    it('when the plan changes, then the tenant gets the new limits and the change is audited with both plans', async () => {
      const tenant = await registerTenant(t.app, { plan: 'free' });
      const res = await api(superToken).patch(tenant.tenantId, { plan: 'enterprise' });
      expect(res.status).toBe(200);
      expect(res.body.data.plan).toBe('enterprise');
      expect((await api(superToken).get(tenant.tenantId)).body.data.planLimits.quotas).toEqual({ users: null, records: null, customFields: 500, liveStreams: 200 });
      const entries = await platformAudit(tenant.tenantId);
      expect(entries).toEqual([expect.objectContaining({ action: 'tenant.plan_change', details: { from: 'free', to: 'enterprise' } })]);
      // The new plan's features apply at once: API keys are a pro/enterprise feature.
      expect((await request(t.app).post('/api/v1/api-keys').set(tenant.auth).send({ name: 'K', role: 'read_only' })).status).toBe(201);
    });

    it.each([
      ['empty', {}],
      ['an unknown status', { status: 'deleted' }],
      ['a reason without a suspension', { status: 'active', reason: 'why' }],
      ['a reason alone', { reason: 'why' }],
      ['a numeric plan', { plan: 5 }],
      ['an unknown plan', { plan: 'platinum' }],
      ['an unknown field', { status: 'suspended', name: 'Renamed' }],
      ['an oversized reason', { status: 'suspended', reason: 'x'.repeat(501) }],
    ])('when the body is %s, then 400 and nothing changes', async (_case, body) => {
      const tenant = await registerTenant(t.app);
      const res = await api(superToken).patch(tenant.tenantId, body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(await owner('tenants').where({ id: tenant.tenantId }).first()).toMatchObject({ status: 'active', plan: 'pro' });
      expect(await platformAudit(tenant.tenantId)).toEqual([]);
    });

    it('when the tenant is unknown, then 404', async () => {
      const res = await api(superToken).patch(randomUUID(), { status: 'suspended' });
      expect(res.status).toBe(404);
    });
  });

  describe('access', () => {
    it('when a support admin reads, then 200; when it patches, then 403 and nothing changes', async () => {
      const tenant = await registerTenant(t.app);
      expect((await api(supportToken).list({ q: tenant.subdomain })).status).toBe(200);
      const res = await api(supportToken).patch(tenant.tenantId, { status: 'suspended' });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
      expect((await owner('tenants').where({ id: tenant.tenantId }).first()).status).toBe('active');
    });

    it("when a tenant admin's token is used, then 403 on every admin tenant route; without a token, 401", async () => {
      const tenant = await registerTenant(t.app);
      const asTenant = api(tenant.accessToken);
      for (const res of [await asTenant.list(), await asTenant.get(tenant.tenantId), await asTenant.patch(tenant.tenantId, { plan: 'enterprise' })]) {
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      }
      expect((await request(t.app).get('/api/v1/admin/tenants')).status).toBe(401);
    });
  });

  describe('the platform database role', () => {
    let platform: Knex;
    let runtime: Knex;
    beforeAll(() => {
      platform = platformRoleKnex();
      runtime = runtimeKnex(1);
    });
    afterAll(async () => {
      await platform.destroy();
      await runtime.destroy();
    });

    it('when it reads without a tenant scope, then it sees every tenant, while the runtime role sees none', async () => {
      const [a, b] = [await registerTenant(t.app), await registerTenant(t.app)];
      const ids = [a.tenantId, b.tenantId];
      expect((await platform('users').whereIn('tenantId', ids).select('tenantId')).map((row) => row.tenantId).sort()).toEqual([...ids].sort());
      expect(await platform('tenants').whereIn('id', ids).count({ n: '*' })).toEqual([{ n: 2 }]);
      expect(await runtime('tenants').count({ n: '*' })).toEqual([{ n: 0 }]);
      expect(await runtime('users').count({ n: '*' })).toEqual([{ n: 0 }]);
    });

    it('when it tries to write tenant data or read secrets, then the database refuses', async () => {
      const tenant = await registerTenant(t.app);
      const refusals = [
        platform('leads').insert({ tenantId: tenant.tenantId, lastName: 'Intruder' }),
        platform('users').where({ tenantId: tenant.tenantId }).update({ firstName: 'Mallory' }),
        platform('users').where({ tenantId: tenant.tenantId }).delete(),
        platform('tenants').where({ id: tenant.tenantId }).update({ name: 'Renamed' }),
        platform('tenants').where({ id: tenant.tenantId }).delete(),
        platform('users').where({ tenantId: tenant.tenantId }).select('passwordHash'),
        platform('apiKeys').select('keyHash'),
        platform('refreshTokens').select('tokenHash'),
        // Staff password hashes are the platform pool's now (staff sign-in runs on it); tenants' never are.
        platform('platformAuditLogs').delete(),
      ];
      for (const attempt of refusals) await expect(attempt).rejects.toMatchObject({ code: '42501' });
      expect(await owner('tenants').where({ id: tenant.tenantId }).first()).toMatchObject({ name: expect.stringMatching(/^Company /) });
    });

    it('when a table has row-level security, then the platform may read it (platform_read, or a read policy for everyone), and the platform login is an unprivileged member', async () => {
      // plans has row-level security only so that Citus may lock it (a read policy for every role, no other).
      const { rows } = await owner.raw(`
        select c.relname from pg_class c
        where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and c.relrowsecurity
          and not exists (select 1 from pg_policy p where p.polrelid = c.oid
                          and (p.polname = 'platform_read' or (p.polcmd = 'r' and p.polroles = '{0}' and pg_get_expr(p.polqual, p.polrelid) = 'true')))`);
      expect(rows).toEqual([]);
      const login = platformCredentials(adminUrl());
      const { rows: roles } = await owner.raw(
        `select r.rolsuper, r.rolbypassrls, pg_has_role(r.oid, ?, 'MEMBER') as platform, pg_has_role(r.oid, ?, 'MEMBER') as runtime
         from pg_roles r where r.rolname = ?`,
        [login.groupRole, runtimeCredentials(adminUrl()).groupRole, login.user],
      );
      expect(roles).toEqual([{ rolsuper: false, rolbypassrls: false, platform: true, runtime: false }]);
    });
  });
});
