import { createHash, randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import request from 'supertest';
import { withTenant } from '../src/infra/tenant-scope';
import { addMember, addRole, bearer, login, Member, PASSWORD, Registered, registerTenant } from './support/api-fixtures';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

describe('users', () => {
  let t: TestApp;
  let owner: Knex;
  let a: Registered;
  let b: Registered;
  let salesA: Member;
  let memberB: Member;

  beforeAll(async () => {
    t = buildTestApp();
    owner = ownerKnex();
    a = await registerTenant(t.app);
    b = await registerTenant(t.app);
    salesA = await addMember(t.app, a, 'sales_user');
    memberB = await addMember(t.app, b, 'read_only');
  });
  afterAll(async () => {
    await t.close();
    await owner.destroy();
  });

  const api = () => request(t.app);
  const me = (token: string) => api().get('/api/v1/auth/me').set(bearer(token));
  const invite = (admin: Registered, body: Record<string, unknown> = {}) =>
    api()
      .post('/api/v1/users')
      .set(admin.auth)
      .send({ email: `invitee-${randomUUID().slice(0, 8)}@example.com`, firstName: 'Ivy', lastName: 'Invitee', role: 'read_only', ...body });
  /** The owner connection, bound to a tenant so that forced row-level security lets it through. */
  const asOwner = <T>(tenantId: string, fn: (trx: Knex.Transaction) => Promise<T>) => withTenant(owner, tenantId, fn);
  const userRow = (tenantId: string, id: string) => asOwner(tenantId, (trx) => trx('users').where({ id }).first());
  const addTeam = (tenantId: string) =>
    asOwner(tenantId, async (trx) => (await trx('teams').insert({ tenant_id: tenantId, name: `Team ${randomUUID()}` }).returning('id'))[0].id as string);
  const fields = (res: request.Response) => [...new Set<string>((res.body.error?.details ?? []).map((d: { field: string }) => d.field))].sort();

  describe('GET /users', () => {
    it('when the admin lists users, then the members of that tenant only come back, without secrets', async () => {
      const res = await api().get('/api/v1/users').set(a.auth);
      expect(res.status).toBe(200);
      expect(res.body.pagination).toEqual({ limit: 50, nextCursor: null, hasMore: false });
      const ids = res.body.data.map((u: { id: string }) => u.id);
      expect(ids).toEqual(expect.arrayContaining([a.userId, salesA.id]));
      expect(ids).not.toContain(memberB.id);
      expect(ids).not.toContain(b.userId);
      expect(res.body.data[0]).toMatchObject({ id: a.userId, role: { key: 'tenant_admin' }, status: 'active' });
      expect(JSON.stringify(res.body)).not.toMatch(/passwordHash|inviteToken|\$2[aby]\$/);
    });

    it('when paged with a small limit while users are added, then each user appears exactly once, oldest first', async () => {
      const admin = await registerTenant(t.app);
      const created = [admin.userId];
      for (let i = 0; i < 4; i += 1) created.push((await invite(admin)).body.data.id);

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: request.Response = await api()
          .get('/api/v1/users')
          .query({ limit: 2, ...(cursor ? { cursor } : {}) })
          .set(admin.auth);
        expect(res.status).toBe(200);
        expect(res.body.data.length).toBeLessThanOrEqual(2);
        seen.push(...res.body.data.map((u: { id: string }) => u.id));
        expect(res.body.pagination.hasMore).toBe(res.body.pagination.nextCursor !== null);
        cursor = res.body.pagination.nextCursor;
        if (pages === 0) created.push((await invite(admin)).body.data.id);
        pages += 1;
      } while (cursor);
      expect(seen).toEqual(created);
      expect(pages).toBe(3);
    });

    it('when filtered by status, then only users in that status come back', async () => {
      const invited = (await invite(a)).body.data.id;
      const res = await api().get('/api/v1/users?status=invited').set(a.auth);
      expect(res.status).toBe(200);
      expect(res.body.data.map((u: { id: string }) => u.id)).toContain(invited);
      expect(res.body.data.every((u: { status: string }) => u.status === 'invited')).toBe(true);
    });

    const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    it.each([
      ['limit=0', 'query.limit'],
      ['limit=501', 'query.limit'],
      ['limit=ten', 'query.limit'],
      ['cursor=not-a-cursor', 'query.cursor'],
      [`cursor=${cursorOf(['2026-01-01T00:00:00.000Z', randomUUID()])}`, 'query.cursor'],
      [`cursor=${cursorOf(['2026-01-01T00:00:00.000000Z', 'not-a-uuid'])}`, 'query.cursor'],
      [`cursor=${cursorOf(['2026-01-01T00:00:00.000000Z', randomUUID(), 'extra'])}`, 'query.cursor'],
      [`cursor=${'A'.repeat(513)}`, 'query.cursor'],
      ['status=deleted', 'query.status'],
      ['sort=email', 'query.sort'],
    ])('when the query is %s, then 400 names %s', async (query, field) => {
      const res = await api().get(`/api/v1/users?${query}`).set(a.auth);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(fields(res)).toEqual([field]);
    });

    it('when called without a token, then 401', async () => {
      expect((await api().get('/api/v1/users')).status).toBe(401);
    });

    it('when called by a sales user, then 403', async () => {
      const res = await api().get('/api/v1/users').set(salesA.auth);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    });
  });

  describe('GET /users/:id', () => {
    it('when the id is a member of the tenant, then the user comes back', async () => {
      const res = await api().get(`/api/v1/users/${salesA.id}`).set(a.auth);
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ id: salesA.id, email: salesA.email, role: { key: 'sales_user' }, teamId: null });
    });

    it("when the id is another tenant's user or unknown, then 404", async () => {
      for (const id of [memberB.id, randomUUID()]) {
        const res = await api().get(`/api/v1/users/${id}`).set(a.auth);
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe('NOT_FOUND');
      }
    });

    it('when the id is not a UUID, then 400', async () => {
      const res = await api().get('/api/v1/users/42').set(a.auth);
      expect(res.status).toBe(400);
      expect(fields(res)).toEqual(['params.id']);
    });

    it('when called without a token or by a sales user, then 401 and 403', async () => {
      expect((await api().get(`/api/v1/users/${salesA.id}`)).status).toBe(401);
      expect((await api().get(`/api/v1/users/${salesA.id}`).set(salesA.auth)).status).toBe(403);
    });
  });

  describe('POST /users', () => {
    it('when a password is given, then the user is active, can sign in, and holds the role', async () => {
      const email = `direct-${randomUUID().slice(0, 8)}@example.com`;
      const res = await api()
        .post('/api/v1/users')
        .set(a.auth)
        .send({ email: email.toUpperCase(), firstName: 'Dan', lastName: 'Direct', role: 'manager', password: PASSWORD });
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ email, status: 'active', role: { key: 'manager' } });
      expect(res.body.data.inviteToken).toBeUndefined();
      expect((await userRow(a.tenantId, res.body.data.id)).created_by).toBe(a.userId);

      const signedIn = await login(t.app, { email, password: PASSWORD });
      expect(signedIn.status).toBe(200);
      expect((await me(signedIn.body.data.tokens.accessToken)).body.data.role.key).toBe('manager');
    });

    it('when no password is given, then the user is invited and the answer alone carries the token', async () => {
      const res = await invite(a);
      expect(res.status).toBe(201);
      const { id, email, status, inviteToken, inviteExpiresAt } = res.body.data;
      expect(status).toBe('invited');
      expect(inviteToken).toMatch(/^inv_[A-Za-z0-9_-]{43}$/);
      const ttlMs = new Date(inviteExpiresAt).getTime() - Date.now();
      expect(ttlMs).toBeGreaterThan(7 * 86_400_000 - 60_000);
      expect(ttlMs).toBeLessThanOrEqual(7 * 86_400_000);

      const row = await userRow(a.tenantId, id);
      expect(row.invite_token_hash).toBe(createHash('sha256').update(inviteToken).digest('hex'));
      expect(row.password_hash).toBeNull();
      expect(JSON.stringify((await api().get(`/api/v1/users/${id}`).set(a.auth)).body)).not.toContain(inviteToken);
      expect((await login(t.app, { email, password: PASSWORD })).status).toBe(401);
    });

    it('when the role names a custom role by id or by name in any case, then that role is assigned', async () => {
      const name = `Field Agent ${randomUUID().slice(0, 8)}`;
      const roleId = await addRole(t.app, a, ['leads:read'], name);
      for (const role of [roleId, name.toUpperCase()]) {
        const res = await invite(a, { role });
        expect(res.status).toBe(201);
        expect(res.body.data.role).toEqual({ id: roleId, key: null, name });
      }
    });

    it("when the role is unknown or another tenant's, then 400 names role", async () => {
      const foreignRole = await addRole(t.app, b, ['leads:read']);
      for (const role of ['super_admin', foreignRole]) {
        const res = await invite(a, { role });
        expect(res.status).toBe(400);
        expect(fields(res)).toEqual(['role']);
      }
    });

    it("when a team of the tenant is named, then it is stored; another tenant's team is 400", async () => {
      const teamId = await addTeam(a.tenantId);
      const ok = await invite(a, { teamId });
      expect(ok.status).toBe(201);
      expect(ok.body.data.teamId).toBe(teamId);
      const foreign = await invite(a, { teamId: await addTeam(b.tenantId) });
      expect(foreign.status).toBe(400);
      expect(fields(foreign)).toEqual(['teamId']);
    });

    it('when the email is already a member (any case), then 409 names email; another tenant may use it', async () => {
      const res = await invite(a, { email: salesA.email.toUpperCase() });
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ code: 'CONFLICT', details: [{ field: 'email' }] });
      expect((await invite(b, { email: salesA.email })).status).toBe(201);
    });

    it.each([
      [{ tenantId: randomUUID() }, ['tenantId']],
      [{ status: 'active' }, ['status']],
      [{ id: randomUUID() }, ['id']],
      [{ firstName: 'x'.repeat(101) }, ['firstName']],
      [{ email: `${'x'.repeat(250)}@example.com` }, ['email']],
      [{ email: 'nope' }, ['email']],
      [{ password: 'weakpassword' }, ['password']],
      [{ role: '' }, ['role']],
      [{ role: 'r'.repeat(101) }, ['role']],
      [{ teamId: 'team-1' }, ['teamId']],
      [{ lastName: undefined }, ['lastName']],
    ])('when the body has %j, then 400 names %j and nobody is added', async (patch, expected) => {
      const before = await api().get('/api/v1/users?limit=500').set(a.auth);
      const res = await invite(a, patch);
      expect(res.status).toBe(400);
      expect(fields(res)).toEqual(expected);
      const after = await api().get('/api/v1/users?limit=500').set(a.auth);
      expect(after.body.data.length).toBe(before.body.data.length);
    });

    it('when called without a token or by a sales user, then 401 and 403', async () => {
      expect((await api().post('/api/v1/users').send({})).status).toBe(401);
      const res = await api()
        .post('/api/v1/users')
        .set(salesA.auth)
        .send({ email: `x-${randomUUID()}@example.com`, firstName: 'A', lastName: 'B', role: 'read_only' });
      expect(res.status).toBe(403);
    });

    it('when a user manager assigns a role with permissions they lack, then 403; a role within theirs is fine', async () => {
      const userManagerRole = await addRole(t.app, a, ['users:manage', 'leads:read', 'contacts:read', 'accounts:read', 'deals:read', 'support:create']);
      const userManager = await addMember(t.app, a, userManagerRole);
      const asManager = { ...a, auth: userManager.auth };
      for (const role of ['tenant_admin', 'sales_user']) {
        const res = await invite(asManager, { role });
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      }
      expect((await invite(asManager, { role: 'read_only' })).status).toBe(201);
    });
  });

  describe('PATCH /users/:id', () => {
    it("when the admin changes a user's role, then the user's current token carries the new permissions at once", async () => {
      const member = await addMember(t.app, a, 'sales_user');
      const res = await api().patch(`/api/v1/users/${member.id}`).set(a.auth).send({ role: 'read_only', firstName: 'Rita' });
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ firstName: 'Rita', role: { key: 'read_only' } });
      const profile = await me(member.accessToken);
      expect(profile.status).toBe(200);
      expect(profile.body.data.permissions).not.toContain('leads:write');
      expect((await userRow(a.tenantId, member.id)).updated_by).toBe(a.userId);
    });

    it('when a user is disabled, then their tokens die at once and they cannot sign in until re-enabled', async () => {
      const member = await addMember(t.app, a, 'sales_user');
      const res = await api().patch(`/api/v1/users/${member.id}`).set(a.auth).send({ status: 'disabled' });
      expect(res.status).toBe(200);
      expect(res.body.data.status).toBe('disabled');
      expect((await me(member.accessToken)).status).toBe(401);
      expect((await api().post('/api/v1/auth/refresh').send({ refreshToken: member.refreshToken })).status).toBe(401);
      expect((await login(t.app, { email: member.email, password: PASSWORD })).status).toBe(403);

      const enabled = await api().patch(`/api/v1/users/${member.id}`).set(a.auth).send({ status: 'active' });
      expect(enabled.body.data.status).toBe('active');
      expect((await login(t.app, { email: member.email, password: PASSWORD })).status).toBe(200);
      expect((await me(member.accessToken)).status).toBe(401);
      expect((await api().post('/api/v1/auth/refresh').send({ refreshToken: member.refreshToken })).status).toBe(401);
    });

    it('when the admin changes their own role or disables themselves, then 403; their own name is fine', async () => {
      const admin = await registerTenant(t.app);
      for (const body of [{ role: 'read_only' }, { status: 'disabled' }]) {
        const res = await api().patch(`/api/v1/users/${admin.userId}`).set(admin.auth).send(body);
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      }
      const renamed = await api().patch(`/api/v1/users/${admin.userId}`).set(admin.auth).send({ lastName: 'Renamed', role: 'tenant_admin' });
      expect(renamed.status).toBe(200);
      expect((await me(admin.accessToken)).body.data).toMatchObject({ user: { lastName: 'Renamed', status: 'active' }, role: { key: 'tenant_admin' } });
    });

    it('when an invited user is set active, then 409; disabling withdraws the invitation', async () => {
      const invited = (await invite(a)).body.data;
      const activate = await api().patch(`/api/v1/users/${invited.id}`).set(a.auth).send({ status: 'active' });
      expect(activate.status).toBe(409);
      expect(fields(activate)).toEqual(['status']);
      expect((await api().patch(`/api/v1/users/${invited.id}`).set(a.auth).send({ status: 'disabled' })).status).toBe(200);
      const accept = await api().post('/api/v1/auth/accept-invite').send({ token: invited.inviteToken, password: PASSWORD });
      expect(accept.status).toBe(401);
    });

    it('when the team is set and then cleared, then the user follows', async () => {
      const teamId = await addTeam(a.tenantId);
      const set = await api().patch(`/api/v1/users/${salesA.id}`).set(a.auth).send({ teamId });
      expect(set.body.data.teamId).toBe(teamId);
      const cleared = await api().patch(`/api/v1/users/${salesA.id}`).set(a.auth).send({ teamId: null });
      expect(cleared.status).toBe(200);
      expect(cleared.body.data).toMatchObject({ teamId: null, firstName: 'Mia', lastName: 'Member', role: { key: 'sales_user' }, status: 'active' });
    });

    it('when a user manager touches a user whose role exceeds theirs, then 403', async () => {
      const userManager = await addMember(t.app, a, await addRole(t.app, a, ['users:manage']));
      const res = await api().patch(`/api/v1/users/${a.userId}`).set(userManager.auth).send({ status: 'disabled' });
      expect(res.status).toBe(403);
      expect((await me(a.accessToken)).status).toBe(200);
    });

    it('when the body is empty, then 400 asks for at least one field', async () => {
      const res = await api().patch(`/api/v1/users/${salesA.id}`).set(a.auth).send({});
      expect(res.status).toBe(400);
      expect(res.body.error.details[0].message).toMatch(/at least 1 key/);
    });

    it.each([
      [{ email: 'new@example.com' }, ['email']],
      [{ status: 'invited' }, ['status']],
      [{ tenantId: randomUUID() }, ['tenantId']],
      [{ firstName: 'x'.repeat(101) }, ['firstName']],
      [{ role: 'x'.repeat(101) }, ['role']],
    ])('when the body is %j, then 400 names %j', async (body, expected) => {
      const res = await api().patch(`/api/v1/users/${salesA.id}`).set(a.auth).send(body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(fields(res)).toEqual(expected);
    });

    it('when the id is malformed, then 400; without a token 401; as a sales user 403', async () => {
      expect((await api().patch('/api/v1/users/nope').set(a.auth).send({ firstName: 'X' })).status).toBe(400);
      expect((await api().patch(`/api/v1/users/${salesA.id}`).send({ firstName: 'X' })).status).toBe(401);
      expect((await api().patch(`/api/v1/users/${salesA.id}`).set(salesA.auth).send({ firstName: 'X' })).status).toBe(403);
    });

    it("when tenant A patches tenant B's user, then 404 and B's user is untouched", async () => {
      const res = await api().patch(`/api/v1/users/${memberB.id}`).set(a.auth).send({ status: 'disabled' });
      expect(res.status).toBe(404);
      expect((await me(memberB.accessToken)).status).toBe(200);
    });
  });

  describe('DELETE /users/:id', () => {
    it('when a user is deleted, then they vanish, their tokens die, and the email can be added again', async () => {
      const member = await addMember(t.app, a, 'support_user');
      expect((await api().delete(`/api/v1/users/${member.id}`).set(a.auth)).status).toBe(204);
      expect((await api().get(`/api/v1/users/${member.id}`).set(a.auth)).status).toBe(404);
      expect((await me(member.accessToken)).status).toBe(401);
      expect((await login(t.app, { email: member.email, password: PASSWORD })).status).toBe(401);
      const list = await api().get('/api/v1/users?limit=500').set(a.auth);
      expect(list.body.data.map((u: { id: string }) => u.id)).not.toContain(member.id);
      expect((await userRow(a.tenantId, member.id)).deleted_at).not.toBeNull();
      const sessions = await asOwner(a.tenantId, (trx) => trx('sessions').where({ user_id: member.id }).select('revoked_at'));
      expect(sessions.length).toBeGreaterThan(0);
      expect(sessions.every((session) => session.revoked_at !== null)).toBe(true);
      expect((await invite(a, { email: member.email })).status).toBe(201);
      expect((await api().delete(`/api/v1/users/${member.id}`).set(a.auth)).status).toBe(404);
    });

    it('when the admin deletes themselves, then 403', async () => {
      const res = await api().delete(`/api/v1/users/${a.userId}`).set(a.auth);
      expect(res.status).toBe(403);
      expect((await me(a.accessToken)).status).toBe(200);
    });

    it("when tenant A deletes tenant B's user, then 404 and B's user lives on", async () => {
      expect((await api().delete(`/api/v1/users/${memberB.id}`).set(a.auth)).status).toBe(404);
      expect((await me(memberB.accessToken)).status).toBe(200);
    });

    it('when the id is malformed, then 400; without a token 401; as a sales user 403', async () => {
      expect((await api().delete('/api/v1/users/nope').set(a.auth)).status).toBe(400);
      expect((await api().delete(`/api/v1/users/${salesA.id}`)).status).toBe(401);
      expect((await api().delete(`/api/v1/users/${salesA.id}`).set(salesA.auth)).status).toBe(403);
      expect((await api().delete(`/api/v1/users/${salesA.id}`).set(a.auth).send({ hard: true })).status).toBe(400);
    });
  });

  describe('POST /auth/accept-invite', () => {
    const accept = (body: Record<string, unknown>) => api().post('/api/v1/auth/accept-invite').send(body);

    it('when the invitee sets a password, then they are signed in like a login, and the token is spent', async () => {
      const invited = (await invite(b, { role: 'support_user' })).body.data;
      const res = await accept({ token: invited.inviteToken, password: PASSWORD });
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({
        user: { id: invited.id, status: 'active', role: { key: 'support_user' } },
        tenant: { id: b.tenantId },
        tokens: { tokenType: 'Bearer', expiresIn: 900, refreshToken: expect.stringMatching(/^rt_/) },
      });
      expect((await me(res.body.data.tokens.accessToken)).body.data.user.id).toBe(invited.id);
      expect((await userRow(b.tenantId, invited.id)).invite_token_hash).toBeNull();
      expect((await login(t.app, { email: invited.email, password: PASSWORD })).status).toBe(200);

      const again = await accept({ token: invited.inviteToken, password: 'An0ther-Passw0rd' });
      expect(again.status).toBe(401);
      expect(again.body.error.code).toBe('UNAUTHORIZED');
    });

    it('when two accepts race, then exactly one succeeds', async () => {
      const { inviteToken } = (await invite(a)).body.data;
      const results = await Promise.all([1, 2].map(() => accept({ token: inviteToken, password: PASSWORD })));
      expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    });

    it('when the invitation has expired, was withdrawn by deletion, or never existed, then 401', async () => {
      const expired = (await invite(a)).body.data;
      await asOwner(a.tenantId, (trx) => trx('users').where({ id: expired.id }).update({ invite_expires_at: trx.raw("now() - interval '1 second'") }));
      const deleted = (await invite(a)).body.data;
      expect((await api().delete(`/api/v1/users/${deleted.id}`).set(a.auth)).status).toBe(204);
      for (const token of [expired.inviteToken, deleted.inviteToken, `inv_${'x'.repeat(43)}`, 'rt_whatever']) {
        const res = await accept({ token, password: PASSWORD });
        expect(res.status).toBe(401);
      }
      expect((await userRow(a.tenantId, expired.id)).status).toBe('invited');
    });

    it.each([
      [{ password: PASSWORD }, ['token']],
      [{ token: 'inv_x', password: 'weak' }, ['password']],
      [{ token: 'inv_x', password: PASSWORD, email: 'x@example.com' }, ['email']],
      [{ token: 'x'.repeat(201), password: PASSWORD }, ['token']],
    ])('when the body is %j, then 400 names %j', async (body, expected) => {
      const res = await accept(body);
      expect(res.status).toBe(400);
      expect(fields(res)).toEqual(expected);
    });
  });
});
