import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import request from 'supertest';
import { bearer, PASSWORD, registerTenant } from './support/api-fixtures';
import { StaffMember, staffMember } from './support/platform-admin-fixtures';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

/** How many rows a query of the owner's matches. */
const rows = async (query: Knex.QueryBuilder): Promise<number> => Number(((await query.count({ count: '*' })) as Array<{ count: string | number }>)[0]!.count);

describe('tenants by staff: creation, scheduled deletion, list paging', () => {
  let t: TestApp;
  let owner: Knex;
  let root: StaffMember;
  let finance: StaffMember;

  beforeAll(async () => {
    t = buildTestApp();
    owner = ownerKnex();
    root = await staffMember(t, owner, 'super_admin');
    finance = await staffMember(t, owner, 'finance');
  });
  afterAll(async () => {
    await t.close();
    await owner.destroy();
  });

  const unique = () => randomUUID().slice(0, 8);
  const create = (token: string, body: Record<string, unknown> = {}) => {
    const id = unique();
    return request(t.app)
      .post('/api/v1/admin/tenants')
      .set(bearer(token))
      .send({ name: `Provisioned ${id}`, plan: 'pro', owner: { email: `owner-${id}@example.com`, firstName: 'Ola', lastName: 'Owner' }, ...body });
  };
  const list = (query: Record<string, string | number>) => request(t.app).get('/api/v1/admin/tenants').query(query).set(bearer(root.token));

  describe('POST /admin/tenants', () => {
    it('when a super admin creates a tenant, then it has its roles and an invited owner who accepts and signs in as tenant_admin', async () => {
      const res = await create(root.token, { subdomain: `prov-${unique()}` });
      expect(res.status).toBe(201);
      const { tenant, owner: invited } = res.body.data;
      expect(tenant).toMatchObject({ plan: 'pro', status: 'active', subdomain: expect.stringMatching(/^prov-/) });
      expect(invited).toMatchObject({ status: 'invited', inviteToken: expect.stringMatching(/^inv_/) });
      expect(await rows(owner('roles').where({ tenant_id: tenant.id, is_system: true }))).toBe(5);

      const accepted = await request(t.app).post('/api/v1/auth/accept-invite').send({ token: invited.inviteToken, password: PASSWORD });
      expect(accepted.status).toBe(200);
      const me = await request(t.app).get('/api/v1/auth/me').set(bearer(accepted.body.data.tokens.accessToken));
      expect(me.body.data).toMatchObject({ tenant: { id: tenant.id }, role: { key: 'tenant_admin' } });

      const audit = await owner('platform_audit_logs').where({ action: 'tenant.create', tenant_id: tenant.id }).first();
      expect(audit).toMatchObject({ actor_id: root.id, details: { plan: 'pro', ownerId: invited.id } });
      expect(await rows(owner('notifications').where({ tenant_id: tenant.id, template: 'invite' }))).toBe(1);
    });

    it('when no subdomain is given, then one is made from the name', async () => {
      const res = await create(root.token, { name: `Café Ünïque ${unique()}` });
      expect(res.body.data.tenant.subdomain).toMatch(/^cafe-unique-[0-9a-f]{8}$/);
    });

    it('when the name or subdomain is taken, then 409 names the field and nothing is created', async () => {
      const taken = await registerTenant(t.app);
      const before = await rows(owner('tenants'));
      const bySubdomain = await create(root.token, { subdomain: taken.subdomain });
      expect([bySubdomain.status, bySubdomain.body.error.details[0].field]).toEqual([409, 'subdomain']);
      const name = (await owner('tenants').where({ id: taken.tenantId }).first()).name as string;
      const byName = await create(root.token, { name, subdomain: `other-${unique()}` });
      expect([byName.status, byName.body.error.details[0].field]).toEqual([409, 'name']);
      expect(await rows(owner('tenants'))).toEqual(before);
    });

    it.each([
      ['an unknown plan', { plan: 'platinum' }, 'plan'],
      ['no owner', { owner: undefined }, 'owner'],
      ['a malformed owner email', { owner: { email: 'nope', firstName: 'A', lastName: 'B' } }, 'owner.email'],
      ['a bad subdomain', { subdomain: '-bad-' }, 'subdomain'],
      ['an oversized name', { name: 'N'.repeat(121) }, 'name'],
      ['a tenantId', { id: randomUUID() }, 'id'],
    ])('when the body has %s, then 400 names the field', async (_case, body, field) => {
      const res = await create(root.token, body);
      expect([res.status, res.body.error.code]).toEqual([400, 'VALIDATION_ERROR']);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    });

    it('when a role without tenants:manage or a tenant admin asks, then 403 and no tenant is made', async () => {
      const tenantAdmin = await registerTenant(t.app);
      const before = await rows(owner('tenants'));
      expect((await create(finance.token)).status).toBe(403);
      expect((await create(tenantAdmin.accessToken)).status).toBe(403);
      expect((await request(t.app).post('/api/v1/admin/tenants').send({})).status).toBe(401);
      expect(await rows(owner('tenants'))).toEqual(before);
    });
  });

  describe('DELETE /admin/tenants/:id', () => {
    it('when staff schedules a deletion, then 202, writes stop with 409 TENANT_PENDING_DELETION, and the tenant admin can cancel', async () => {
      const tenant = await registerTenant(t.app);
      const res = await request(t.app).delete(`/api/v1/admin/tenants/${tenant.tenantId}`).set(bearer(root.token));
      expect(res.status).toBe(202);
      expect(res.body.data).toMatchObject({ status: 'pending_deletion', requestedBy: root.id, purgeAt: expect.any(String) });
      const days = (new Date(res.body.data.purgeAt).getTime() - Date.now()) / 86_400_000;
      expect(Math.round(days)).toBe(30);

      const write = await request(t.app).post('/api/v1/leads').set(tenant.auth).send({ firstName: 'Late', lastName: 'Lead', email: 'late@example.com' });
      expect([write.status, write.body.error.code]).toEqual([409, 'TENANT_PENDING_DELETION']);
      expect((await request(t.app).get('/api/v1/organization/delete').set(tenant.auth)).body.data).toMatchObject({ status: 'pending_deletion' });
      expect(await owner('platform_audit_logs').where({ action: 'tenant.delete_scheduled', tenant_id: tenant.tenantId }).pluck('actor_id')).toEqual([root.id]);
      expect(await owner('audit_logs').where({ tenant_id: tenant.tenantId, action: 'organization.deletion_request' }).pluck('actor_type')).toEqual(['platform_admin']);

      expect((await request(t.app).delete('/api/v1/organization/delete').set(tenant.auth)).status).toBe(200);
      expect((await request(t.app).post('/api/v1/leads').set(tenant.auth).send({ firstName: 'On', lastName: 'Time', email: 'on@example.com' })).status).toBe(201);
    });

    it('when the tenant is unknown, the id malformed, or the caller lacks tenants:manage, then 404 / 400 / 403 and nothing is scheduled', async () => {
      const tenant = await registerTenant(t.app);
      expect((await request(t.app).delete(`/api/v1/admin/tenants/${randomUUID()}`).set(bearer(root.token))).status).toBe(404);
      expect((await request(t.app).delete('/api/v1/admin/tenants/nope').set(bearer(root.token))).status).toBe(400);
      expect((await request(t.app).delete(`/api/v1/admin/tenants/${tenant.tenantId}`).set(bearer(finance.token))).status).toBe(403);
      const other = await registerTenant(t.app);
      expect((await request(t.app).delete(`/api/v1/admin/tenants/${tenant.tenantId}`).set(other.auth)).status).toBe(403);
      expect((await owner('tenants').where({ id: tenant.tenantId }).first()).deletion_scheduled_for).toBeNull();
    });
  });

  describe('GET /admin/tenants paging', () => {
    it('when `search` is given, then it filters as `q` does; with both, 400', async () => {
      const tenant = await registerTenant(t.app);
      const bySearch = await list({ search: tenant.subdomain });
      expect(bySearch.body.data.map((row: { id: string }) => row.id)).toEqual([tenant.tenantId]);
      expect((await list({ q: tenant.subdomain })).body.data).toEqual(bySearch.body.data);
      expect((await list({ q: 'a', search: 'b' })).status).toBe(400);
    });

    it('when `offset` is given, then the page starts that many rows in; with a cursor, or a limit past 500, 400', async () => {
      const all = await list({ limit: 3 });
      const shifted = await list({ limit: 2, offset: 1 });
      expect(shifted.status).toBe(200);
      expect(shifted.body.data.map((row: { id: string }) => row.id)).toEqual(all.body.data.slice(1, 3).map((row: { id: string }) => row.id));
      expect((await list({ offset: 1, cursor: all.body.pagination.nextCursor })).status).toBe(400);
      expect((await list({ limit: 501 })).status).toBe(400);
      expect((await list({ offset: -1 })).status).toBe(400);
    });
  });
});
