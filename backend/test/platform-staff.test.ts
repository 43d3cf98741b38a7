import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import request from 'supertest';
import { STAFF_ROLES, platformPermissionsOf } from '../src/modules/admin/staff-roles';
import { isPlatformRoute } from '../src/modules/auth/principal.service';
import { bearer, registerTenant } from './support/api-fixtures';
import { PLATFORM_PASSWORD, refreshCookieOf, StaffMember, staffMember } from './support/platform-admin-fixtures';
import { servedRoutes, urlOf } from './support/route-catalogue';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

const NEW_PASSWORD = 'Invited-Passw0rd-9';

/** How many rows a query of the owner's matches. */
const rows = async (query: Knex.QueryBuilder): Promise<number> => Number(((await query.count({ count: '*' })) as Array<{ count: string | number }>)[0]!.count);

describe('platform staff: roles, invitations, sessions', () => {
  let t: TestApp;
  let owner: Knex;
  let root: StaffMember;

  beforeAll(async () => {
    t = buildTestApp();
    owner = ownerKnex();
    root = await staffMember(t, owner, 'super_admin');
  });
  afterAll(async () => {
    await t.close();
    await owner.destroy();
  });

  const api = (token: string) => ({
    get: (path: string) => request(t.app).get(`/api/v1${path}`).set(bearer(token)),
    post: (path: string, body: object = {}) => request(t.app).post(`/api/v1${path}`).set(bearer(token)).send(body),
    patch: (path: string, body: object) => request(t.app).patch(`/api/v1${path}`).set(bearer(token)).send(body),
    delete: (path: string) => request(t.app).delete(`/api/v1${path}`).set(bearer(token)),
  });
  const refresh = (cookie?: string) => {
    const req = request(t.app).post('/api/v1/admin/auth/refresh').send({});
    return cookie ? req.set('Cookie', cookie) : req;
  };
  const invite = (token: string, body: Record<string, unknown> = {}) =>
    api(token).post('/admin/admins', { email: `staff-${randomUUID().slice(0, 8)}@example.com`, role: 'support', firstName: 'Sam', lastName: 'Staff', ...body });

  describe('the role matrix on every platform route', () => {
    it.each(STAFF_ROLES)('when a %s calls each route, then it passes exactly where its role holds the permission', async (role) => {
      const member = await staffMember(t, owner, role);
      const held = platformPermissionsOf(role);
      // Signing out would end the session the sweep goes on using; it is tested below.
      const routes = servedRoutes(t).filter((route) => isPlatformRoute(route.permission) && route.path !== '/admin/auth/logout');
      expect(routes.length).toBeGreaterThan(20);
      for (const route of routes) {
        const call = request(t.app)[route.method](urlOf(route)).set(bearer(member.token));
        const res = route.method === 'get' ? await call : await call.send({});
        const refused = res.status === 403 && res.body.error.code === 'FORBIDDEN';
        expect({ route: `${route.method} ${route.path}`, refused }).toEqual({ route: `${route.method} ${route.path}`, refused: !held.has(route.permission) });
      }
    });
  });

  describe('invitations', () => {
    it('when a super admin invites, then the invitee accepts with the code, is signed in, and the code is spent', async () => {
      const res = await invite(root.token, { role: 'finance' });
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ role: 'finance', status: 'invited', mfaEnabled: false, inviteEmailSent: true, inviteToken: expect.stringMatching(/^sinv_/) });
      const { inviteToken, email } = res.body.data;
      expect((await owner('platform_admins').where({ email }).first()).invite_token_hash).not.toContain(inviteToken);

      const accepted = await request(t.app).post('/api/v1/admin/auth/accept-invite').send({ token: inviteToken, password: NEW_PASSWORD });
      expect(accepted.status).toBe(200);
      expect(accepted.body.data.admin).toMatchObject({ email, role: 'finance', status: 'active' });
      expect((await api(accepted.body.data.tokens.accessToken).get('/admin/me')).body.data.email).toBe(email);
      expect((await request(t.app).post('/api/v1/admin/auth/login').send({ email, password: NEW_PASSWORD })).status).toBe(200);

      const again = await request(t.app).post('/api/v1/admin/auth/accept-invite').send({ token: inviteToken, password: NEW_PASSWORD });
      expect([again.status, again.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
      const invitee = accepted.body.data.admin.id as string;
      const audit = await owner('platform_audit_logs').where((q) => q.where({ target_id: invitee }).orWhere({ actor_id: invitee })).pluck('action');
      expect(audit).toEqual(expect.arrayContaining(['staff.invite', 'staff.invite_accepted', 'staff.login']));
    });

    it('when an invited member tries to sign in before accepting, then the same 401 as a wrong password', async () => {
      const { email } = (await invite(root.token)).body.data;
      const res = await request(t.app).post('/api/v1/admin/auth/login').send({ email, password: PLATFORM_PASSWORD });
      expect([res.status, res.body.error.message]).toEqual([401, 'Invalid email or password']);
    });

    it.each([
      ['no fields', {}, ['email', 'firstName', 'lastName', 'role']],
      ['an unknown role', { email: 'x@example.com', role: 'owner', firstName: 'A', lastName: 'B' }, ['role']],
      ['a malformed email', { email: 'not-an-email', role: 'support', firstName: 'A', lastName: 'B' }, ['email']],
      ['an oversized name', { email: 'x@example.com', role: 'support', firstName: 'A'.repeat(101), lastName: 'B' }, ['firstName']],
      ['an unknown field', { email: 'x@example.com', role: 'support', firstName: 'A', lastName: 'B', status: 'active' }, ['status']],
    ])('when the invitation has %s, then 400 names the fields and nobody is invited', async (_case, body, fields) => {
      const before = await rows(owner('platform_admins'));
      const res = await api(root.token).post('/admin/admins', body);
      expect([res.status, res.body.error.code]).toEqual([400, 'VALIDATION_ERROR']);
      expect([...new Set(res.body.error.details.map((d: { field: string }) => d.field))].sort()).toEqual(fields);
      expect(await rows(owner('platform_admins'))).toEqual(before);
    });

    it('when the email is already staff, then 409 and the existing account is untouched', async () => {
      const res = await invite(root.token, { email: root.email, role: 'sales' });
      expect([res.status, res.body.error.code]).toEqual([409, 'CONFLICT']);
      expect((await owner('platform_admins').where({ id: root.id }).first()).role).toBe('super_admin');
    });

    it('when the accepted password is weak, or the code unknown, then 400 / 401', async () => {
      const { inviteToken } = (await invite(root.token)).body.data;
      const weak = await request(t.app).post('/api/v1/admin/auth/accept-invite').send({ token: inviteToken, password: 'short' });
      expect([weak.status, weak.body.error.details[0].field]).toEqual([400, 'password']);
      const unknown = await request(t.app).post('/api/v1/admin/auth/accept-invite').send({ token: `sinv_${randomUUID()}`, password: NEW_PASSWORD });
      expect(unknown.status).toBe(401);
    });
  });

  describe('ranks', () => {
    it('when an admin invites or promotes to super_admin, or changes a super admin, then 403 and nothing changes', async () => {
      const admin = await staffMember(t, owner, 'admin');
      const other = await staffMember(t, owner, 'support');
      expect((await invite(admin.token, { role: 'super_admin' })).status).toBe(403);
      expect((await api(admin.token).patch(`/admin/admins/${other.id}`, { role: 'super_admin' })).status).toBe(403);
      expect((await api(admin.token).patch(`/admin/admins/${root.id}`, { status: 'disabled' })).status).toBe(403);
      expect((await api(admin.token).delete(`/admin/admins/${root.id}`)).status).toBe(403);
      expect(await owner('platform_admins').whereIn('id', [root.id, other.id]).orderBy('role').pluck('role')).toEqual(['super_admin', 'support']);
      // Within its rank it may: a support member becomes finance.
      const res = await api(admin.token).patch(`/admin/admins/${other.id}`, { role: 'finance' });
      expect([res.status, res.body.data.role]).toEqual([200, 'finance']);
    });

    it('when a staff member without admins:manage lists or invites staff, then 403', async () => {
      const support = await staffMember(t, owner, 'support');
      expect((await api(support.token).get('/admin/admins')).status).toBe(403);
      expect((await invite(support.token)).status).toBe(403);
    });

    it('when the last active super admin is disabled, demoted or removed, then 409; with another one, it can be', async () => {
      const others = await owner('platform_admins').where({ role: 'super_admin', status: 'active' }).whereNot({ id: root.id }).pluck('id');
      await owner('platform_admins').whereIn('id', others).update({ status: 'disabled' });
      try {
        const admin = await staffMember(t, owner, 'admin');
        for (const res of [
          await api(root.token).patch(`/admin/admins/${root.id}`, { status: 'disabled' }),
          await api(root.token).patch(`/admin/admins/${root.id}`, { role: 'admin' }),
        ]) {
          expect([res.status, res.body.error.code]).toEqual([409, 'CONFLICT']);
        }
        expect((await api(root.token).delete(`/admin/admins/${root.id}`)).status).toBe(409);
        expect((await api(admin.token).get('/admin/admins')).status).toBe(200);
        expect((await owner('platform_admins').where({ id: root.id }).first()).status).toBe('active');
      } finally {
        await owner('platform_admins').whereIn('id', others).update({ status: 'active' });
      }
      const second = await staffMember(t, owner, 'super_admin');
      const res = await api(root.token).patch(`/admin/admins/${second.id}`, { role: 'admin' });
      expect([res.status, res.body.data.role]).toEqual([200, 'admin']);
    });

    it('when an unknown id or a malformed body is sent, then 404 / 400', async () => {
      expect((await api(root.token).patch(`/admin/admins/${randomUUID()}`, { role: 'sales' })).status).toBe(404);
      expect((await api(root.token).patch(`/admin/admins/${root.id}`, {})).status).toBe(400);
      expect((await api(root.token).patch(`/admin/admins/${root.id}`, { status: 'invited' })).status).toBe(400);
      expect((await api(root.token).patch('/admin/admins/not-a-uuid', { role: 'sales' })).status).toBe(400);
      expect((await api(root.token).delete(`/admin/admins/${randomUUID()}`)).status).toBe(404);
    });
  });

  describe('disabling and removing staff', () => {
    it('when a staff member is disabled, then its console token, its refresh cookie and its support sessions in tenants stop at once', async () => {
      const tenant = await registerTenant(t.app);
      const admin = await staffMember(t, owner, 'admin');
      const support = await api(admin.token).post(`/admin/tenants/${tenant.tenantId}/impersonate`, { reason: 'ticket check' });
      expect(support.status).toBe(201);
      const tenantToken = support.body.data.tokens.accessToken as string;
      expect((await request(t.app).get('/api/v1/leads').set(bearer(tenantToken))).status).toBe(200);

      const res = await api(root.token).patch(`/admin/admins/${admin.id}`, { status: 'disabled' });
      expect([res.status, res.body.data.status]).toEqual([200, 'disabled']);
      expect((await api(admin.token).get('/admin/me')).status).toBe(401);
      expect((await refresh(admin.refreshCookie)).status).toBe(401);
      expect((await request(t.app).get('/api/v1/leads').set(bearer(tenantToken))).status).toBe(401);
      const entry = await owner('platform_audit_logs').where({ action: 'staff.update', target_id: admin.id }).first();
      expect(entry.details).toMatchObject({ after: { status: 'disabled' }, ended: { sessions: 1, impersonations: 1 } });
    });

    it('when a staff member is removed, then it can no longer sign in; removing oneself is refused', async () => {
      const member = await staffMember(t, owner, 'developer');
      expect((await api(root.token).delete(`/admin/admins/${member.id}`)).status).toBe(204);
      expect((await api(member.token).get('/admin/me')).status).toBe(401);
      expect((await request(t.app).post('/api/v1/admin/auth/login').send({ email: member.email, password: PLATFORM_PASSWORD })).status).toBe(401);
      expect((await api(root.token).delete(`/admin/admins/${root.id}`)).status).toBe(409);
    });
  });

  describe('sessions', () => {
    it('when staff signs in, then the refresh token is only an HttpOnly, Secure, SameSite=Strict cookie on /api/v1/admin/auth', async () => {
      const member = await staffMember(t, owner, 'sales');
      const res = await request(t.app).post('/api/v1/admin/auth/login').send({ email: member.email, password: PLATFORM_PASSWORD });
      expect(res.body.data.tokens).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: 900 });
      const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('crm_admin_refresh='))!;
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/Secure/);
      expect(cookie).toMatch(/SameSite=Strict/);
      expect(cookie).toMatch(/Path=\/api\/v1\/admin\/auth/);
    });

    it('when the refresh cookie is used, then it rotates; presenting the spent one again ends the session and its tokens', async () => {
      const member = await staffMember(t, owner, 'marketing');
      const first = await refresh(member.refreshCookie);
      expect(first.status).toBe(200);
      const rotated = refreshCookieOf(first)!;
      expect(rotated).not.toEqual(member.refreshCookie);
      const access = first.body.data.tokens.accessToken as string;
      expect((await api(access).get('/admin/auth/verify')).body.data).toMatchObject({ admin: { id: member.id }, permissions: expect.arrayContaining(['analytics:read']) });

      const reused = await refresh(member.refreshCookie);
      expect([reused.status, reused.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
      expect((await refresh(rotated)).status).toBe(401);
      expect((await api(access).get('/admin/me')).status).toBe(401);
      expect((await api(member.token).get('/admin/me')).status).toBe(401);
      expect(await rows(owner('platform_audit_logs').where({ action: 'staff.refresh_reuse_detected', actor_id: member.id }))).toBe(1);
    });

    it('when there is no cookie, a forged one, or a body, then 401 / 400', async () => {
      expect((await refresh()).status).toBe(401);
      expect((await refresh(`crm_admin_refresh=art_${randomUUID()}`)).status).toBe(401);
      expect((await request(t.app).post('/api/v1/admin/auth/refresh').send({ refreshToken: 'x' })).status).toBe(400);
    });

    it('when staff signs out, then the token and the refresh cookie stop at once; other sessions are listed and can be ended', async () => {
      const member = await staffMember(t, owner, 'developer');
      const second = await request(t.app).post('/api/v1/admin/auth/login').send({ email: member.email, password: PLATFORM_PASSWORD });
      const secondToken = second.body.data.tokens.accessToken as string;
      const listed = await api(secondToken).get('/admin/auth/sessions');
      expect(listed.body.data).toHaveLength(2);
      expect(listed.body.data.filter((s: { current: boolean }) => s.current)).toHaveLength(1);

      const out = await api(member.token).post('/admin/auth/logout');
      expect(out.status).toBe(204);
      expect(([] as string[]).concat(out.headers['set-cookie'] ?? []).join()).toMatch(/crm_admin_refresh=;.*Max-Age=0/);
      expect((await api(member.token).get('/admin/me')).status).toBe(401);
      expect((await refresh(member.refreshCookie)).status).toBe(401);
      expect((await api(secondToken).get('/admin/auth/sessions')).body.data).toHaveLength(1);

      const third = await request(t.app).post('/api/v1/admin/auth/login').send({ email: member.email, password: PLATFORM_PASSWORD });
      const thirdId = (await api(third.body.data.tokens.accessToken).get('/admin/auth/verify')).body.data.session.id as string;
      expect((await api(secondToken).delete(`/admin/auth/sessions/${thirdId}`)).status).toBe(204);
      expect((await api(third.body.data.tokens.accessToken).get('/admin/me')).status).toBe(401);
      // Another staff member's session is not one's own: 404, and it stays.
      expect((await api(root.token).delete(`/admin/auth/sessions/${thirdId}`)).status).toBe(404);
      expect((await api(secondToken).get('/admin/me')).status).toBe(200);
    });
  });
});
