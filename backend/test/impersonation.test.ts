import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { Knex } from 'knex';
import request from 'supertest';
import { CRM_RECORD_PREFIXES } from '../src/modules/admin/impersonation-policy';
import { CRM_RESOURCE_DEFINITIONS } from '../src/modules/crm/crm-resources';
import { addMember, bearer, Member, registerTenant, Registered } from './support/api-fixtures';
import { platformAdmins, PlatformAdminsFixture } from './support/platform-admin-fixtures';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

describe('platform admin: impersonation', () => {
  let t: TestApp;
  let owner: Knex;
  let admins: PlatformAdminsFixture;
  let tenant: Registered;
  let member: Member;

  beforeAll(async () => {
    t = buildTestApp();
    owner = ownerKnex();
    admins = await platformAdmins(t, owner);
    tenant = await registerTenant(t.app);
    member = await addMember(t.app, tenant, 'sales_user');
  });
  afterAll(async () => {
    await t.close();
    await owner.destroy();
  });

  const impersonate = (tenantId: string, body: unknown, token = admins.superAdmin.token) =>
    request(t.app).post(`/api/v1/admin/tenants/${tenantId}/impersonate`).set(bearer(token)).send(body as object);
  const settings = (auth: Record<string, string>, body?: unknown) =>
    body === undefined
      ? request(t.app).get('/api/v1/organization/settings').set(auth)
      : request(t.app).patch('/api/v1/organization/settings').set(auth).send(body as object);

  describe('POST /admin/tenants/:id/impersonate', () => {
    it("when a super admin gives a reason, then a 15-minute token acts as the tenant's first admin and is not refreshable", async () => {
      const res = await impersonate(tenant.tenantId, { reason: 'Ticket 4711: import fails' });
      expect(res.status).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const session = res.body.data;
      expect(session).toMatchObject({
        tenantId: tenant.tenantId,
        user: { id: tenant.userId, email: tenant.email, role: 'tenant_admin' },
        impersonatorId: admins.superAdmin.id,
        tokens: { tokenType: 'Bearer', expiresIn: 900 },
      });
      expect(session.tokens.refreshToken).toBeUndefined();
      const claims = jwt.decode(session.tokens.accessToken) as { exp: number; iat: number; imp: string; sub: string };
      expect(claims.exp - claims.iat).toBe(900);
      expect(claims).toMatchObject({ imp: admins.superAdmin.id, sub: tenant.userId });

      const me = await request(t.app).get('/api/v1/auth/me').set(bearer(session.tokens.accessToken));
      expect(me.status).toBe(200);
      expect(me.body.data.id ?? me.body.data.user?.id).toBe(tenant.userId);
    });

    it('when the support session writes, then every audit entry it produces names the impersonator', async () => {
      const { body } = await impersonate(tenant.tenantId, { reason: 'Fix a lead for the customer' });
      const token = body.data.tokens.accessToken as string;
      const created = await request(t.app).post('/api/v1/leads').set(bearer(token)).send({ lastName: 'Supported' });
      expect(created.status).toBe(201);
      const updated = await request(t.app).patch(`/api/v1/leads/${created.body.data.id}`).set(bearer(token)).send({ lastName: 'Supported 2' });
      expect(updated.status).toBe(200);
      const entries = await owner('audit_logs').where({ tenant_id: tenant.tenantId, resource_id: created.body.data.id });
      expect(entries.map((entry) => entry.action).sort()).toEqual(['lead.create', 'lead.update']);
      for (const entry of entries) expect(entry).toMatchObject({ actor_id: tenant.userId, impersonator_id: admins.superAdmin.id });

      // The tenant sees it in its own trail too.
      const trail = await request(t.app).get('/api/v1/audit-logs').query({ resourceId: created.body.data.id }).set(tenant.auth);
      expect(trail.body.data.every((entry: { actor: { impersonatorId: string } }) => entry.actor.impersonatorId === admins.superAdmin.id)).toBe(true);
    });

    it("when a session starts, then it is in the tenant's audit log and the platform audit log with its reason", async () => {
      const reason = `Ticket ${randomUUID().slice(0, 6)}`;
      const { body } = await impersonate(tenant.tenantId, { reason, userId: member.id });
      expect(body.data.user).toMatchObject({ id: member.id, role: 'sales_user' });
      const [tenantEntry] = await owner('audit_logs').where({ tenant_id: tenant.tenantId, action: 'impersonation.start', resource_id: member.id });
      expect(tenantEntry).toMatchObject({ actor_type: 'platform_admin', actor_id: admins.superAdmin.id, impersonator_id: admins.superAdmin.id });
      expect(JSON.stringify(tenantEntry.changes)).toContain(body.data.sessionId);
      const [platformEntry] = await owner('platform_audit_logs').where({ tenant_id: tenant.tenantId, action: 'tenant.impersonate', target_id: member.id });
      expect(platformEntry).toMatchObject({ actor_id: admins.superAdmin.id, target_type: 'user' });
      expect(platformEntry.details).toMatchObject({ reason, sessionId: body.data.sessionId });
    });

    it('when the session tries to change a password, manage API keys, users, roles or organization settings, then 403', async () => {
      const { body } = await impersonate(tenant.tenantId, { reason: 'Check the refusals' });
      const auth = bearer(body.data.tokens.accessToken);
      const refused = [
        await request(t.app).post('/api/v1/auth/password').set(auth).send({ currentPassword: tenant.password, newPassword: 'An0ther-Passw0rd!' }),
        await request(t.app).post('/api/v1/api-keys').set(auth).send({ name: 'backdoor', role: 'tenant_admin' }),
        await request(t.app).post('/api/v1/users').set(auth).send({ email: `x-${randomUUID().slice(0, 6)}@example.com`, firstName: 'X', lastName: 'Y', role: 'tenant_admin' }),
        await request(t.app).post('/api/v1/roles').set(auth).send({ name: 'Escalated', permissions: ['leads:read'] }),
        await settings(auth, { allowImpersonation: true }),
      ];
      for (const res of refused) expect([res.status, res.body.error.code]).toEqual([403, 'FORBIDDEN']);
      expect(await owner('api_keys').where({ tenant_id: tenant.tenantId, name: 'backdoor' })).toEqual([]);
      // Reading stays possible: it is a support session.
      expect((await settings(auth)).status).toBe(200);
    });

    it('when the session would leave a feed or carry data out (webhooks, integrations, erase, export), then 403 and nothing is kept', async () => {
      const { body } = await impersonate(tenant.tenantId, { reason: 'Check the allow-list' });
      const auth = bearer(body.data.tokens.accessToken);
      const refused = [
        await request(t.app).post('/api/v1/webhooks').set(auth).send({ url: 'https://example.com/feed', events: ['*'] }),
        await request(t.app).get('/api/v1/webhooks').set(auth),
        await request(t.app)
          .post('/api/v1/integrations')
          .set(auth)
          .send({ type: 'slack_notification', name: 'feed', config: { webhookUrl: 'https://hooks.slack.com/services/T0/B0/x', events: ['deal.won'] } }),
        await request(t.app).post('/api/v1/privacy/erase').set(auth).send({ email: member.email }),
        await request(t.app).get('/api/v1/privacy/subject').query({ email: member.email }).set(auth),
        await request(t.app).post('/api/v1/organization/export-data').set(auth).send({}),
        await request(t.app).post('/api/v1/custom-fields').set(auth).send({ resource: 'leads', key: 'support_field', label: 'X', type: 'text' }),
        await request(t.app).get('/api/v1/users').set(auth),
      ];
      for (const res of refused) expect([res.status, res.body.error.code]).toEqual([403, 'FORBIDDEN']);
      expect(await owner('webhook_subscriptions').where({ tenant_id: tenant.tenantId })).toEqual([]);
      expect(await owner('integrations').where({ tenant_id: tenant.tenantId })).toEqual([]);
      // CRM records and reads stay open: that is what support is asked to help with.
      expect((await request(t.app).post('/api/v1/contacts').set(auth).send({ firstName: 'Still', lastName: 'Allowed' })).status).toBe(201);
      expect((await request(t.app).get('/api/v1/leads').set(auth)).status).toBe(200);
    });

    it('the allow-list names exactly the declared CRM resources', () => {
      expect([...CRM_RECORD_PREFIXES].sort()).toEqual([...CRM_RESOURCE_DEFINITIONS.keys()].map((name) => `/${name}`).sort());
    });

    it('when the body is malformed, then 400; when the tenant or user is unknown, then 404', async () => {
      expect((await impersonate(tenant.tenantId, {})).status).toBe(400);
      expect((await impersonate(tenant.tenantId, { reason: ' ' })).status).toBe(400);
      expect((await impersonate(tenant.tenantId, { reason: 'x'.repeat(501) })).status).toBe(400);
      expect((await impersonate(tenant.tenantId, { reason: 'valid reason', userId: 'nope' })).status).toBe(400);
      expect((await impersonate('not-a-uuid', { reason: 'valid reason' })).status).toBe(400);
      expect((await impersonate(randomUUID(), { reason: 'valid reason' })).status).toBe(404);
      // A user of another tenant is not a user of this one.
      const stranger = await registerTenant(t.app);
      expect((await impersonate(tenant.tenantId, { reason: 'valid reason', userId: stranger.userId })).status).toBe(404);
    });

    it('when a support admin or a tenant user asks, then 403; without a token, 401; no session is opened', async () => {
      const before = await owner('sessions').where({ tenant_id: tenant.tenantId }).count<Array<{ count: string }>>({ count: '*' });
      expect((await impersonate(tenant.tenantId, { reason: 'support may not' }, admins.support.token)).status).toBe(403);
      expect((await request(t.app).post(`/api/v1/admin/tenants/${tenant.tenantId}/impersonate`).set(tenant.auth).send({ reason: 'self' })).status).toBe(403);
      expect((await request(t.app).post(`/api/v1/admin/tenants/${tenant.tenantId}/impersonate`).send({ reason: 'anonymous' })).status).toBe(401);
      // An impersonation token is a tenant token: it cannot impersonate further.
      const { body } = await impersonate(tenant.tenantId, { reason: 'chain attempt' });
      const chained = await request(t.app)
        .post(`/api/v1/admin/tenants/${tenant.tenantId}/impersonate`)
        .set(bearer(body.data.tokens.accessToken))
        .send({ reason: 'again' });
      expect(chained.status).toBe(403);
      const after = await owner('sessions').where({ tenant_id: tenant.tenantId }).count<Array<{ count: string }>>({ count: '*' });
      expect(Number(after[0]!.count)).toBe(Number(before[0]!.count) + 1);
    });

    it('when the tenant is suspended, then 403 TENANT_SUSPENDED', async () => {
      const suspended = await registerTenant(t.app);
      await request(t.app).patch(`/api/v1/admin/tenants/${suspended.tenantId}`).set(bearer(admins.superAdmin.token)).send({ status: 'suspended', reason: 'test' }).expect(200);
      const res = await impersonate(suspended.tenantId, { reason: 'look at it' });
      expect([res.status, res.body.error.code]).toEqual([403, 'TENANT_SUSPENDED']);
    });
  });

  describe('GET/PATCH /organization/settings (allowImpersonation)', () => {
    it('when a tenant admin opts out, then impersonation is refused with 403 until they opt back in; each change is audited', async () => {
      const org = await registerTenant(t.app);
      expect((await settings(org.auth)).body.data).toEqual({ allowImpersonation: true, requireMfa: false });
      const off = await settings(org.auth, { allowImpersonation: false });
      expect(off.status).toBe(200);
      expect(off.body.data).toEqual({ allowImpersonation: false, requireMfa: false });
      expect((await settings(org.auth)).body.data).toEqual({ allowImpersonation: false, requireMfa: false });

      const refused = await impersonate(org.tenantId, { reason: 'customer opted out' });
      expect([refused.status, refused.body.error.code]).toEqual([403, 'FORBIDDEN']);
      expect(await owner('platform_audit_logs').where({ tenant_id: org.tenantId, action: 'tenant.impersonate' })).toEqual([]);

      await settings(org.auth, { allowImpersonation: true }).expect(200);
      expect((await impersonate(org.tenantId, { reason: 'customer opted back in' })).status).toBe(201);
      const changes = await owner('audit_logs').where({ tenant_id: org.tenantId, action: 'organization.settings_update' }).orderBy('append_id');
      expect(changes.map((entry) => entry.changes)).toEqual([
        { allowImpersonation: { before: true, after: false } },
        { allowImpersonation: { before: false, after: true } },
      ]);
    });

    it('when a user without organization:manage asks, then 403; when the body is malformed, then 400; without a token, 401', async () => {
      expect((await settings(member.auth)).status).toBe(403);
      expect((await settings(member.auth, { allowImpersonation: false })).status).toBe(403);
      expect((await settings(tenant.auth, {})).status).toBe(400);
      expect((await settings(tenant.auth, { allowImpersonation: 'maybe' })).status).toBe(400);
      expect((await settings(tenant.auth, { allowImpersonation: true, colour: 'red' })).status).toBe(400);
      expect((await request(t.app).get('/api/v1/organization/settings')).status).toBe(401);
      expect((await settings(bearer(admins.superAdmin.token))).status).toBe(401);
    });

    it("when a tenant admin names another tenant, then 403 TENANT_MISMATCH and the other tenant's setting is unchanged", async () => {
      const other = await registerTenant(t.app);
      const res = await request(t.app).patch('/api/v1/organization/settings').set(tenant.auth).set('X-Tenant-ID', other.tenantId).send({ allowImpersonation: false });
      expect(res.status).toBe(403);
      expect((await settings(other.auth)).body.data).toEqual({ allowImpersonation: true, requireMfa: false });
    });
  });
});
