import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import request from 'supertest';
import { withTenant } from '../src/infra/tenant-scope';
import { sha256Hex } from '../src/lib/crypto';
import { hashPassword } from '../src/modules/auth/passwords';
import { Role } from '../src/modules/roles/role.model';
import { User } from '../src/modules/users/user.model';
import { bearer, login, PASSWORD, Registered, registerTenant } from './support/api-fixtures';
import { eventually } from './support/eventually';
import { buildTestApp, createTenantFixture, ownerKnex, TestApp } from './support/test-app';

describe('api keys', () => {
  let t: TestApp;
  let owner: Knex;
  beforeAll(() => {
    t = buildTestApp();
    owner = ownerKnex();
  });
  afterAll(async () => {
    await t.close();
    await owner.destroy();
  });

  const future = () => new Date(Date.now() + 86_400_000).toISOString();
  const issue = (auth: Record<string, string>, body: Record<string, unknown>) => request(t.app).post('/api/v1/api-keys').set(auth).send(body);
  const list = (auth: Record<string, string>, query = '') => request(t.app).get(`/api/v1/api-keys${query}`).set(auth);
  const revoke = (auth: Record<string, string>, id: string) => request(t.app).delete(`/api/v1/api-keys/${id}`).set(auth);
  const viaHeader = (key: string) => ({ 'X-API-Key': key });

  /** A key of the admin's tenant; the answer's data, key included. */
  async function newKey(admin: Registered, body: Record<string, unknown> = { name: 'Integration', role: 'tenant_admin' }) {
    const res = await issue(admin.auth, body);
    if (res.status !== 201) throw new Error(`issuing a key failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.data as { id: string; key: string; [field: string]: unknown };
  }

  /** The owner is subject to row-level security too, so it names the tenant first. */
  const asOwner = <T>(tenantId: string, fn: (trx: Knex.Transaction) => Promise<T>) =>
    owner.transaction(async (trx) => {
      await trx.raw("select set_config('app.tenant_id', ?, true)", [tenantId]);
      return fn(trx);
    });

  const keyCount = (tenantId: string) =>
    asOwner(tenantId, async (trx) => Number((await trx('api_keys').where({ tenant_id: tenantId }).count<{ count: string }[]>({ count: '*' }))[0]!.count));

  /** A user of the tenant whose custom role holds exactly these permissions, signed in. */
  async function userWithPermissions(tenantId: string, permissions: string[]) {
    const email = `custom-${randomUUID().slice(0, 8)}@example.com`;
    const roleName = `Custom ${email}`;
    const roleId = await withTenant(t.deps.knex, tenantId, async () => {
      const role = await Role.query().insert({ name: roleName, permissions, isSystem: false });
      await User.query().insert({
        email,
        passwordHash: await hashPassword(PASSWORD, 4),
        firstName: 'Cass',
        lastName: 'Custom',
        roleId: role.id,
        status: 'active',
      });
      return role.id;
    });
    const res = await login(t.app, { email, password: PASSWORD });
    return { roleId, roleName, auth: bearer(res.body.data.tokens.accessToken as string) };
  }

  describe('POST /api-keys', () => {
    it('when a tenant admin issues a key, then 201 shows it once, only its sha256 is stored, and it works in both headers', async () => {
      const admin = await registerTenant(t.app);
      const expiresAt = future();
      const res = await issue(admin.auth, { name: 'Zapier', role: 'tenant_admin', expiresAt });
      expect(res.status).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const created = res.body.data;
      expect(created).toMatchObject({
        id: expect.any(String),
        name: 'Zapier',
        key: expect.stringMatching(/^crm_live_[A-Za-z0-9_-]{43}$/),
        role: { key: 'tenant_admin', name: 'Tenant Admin' },
        permissions: null,
        expiresAt,
        lastUsedAt: null,
        revokedAt: null,
        createdBy: admin.userId,
      });
      expect(created.prefix).toBe(created.key.slice(0, 15));
      expect(created.keyHash).toBeUndefined();

      const row = await asOwner(admin.tenantId, (trx) => trx('api_keys').where({ id: created.id }).first());
      expect(row.key_hash).toBe(sha256Hex(created.key));
      expect(JSON.stringify(row)).not.toContain(created.key);

      expect((await list(bearer(created.key))).status).toBe(200);
      expect((await list(viaHeader(created.key))).status).toBe(200);
    });

    it('when the key is narrowed to explicit permissions, then it holds exactly those', async () => {
      const admin = await registerTenant(t.app);
      const readLeads = await newKey(admin, { name: 'Leads reader', role: 'tenant_admin', permissions: ['leads:read'] });
      expect(readLeads.permissions).toEqual(['leads:read']);
      const denied = await list(bearer(readLeads.key));
      expect(denied.status).toBe(403);
      expect(denied.body.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('api_keys:manage') });
      expect((await revoke(viaHeader(readLeads.key), readLeads.id)).status).toBe(403);

      const manager = await newKey(admin, { name: 'Key manager', permissions: ['api_keys:manage'] });
      expect(manager.role).toMatchObject({ key: 'tenant_admin' });
      expect((await list(viaHeader(manager.key))).status).toBe(200);
    });

    it('when a key calls a route for signed-in users, then 403, even holding the permission', async () => {
      const admin = await registerTenant(t.app);
      const { key } = await newKey(admin);
      const calls = [
        request(t.app).get('/api/v1/auth/me').set(bearer(key)),
        request(t.app).get('/api/v1/sessions').set(viaHeader(key)),
        request(t.app).post('/api/v1/auth/logout').set(bearer(key)),
        issue(viaHeader(key), { name: 'Minted by a key', role: 'read_only' }),
      ];
      for (const res of await Promise.all(calls)) {
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      }
      expect(await keyCount(admin.tenantId)).toBe(1);
    });

    it('when the creator lacks a permission the key would get, then 403 and no key is created', async () => {
      const admin = await registerTenant(t.app);
      const creator = await userWithPermissions(admin.tenantId, ['api_keys:manage', 'leads:read']);
      for (const body of [
        { name: 'Too wide', permissions: ['leads:delete'] },
        { name: 'Too wide', role: 'manager' },
        { name: 'Too wide', role: 'read_only' },
        { name: 'Too wide', role: 'tenant_admin', permissions: ['users:manage'] },
      ]) {
        const res = await issue(creator.auth, body);
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      }
      expect(await keyCount(admin.tenantId)).toBe(0);

      const own = await issue(creator.auth, { name: 'Within my role', permissions: ['leads:read'] });
      expect(own.status).toBe(201);
      expect(own.body.data.role).toMatchObject({ id: creator.roleId, key: null });
      const narrowed = await issue(creator.auth, { name: 'Read-only leads', role: 'read_only', permissions: ['leads:read'] });
      expect(narrowed.status).toBe(201);
      expect(narrowed.body.data.role).toMatchObject({ key: 'read_only' });
    });

    it('when the role is a custom role id or name, then the key gets it; an unknown or foreign role is 400', async () => {
      const admin = await registerTenant(t.app);
      const stranger = await registerTenant(t.app);
      const custom = await userWithPermissions(admin.tenantId, ['leads:read', 'contacts:read']);
      const foreign = await userWithPermissions(stranger.tenantId, ['leads:read']);

      const res = await issue(admin.auth, { name: 'Custom', role: custom.roleId });
      expect(res.status).toBe(201);
      expect(res.body.data.role).toMatchObject({ id: custom.roleId, key: null, name: custom.roleName });
      const byName = await issue(admin.auth, { name: 'Custom by name', role: custom.roleName.toUpperCase() });
      expect(byName.body.data.role).toMatchObject({ id: custom.roleId });

      for (const role of ['no_such_role', foreign.roleId, foreign.roleName, randomUUID()]) {
        const unknown = await issue(admin.auth, { name: 'Unknown role', role });
        expect(unknown.status).toBe(400);
        expect(unknown.body.error.details).toEqual([{ field: 'role', message: expect.any(String) }]);
      }
      const outside = await issue(admin.auth, { name: 'Outside', role: 'read_only', permissions: ['tickets:read'] });
      expect(outside.status).toBe(400);
      expect(outside.body.error.details[0]).toMatchObject({ field: 'permissions', message: expect.stringContaining('tickets:read') });
    });

    it.each([
      [{}, ['name', 'role']],
      [{ name: 'No scope' }, ['role']],
      [{ name: '  ', role: 'read_only' }, ['name']],
      [{ name: 'x'.repeat(101), role: 'read_only' }, ['name']],
      [{ name: 'Big role', role: 'r'.repeat(101) }, ['role']],
      [{ name: 'Numeric role', role: 42 }, ['role']],
      [{ name: 'Empty', permissions: [] }, ['permissions']],
      [{ name: 'Unknown', permissions: ['leads:fly'] }, ['permissions.0']],
      [{ name: 'Platform', permissions: ['platform:write'] }, ['permissions.0']],
      [{ name: 'Twice', permissions: ['leads:read', 'leads:read'] }, ['permissions.1']],
      [{ name: 'Past', role: 'read_only', expiresAt: '2020-01-01T00:00:00Z' }, ['expiresAt']],
      [{ name: 'Vague', role: 'read_only', expiresAt: 'next week' }, ['expiresAt']],
      [{ name: 'Chosen key', role: 'read_only', key: 'crm_live_mine' }, ['key']],
      [{ name: 'Other tenant', role: 'read_only', tenantId: randomUUID() }, ['tenantId']],
      [{ name: 'Backdated', role: 'read_only', createdBy: randomUUID(), revokedAt: null }, ['createdBy', 'revokedAt']],
    ])('when the body is %j, then 400 names %j and nothing is created', async (body, fields) => {
      const admin = await registerTenant(t.app);
      const res = await issue(admin.auth, body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect([...new Set(res.body.error.details.map((d: { field: string }) => d.field))].sort()).toEqual(fields);
      expect(await keyCount(admin.tenantId)).toBe(0);
    });

    it('when the body is not JSON, then 400 INVALID_JSON', async () => {
      const admin = await registerTenant(t.app);
      const res = await request(t.app).post('/api/v1/api-keys').set(admin.auth).set('Content-Type', 'application/json').send('{"name":');
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_JSON');
    });
  });

  describe('GET /api-keys', () => {
    it('when keys exist, then they are listed oldest first in pages, without the key or its hash', async () => {
      const admin = await registerTenant(t.app);
      const keys = [];
      for (const name of ['first', 'second', 'third']) keys.push(await newKey(admin, { name, role: 'read_only' }));

      const page1 = await list(admin.auth, '?limit=2');
      expect(page1.status).toBe(200);
      expect(page1.body.data.map((k: { name: string }) => k.name)).toEqual(['first', 'second']);
      expect(page1.body.pagination).toEqual({ limit: 2, hasMore: true, nextCursor: expect.any(String) });
      expect(Object.keys(page1.body.data[0]).sort()).toEqual(
        ['createdAt', 'createdBy', 'expiresAt', 'id', 'lastUsedAt', 'name', 'permissions', 'prefix', 'revokedAt', 'role'],
      );
      const page2 = await list(admin.auth, `?limit=2&cursor=${page1.body.pagination.nextCursor}`);
      expect(page2.body.data.map((k: { name: string }) => k.name)).toEqual(['third']);
      expect(page2.body.pagination).toEqual({ limit: 2, hasMore: false, nextCursor: null });

      const answers = JSON.stringify([page1.body, page2.body]);
      for (const { key } of keys) {
        expect(answers).not.toContain(key);
        expect(answers).not.toContain(sha256Hex(key));
      }
      expect(JSON.stringify(t.logs)).not.toContain(keys[0]!.key);
    });

    it("when another tenant lists, then it sees none of this tenant's keys", async () => {
      const admin = await registerTenant(t.app);
      const stranger = await registerTenant(t.app);
      await newKey(admin);
      const res = await list(stranger.auth);
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual([]);
    });

    it('when a key is used, then lastUsedAt is recorded, at most once a minute', async () => {
      const admin = await registerTenant(t.app);
      const { id, key } = await newKey(admin);
      expect((await list(bearer(key))).status).toBe(200);
      const first = (await list(admin.auth)).body.data.find((k: { id: string }) => k.id === id).lastUsedAt;
      expect(Date.now() - Date.parse(first)).toBeLessThan(60_000);
      expect((await list(viaHeader(key))).status).toBe(200);
      expect((await list(admin.auth)).body.data.find((k: { id: string }) => k.id === id).lastUsedAt).toBe(first);
    });

    it('when a key of tenant A names tenant B in X-Tenant-ID, then 403 TENANT_MISMATCH', async () => {
      const admin = await registerTenant(t.app);
      const stranger = await registerTenant(t.app);
      const { key } = await newKey(admin);
      const res = await list(viaHeader(key)).set('X-Tenant-ID', stranger.tenantId);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('TENANT_MISMATCH');
      expect((await list(bearer(key)).set('X-Tenant-ID', admin.tenantId)).status).toBe(200);
    });

    it.each(['?limit=0', '?limit=501', '?cursor=not-a-cursor', '?sort=name'])('when the query is %s, then 400', async (query) => {
      const admin = await registerTenant(t.app);
      const res = await list(admin.auth, query);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    });
  });

  describe('DELETE /api-keys/:id', () => {
    it('when a key is revoked, then 204, it is refused at once in both headers, and revoking again changes nothing', async () => {
      const admin = await registerTenant(t.app);
      const { id, key } = await newKey(admin);
      const res = await revoke(admin.auth, id);
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      for (const headers of [bearer(key), viaHeader(key)]) {
        const refused = await list(headers);
        expect(refused.status).toBe(401);
        expect(refused.body.error.code).toBe('UNAUTHORIZED');
        expect(JSON.stringify(refused.body)).not.toContain(key);
      }
      const revokedAt = (await list(admin.auth)).body.data[0].revokedAt;
      expect(revokedAt).toEqual(expect.any(String));
      expect((await revoke(admin.auth, id)).status).toBe(204);
      expect((await list(admin.auth)).body.data[0].revokedAt).toBe(revokedAt);
    });

    it('when a key holding api_keys:manage revokes itself, then it stops working', async () => {
      const admin = await registerTenant(t.app);
      const { id, key } = await newKey(admin);
      expect((await revoke(viaHeader(key), id)).status).toBe(204);
      expect((await list(viaHeader(key))).status).toBe(401);
    });

    it("when the id is another tenant's key or unknown, then 404 and the key keeps working", async () => {
      const admin = await registerTenant(t.app);
      const stranger = await registerTenant(t.app);
      const { id, key } = await newKey(admin);
      for (const target of [id, randomUUID()]) {
        const res = await revoke(stranger.auth, target);
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe('NOT_FOUND');
      }
      expect((await list(bearer(key))).status).toBe(200);
      expect((await revoke(admin.auth, 'not-a-uuid')).status).toBe(400);
    });
  });

  describe('credentials', () => {
    it('when a key has expired, then 401 from that moment, though it was just in use', async () => {
      const admin = await registerTenant(t.app);
      const expiresAt = new Date(Date.now() + 3_000);
      const { key } = await newKey(admin, { name: 'Short-lived', role: 'tenant_admin', expiresAt: expiresAt.toISOString() });
      expect((await list(bearer(key))).status).toBe(200);
      // In use until it expires (so an instance holds it in memory), then refused at once: poll, with a deadline.
      let status = 200;
      await eventually(
        async () => (status = (await list(bearer(key))).status) !== 200,
        expiresAt.getTime() + 1_000 - Date.now(),
        'the expired key being refused',
      );
      expect(status).toBe(401);
      expect(Date.now()).toBeGreaterThanOrEqual(expiresAt.getTime());
      for (const headers of [bearer(key), viaHeader(key)]) expect((await list(headers)).status).toBe(401);
    });

    it('when there is no credential or an unknown key, then 401 on every route', async () => {
      const unknown = `crm_live_${'x'.repeat(43)}`;
      for (const headers of [{}, bearer(unknown), viaHeader(unknown), viaHeader('not-a-key')]) {
        for (const res of [await list(headers), await issue(headers, { name: 'x', role: 'read_only' }), await revoke(headers, randomUUID())]) {
          expect(res.status).toBe(401);
          expect(res.body.error.code).toBe('UNAUTHORIZED');
        }
      }
    });

    it('when a sales user calls any api-keys route, then 403', async () => {
      const admin = await registerTenant(t.app);
      const { id } = await newKey(admin);
      const fixture = await createTenantFixture(t.deps.knex, ['sales_user']);
      const sales = fixture.users.sales_user!;
      const signedIn = await login(t.app, { email: sales.email, password: sales.password });
      const auth = bearer(signedIn.body.data.tokens.accessToken);
      for (const res of [await list(auth), await issue(auth, { name: 'x', permissions: ['leads:read'] }), await revoke(auth, id)]) {
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      }
      expect(await keyCount(fixture.tenantId)).toBe(0);
    });
  });
});
