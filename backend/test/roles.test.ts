import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import request from 'supertest';
import { withTenant } from '../src/infra/tenant-scope';
import { TENANT_PERMISSIONS } from '../src/modules/roles/permissions';
import { addMember, addRole, bearer, Member, Registered, registerTenant } from './support/api-fixtures';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

const grid = (resources: string[], actions: string[]) => resources.flatMap((resource) => actions.map((action) => `${resource}:${action}`));
const CRM = ['leads', 'contacts', 'accounts', 'deals', 'tasks', 'activities', 'tickets'];

/** The role matrix of API.md, written out here rather than read from the code it checks. */
const MATRIX: Record<string, string[]> = {
  tenant_admin: [
    ...grid(CRM, ['read', 'write', 'delete', 'export']),
    'reports:read',
    'reports:manage',
    'parts:read',
    'parts:order',
    'users:manage',
    'roles:manage',
    'audit:read',
    'billing:manage',
    'api_keys:manage',
    'organization:manage',
    'privacy:manage',
    'custom_fields:manage',
    'pipelines:manage',
    'support:create',
  ],
  manager: [...grid(CRM, ['read', 'write', 'delete', 'export']), 'reports:read', 'reports:manage', 'parts:read', 'parts:order', 'pipelines:manage', 'support:create'],
  // "No delete of others' records": delete is granted, and bounded to their own and their team's records per record.
  // Reports of their own and their team's records.
  sales_user: [...grid(['leads', 'contacts', 'accounts', 'deals', 'tasks', 'activities'], ['read', 'write', 'delete']), 'reports:read', 'parts:read', 'support:create'],
  support_user: [...grid(['contacts', 'accounts'], ['read']), ...grid(['tickets', 'activities'], ['read', 'write']), 'parts:read', 'support:create'],
  read_only: [...grid(['leads', 'contacts', 'accounts', 'deals'], ['read']), 'support:create'],
};
const sorted = (values: string[]) => [...values].sort();

describe('roles', () => {
  let t: TestApp;
  let owner: Knex;
  let a: Registered;
  let b: Registered;
  let salesA: Member;
  let roleB: string;

  beforeAll(async () => {
    t = buildTestApp();
    owner = ownerKnex();
    a = await registerTenant(t.app);
    b = await registerTenant(t.app);
    salesA = await addMember(t.app, a, 'sales_user');
    roleB = await addRole(t.app, b, ['leads:read']);
  });
  afterAll(async () => {
    await t.close();
    await owner.destroy();
  });

  const api = () => request(t.app);
  const me = (token: string) => api().get('/api/v1/auth/me').set(bearer(token));
  const roleNamed = (name = `Role ${randomUUID().slice(0, 8)}`, permissions = ['leads:read']) => ({ name, permissions });
  const fields = (res: request.Response) => [...new Set<string>((res.body.error?.details ?? []).map((d: { field: string }) => d.field))].sort();
  const listIds = async (admin: Registered) =>
    (await api().get('/api/v1/roles?limit=500').set(admin.auth)).body.data.map((r: { id: string }) => r.id) as string[];
  const systemRoleId = async (admin: Registered, key: string) =>
    (await api().get('/api/v1/roles').set(admin.auth)).body.data.find((r: { key: string }) => r.key === key).id as string;
  /** A member whose custom role holds exactly `permissions`. */
  const memberWith = async (permissions: string[]) => addMember(t.app, a, await addRole(t.app, a, permissions));

  describe('the permission catalogue', () => {
    it('when the permissions table is read, then it holds exactly the catalogue in code', async () => {
      const keys = await owner('permissions').pluck('key');
      expect(sorted(keys)).toEqual(sorted([...TENANT_PERMISSIONS]));
    });

    it('when role_templates is read, then it holds the five roles of the contract with their exact permissions', async () => {
      const rows: Array<{ key: string; permissions: string[] }> = await owner('role_templates').select('key', 'permissions');
      expect(Object.fromEntries(rows.map((row) => [row.key, sorted(row.permissions)]))).toEqual(
        Object.fromEntries(Object.entries(MATRIX).map(([key, permissions]) => [key, sorted(permissions)])),
      );
    });

    it.each(Object.keys(MATRIX))('when a %s user asks GET /auth/me, then exactly that role’s permissions come back', async (key) => {
      const member = await addMember(t.app, a, key);
      const res = await me(member.accessToken);
      expect(res.status).toBe(200);
      expect(res.body.data.role.key).toBe(key);
      expect(res.body.data.permissions).toEqual(sorted(MATRIX[key]!));
    });
  });

  describe('GET /roles', () => {
    it('when the admin lists roles, then the five system roles and the tenant’s custom roles come back with permissions', async () => {
      const custom = await addRole(t.app, a, ['leads:read', 'deals:read']);
      const res = await api().get('/api/v1/roles').set(a.auth);
      expect(res.status).toBe(200);
      const system = res.body.data.filter((r: { isSystem: boolean }) => r.isSystem);
      expect(sorted(system.map((r: { key: string }) => r.key))).toEqual(sorted(Object.keys(MATRIX)));
      const manager = system.find((r: { key: string }) => r.key === 'manager');
      expect(manager).toMatchObject({ name: 'Manager', permissions: sorted(MATRIX.manager!) });
      expect(res.body.data.find((r: { id: string }) => r.id === custom)).toMatchObject({
        key: null,
        isSystem: false,
        permissions: ['deals:read', 'leads:read'],
      });
      expect(res.body.data.map((r: { id: string }) => r.id)).not.toContain(roleB);
    });

    it('when paged one at a time, then each role appears once, even system roles created in the same instant', async () => {
      const admin = await registerTenant(t.app);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: request.Response = await api()
          .get('/api/v1/roles')
          .query({ limit: 1, ...(cursor ? { cursor } : {}) })
          .set(admin.auth);
        expect(res.status).toBe(200);
        seen.push(...res.body.data.map((r: { id: string }) => r.id));
        cursor = res.body.pagination.nextCursor;
      } while (cursor);
      expect(seen).toHaveLength(5);
      expect(new Set(seen).size).toBe(5);
    });

    it.each([['limit=0'], ['limit=501'], ['cursor=%%%'], ['q=admin']])('when the query is %s, then 400', async (query) => {
      const res = await api().get(`/api/v1/roles?${query}`).set(a.auth);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    });

    it('when called without a token or by a sales user, then 401 and 403', async () => {
      expect((await api().get('/api/v1/roles')).status).toBe(401);
      expect((await api().get('/api/v1/roles').set(salesA.auth)).status).toBe(403);
    });
  });

  describe('POST /roles', () => {
    it('when the admin creates a role, then holders of it get exactly its permissions', async () => {
      const res = await api()
        .post('/api/v1/roles')
        .set(a.auth)
        .send({ name: '  Deal Desk  ', description: 'Reads deals', permissions: ['deals:read', 'deals:export'] });
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ name: 'Deal Desk', description: 'Reads deals', key: null, isSystem: false, permissions: ['deals:export', 'deals:read'] });
      expect(Object.keys(res.body.data).sort()).toEqual(['createdAt', 'description', 'id', 'isSystem', 'key', 'name', 'permissions', 'updatedAt']);
      const member = await addMember(t.app, a, res.body.data.id);
      expect((await me(member.accessToken)).body.data.permissions).toEqual(['deals:export', 'deals:read']);
    });

    it('when the name matches an existing role in any case, or a system role key, then 409 names name', async () => {
      const name = `Closer ${randomUUID().slice(0, 8)}`;
      await addRole(t.app, a, ['leads:read'], name);
      for (const clash of [name.toUpperCase(), 'manager', 'SALES_USER']) {
        const res = await api().post('/api/v1/roles').set(a.auth).send(roleNamed(clash));
        expect(res.status).toBe(409);
        expect(res.body.error).toMatchObject({ code: 'CONFLICT', details: [{ field: 'name' }] });
      }
      expect((await api().post('/api/v1/roles').set(b.auth).send(roleNamed(name))).status).toBe(201);
    });

    it.each([
      [{ permissions: ['leads:fly'] }, 'permissions.0'],
      [{ permissions: ['leads:read', 'leads:read'] }, 'permissions.1'],
      [{ permissions: 'leads:read' }, 'permissions'],
      [{ permissions: ['platform:write'] }, 'permissions.0'],
      [{ name: 'x'.repeat(101) }, 'name'],
      [{ name: '' }, 'name'],
      [{ description: 'x'.repeat(501) }, 'description'],
      [{ key: 'boss' }, 'key'],
      [{ isSystem: true }, 'isSystem'],
      [{ tenantId: randomUUID() }, 'tenantId'],
    ])('when the body has %j, then 400 names %s and no role is created', async (patch, field) => {
      const before = await listIds(a);
      const res = await api().post('/api/v1/roles').set(a.auth).send({ ...roleNamed(), ...patch });
      expect(res.status).toBe(400);
      expect(fields(res)).toEqual([field]);
      expect(await listIds(a)).toEqual(before);
    });

    it('when permissions are missing, then 400 names permissions', async () => {
      const res = await api().post('/api/v1/roles').set(a.auth).send({ name: 'No Permissions' });
      expect(res.status).toBe(400);
      expect(fields(res)).toEqual(['permissions']);
    });

    it('when the caller grants a permission they do not hold, then 403; what they hold they may grant', async () => {
      const roleManager = await memberWith(['roles:manage', 'leads:read']);
      const denied = await api().post('/api/v1/roles').set(roleManager.auth).send(roleNamed(undefined, ['leads:read', 'leads:write']));
      expect(denied.status).toBe(403);
      expect(denied.body.error.message).toContain('leads:write');
      expect((await api().post('/api/v1/roles').set(roleManager.auth).send(roleNamed(undefined, ['leads:read']))).status).toBe(201);
    });

    it('when called without a token or by a sales user, then 401 and 403', async () => {
      expect((await api().post('/api/v1/roles').send(roleNamed())).status).toBe(401);
      expect((await api().post('/api/v1/roles').set(salesA.auth).send(roleNamed())).status).toBe(403);
    });
  });

  describe('PATCH /roles/:id', () => {
    it('when the admin changes a custom role, then its holders get the new permissions on their next request', async () => {
      const roleId = await addRole(t.app, a, ['leads:read']);
      const member = await addMember(t.app, a, roleId);
      const res = await api()
        .patch(`/api/v1/roles/${roleId}`)
        .set(a.auth)
        .send({ name: `Renamed ${randomUUID().slice(0, 8)}`, description: null, permissions: ['contacts:read'] });
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ id: roleId, description: null, permissions: ['contacts:read'] });
      expect((await me(member.accessToken)).body.data.permissions).toEqual(['contacts:read']);
    });

    it('when the role is a system role, then 403 and it is unchanged', async () => {
      const managerId = await systemRoleId(a, 'manager');
      const res = await api().patch(`/api/v1/roles/${managerId}`).set(a.auth).send({ permissions: ['leads:read'] });
      expect(res.status).toBe(403);
      const manager = (await api().get('/api/v1/roles').set(a.auth)).body.data.find((r: { id: string }) => r.id === managerId);
      expect(manager.permissions).toEqual(sorted(MATRIX.manager!));
    });

    it('when the new name is taken in any case, then 409; keeping its own name in another case is fine', async () => {
      const taken = `Taken ${randomUUID().slice(0, 8)}`;
      await addRole(t.app, a, ['leads:read'], taken);
      const own = `Own ${randomUUID().slice(0, 8)}`;
      const roleId = await addRole(t.app, a, ['leads:read'], own);
      expect((await api().patch(`/api/v1/roles/${roleId}`).set(a.auth).send({ name: taken.toLowerCase() })).status).toBe(409);
      expect((await api().patch(`/api/v1/roles/${roleId}`).set(a.auth).send({ name: own.toUpperCase() })).status).toBe(200);
    });

    it('when the caller would grant, or edit a role holding, permissions they lack, or edit their own role, then 403', async () => {
      const roleManagerRole = await addRole(t.app, a, ['roles:manage', 'leads:read']);
      const roleManager = await addMember(t.app, a, roleManagerRole);
      const modest = await addRole(t.app, a, ['leads:read']);
      const mighty = await addRole(t.app, a, ['billing:manage']);
      const attempts: Array<[string, Record<string, unknown>]> = [
        [modest, { permissions: ['leads:read', 'leads:delete'] }],
        [mighty, { name: `Tamed ${randomUUID().slice(0, 8)}` }],
        [roleManagerRole, { permissions: ['roles:manage'] }],
      ];
      for (const [roleId, body] of attempts) {
        const res = await api().patch(`/api/v1/roles/${roleId}`).set(roleManager.auth).send(body);
        expect(res.status).toBe(403);
      }
      expect((await api().patch(`/api/v1/roles/${modest}`).set(roleManager.auth).send({ description: 'Leads only' })).status).toBe(200);
    });

    it.each([
      [{}, ''],
      [{ permissions: ['leads:fly'] }, 'permissions.0'],
      [{ isSystem: true }, 'isSystem'],
      [{ name: 'x'.repeat(101) }, 'name'],
    ])('when the body is %j, then 400', async (body, field) => {
      const roleId = await addRole(t.app, a, ['leads:read']);
      const res = await api().patch(`/api/v1/roles/${roleId}`).set(a.auth).send(body);
      expect(res.status).toBe(400);
      if (field) expect(fields(res)).toEqual([field]);
    });

    it("when tenant A patches tenant B's role or an unknown id, then 404; a malformed id is 400", async () => {
      expect((await api().patch(`/api/v1/roles/${roleB}`).set(a.auth).send({ permissions: [] })).status).toBe(404);
      expect((await api().patch(`/api/v1/roles/${randomUUID()}`).set(a.auth).send({ permissions: [] })).status).toBe(404);
      expect((await api().patch('/api/v1/roles/abc').set(a.auth).send({ permissions: [] })).status).toBe(400);
      const bRole = (await api().get('/api/v1/roles').set(b.auth)).body.data.find((r: { id: string }) => r.id === roleB);
      expect(bRole.permissions).toEqual(['leads:read']);
    });

    it('when called without a token or by a sales user, then 401 and 403', async () => {
      const roleId = await addRole(t.app, a, ['leads:read']);
      expect((await api().patch(`/api/v1/roles/${roleId}`).send({ permissions: [] })).status).toBe(401);
      expect((await api().patch(`/api/v1/roles/${roleId}`).set(salesA.auth).send({ permissions: [] })).status).toBe(403);
    });
  });

  describe('DELETE /roles/:id', () => {
    it('when an unassigned custom role is deleted, then it is gone and its name is free again', async () => {
      const name = `Temp ${randomUUID().slice(0, 8)}`;
      const roleId = await addRole(t.app, a, ['leads:read'], name);
      expect((await api().delete(`/api/v1/roles/${roleId}`).set(a.auth)).status).toBe(204);
      expect(await listIds(a)).not.toContain(roleId);
      expect((await api().patch(`/api/v1/roles/${roleId}`).set(a.auth).send({ permissions: [] })).status).toBe(404);
      expect((await api().delete(`/api/v1/roles/${roleId}`).set(a.auth)).status).toBe(404);
      expect((await api().post('/api/v1/roles').set(a.auth).send(roleNamed(name))).status).toBe(201);
    });

    it('when the role is a system role, then 403', async () => {
      const res = await api().delete(`/api/v1/roles/${await systemRoleId(a, 'read_only')}`).set(a.auth);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    });

    it('when a user still holds the role, then 409 until that user is gone', async () => {
      const roleId = await addRole(t.app, a, ['leads:read']);
      const member = await addMember(t.app, a, roleId);
      const res = await api().delete(`/api/v1/roles/${roleId}`).set(a.auth);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('CONFLICT');
      expect((await me(member.accessToken)).body.data.permissions).toEqual(['leads:read']);
      expect((await api().delete(`/api/v1/users/${member.id}`).set(a.auth)).status).toBe(204);
      expect((await api().delete(`/api/v1/roles/${roleId}`).set(a.auth)).status).toBe(204);
    });

    it('when a live API key holds the role, then 409; once the key is revoked, the role can go', async () => {
      const roleId = await addRole(t.app, a, ['leads:read']);
      const keyId = randomUUID();
      await withTenant(owner, a.tenantId, (trx) =>
        trx('api_keys').insert({ tenant_id: a.tenantId, id: keyId, name: 'ci', prefix: 'crm_live_abc', key_hash: randomUUID(), role_id: roleId }),
      );
      expect((await api().delete(`/api/v1/roles/${roleId}`).set(a.auth)).status).toBe(409);
      await withTenant(owner, a.tenantId, (trx) => trx('api_keys').where({ id: keyId }).update({ revoked_at: trx.fn.now() }));
      expect((await api().delete(`/api/v1/roles/${roleId}`).set(a.auth)).status).toBe(204);
    });

    it('when the caller lacks a permission the role holds, then 403', async () => {
      const roleManager = await memberWith(['roles:manage']);
      const mighty = await addRole(t.app, a, ['billing:manage']);
      expect((await api().delete(`/api/v1/roles/${mighty}`).set(roleManager.auth)).status).toBe(403);
      expect(await listIds(a)).toContain(mighty);
    });

    it("when tenant A deletes tenant B's role, then 404 and it lives on; a malformed id is 400", async () => {
      expect((await api().delete(`/api/v1/roles/${roleB}`).set(a.auth)).status).toBe(404);
      expect(await listIds(b)).toContain(roleB);
      expect((await api().delete('/api/v1/roles/abc').set(a.auth)).status).toBe(400);
    });

    it('when called without a token or by a sales user, then 401 and 403', async () => {
      const roleId = await addRole(t.app, a, ['leads:read']);
      expect((await api().delete(`/api/v1/roles/${roleId}`)).status).toBe(401);
      expect((await api().delete(`/api/v1/roles/${roleId}`).set(salesA.auth)).status).toBe(403);
      expect(await listIds(a)).toContain(roleId);
    });
  });
});
