import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { Knex } from 'knex';
import request from 'supertest';
import { bearer, login, PASSWORD, registerTenant } from './support/api-fixtures';
import { buildTestApp, ownerKnex, TEST_JWT_SECRET, TestApp } from './support/test-app';

describe('auth', () => {
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

  const me = (token: string) => request(t.app).get('/api/v1/auth/me').set(bearer(token));
  const countRows = async (table: string, column: string, value: string) =>
    Number((await owner(table).where(column, value).count<{ count: string }[]>({ count: '*' }))[0]!.count);

  describe('POST /auth/register', () => {
    it('when the sign-up is valid, then the tenant, its roles and an admin user exist and the tokens work', async () => {
      const email = `founder-${randomUUID().slice(0, 8)}@example.com`;
      const res = await request(t.app)
        .post('/api/v1/auth/register')
        .send({ email: email.toUpperCase(), password: PASSWORD, firstName: 'Fay', lastName: 'Founder', company: 'Fancy Widgets Ltd' });
      expect(res.status).toBe(201);
      const { user, tenant, tokens } = res.body.data;
      expect(user).toMatchObject({ email, firstName: 'Fay', status: 'active', role: { key: 'tenant_admin' } });
      expect(user.passwordHash).toBeUndefined();
      expect(tenant).toMatchObject({ name: 'Fancy Widgets Ltd', subdomain: expect.stringMatching(/^fancy-widgets-ltd/), plan: 'free', status: 'active' });
      expect(tokens).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, refreshToken: expect.stringMatching(/^rt_/) });
      expect(res.headers['set-cookie']?.[0]).toMatch(/^crm_refresh=rt_.*; Max-Age=604800; Path=\/api; HttpOnly; Secure; SameSite=Strict/);

      const profile = await me(tokens.accessToken);
      expect(profile.status).toBe(200);
      expect(profile.body.data).toMatchObject({ user: { id: user.id }, tenant: { id: tenant.id }, role: { key: 'tenant_admin' } });
      expect(profile.body.data.permissions).toEqual(expect.arrayContaining(['users:manage', 'leads:delete', 'audit:read']));
      expect(await countRows('roles', 'tenant_id', tenant.id)).toBe(5);
    });

    it('when the email is already registered, then 409 and no second tenant is created', async () => {
      const first = await registerTenant(t.app);
      const company = `Other ${randomUUID().slice(0, 8)}`;
      const res = await request(t.app)
        .post('/api/v1/auth/register')
        .send({ email: first.email, password: PASSWORD, firstName: 'A', lastName: 'B', company });
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ code: 'CONFLICT', details: [{ field: 'email' }] });
      expect(await countRows('tenants', 'name', company)).toBe(0);
    });

    it('when the company name or subdomain is taken, then 409 names that field', async () => {
      const first = await registerTenant(t.app, { subdomain: `taken-${randomUUID().slice(0, 8)}` });
      const sameSubdomain = await request(t.app).post('/api/v1/auth/register').send({
        email: `x-${randomUUID()}@example.com`, password: PASSWORD, firstName: 'A', lastName: 'B', company: `Fresh ${randomUUID()}`, subdomain: first.subdomain,
      });
      expect(sameSubdomain.status).toBe(409);
      expect(sameSubdomain.body.error.details).toEqual([{ field: 'subdomain', message: 'is already taken' }]);
    });

    it.each([
      [{}, ['company', 'email', 'firstName', 'lastName', 'password']],
      [{ email: 'not-an-email' }, ['email']],
      [{ password: 'short1A' }, ['password']],
      [{ password: 'alllowercase1' }, ['password']],
      [{ password: 'NOUPPERDIGITS' }, ['password']],
      [{ password: `Aa1${'é'.repeat(35)}` }, ['password']],
      [{ firstName: 42 }, ['firstName']],
      [{ company: 'x'.repeat(121) }, ['company']],
      [{ plan: 'platinum' }, ['plan']],
      [{ subdomain: '-bad-' }, ['subdomain']],
      [{ tenantId: randomUUID() }, ['tenantId']],
      [{ role: 'super_admin' }, ['role']],
    ])('when the body is %j, then 400 names %j and nothing is created', async (patch, fields) => {
      const email = `bad-${randomUUID().slice(0, 8)}@example.com`;
      const base = Object.keys(patch).length ? { email, password: PASSWORD, firstName: 'A', lastName: 'B', company: `Bad ${email}` } : {};
      const res = await request(t.app).post('/api/v1/auth/register').send({ ...base, ...patch });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect([...new Set(res.body.error.details.map((d: { field: string }) => d.field))].sort()).toEqual(fields);
      expect(await countRows('users', 'email', email)).toBe(0);
    });
  });

  describe('POST /auth/login', () => {
    it('when the credentials are right, then a new session is opened and the API answers with tokens', async () => {
      const account = await registerTenant(t.app);
      const res = await login(t.app, { email: account.email, password: account.password });
      expect(res.status).toBe(200);
      expect(res.body.data.user.lastLoginAt).toEqual(expect.any(String));
      expect((await me(res.body.data.tokens.accessToken)).status).toBe(200);
      const sessions = await request(t.app).get('/api/v1/sessions').set(bearer(res.body.data.tokens.accessToken));
      expect(sessions.body.data).toHaveLength(2);
      expect(sessions.body.data.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
    });

    it('when the email is unknown or the password wrong, then the same 401 answer', async () => {
      const account = await registerTenant(t.app);
      const wrong = await login(t.app, { email: account.email, password: 'Wrong-Passw0rd' });
      const unknown = await login(t.app, { email: `nobody-${randomUUID()}@example.com`, password: 'Wrong-Passw0rd' });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(wrong.body.error.message).toBe(unknown.body.error.message);
      expect(wrong.body.error.code).toBe('UNAUTHORIZED');
    });

    it('when the body is malformed, then 400', async () => {
      for (const body of [{}, { email: 'a@b.co' }, { email: 'a@b.co', password: 7 }, { email: 'a@b.co', password: 'x', tenantId: 'nope' }]) {
        const res = await login(t.app, body);
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('VALIDATION_ERROR');
      }
    });

    it('when the email belongs to two tenants, then the tenant must be named (body or X-Tenant-ID)', async () => {
      const a = await registerTenant(t.app);
      const b = await registerTenant(t.app);
      await owner.transaction(async (trx) => {
        await trx.raw("select set_config('app.tenant_id', ?, true)", [b.tenantId]);
        const role = await trx('roles').where({ tenant_id: b.tenantId, key: 'sales_user' }).first('id');
        const hash = (await trx('users').where({ id: a.userId }).first('password_hash')) ?? (await owner('users').where({ id: a.userId }).first('password_hash'));
        await trx('users').insert({ tenant_id: b.tenantId, email: a.email, password_hash: hash.password_hash, first_name: 'Dual', last_name: 'Member', role_id: role.id });
      });
      const ambiguous = await login(t.app, { email: a.email, password: a.password });
      expect(ambiguous.status).toBe(400);
      expect(ambiguous.body.error.details[0]).toMatchObject({ field: 'tenantId', message: expect.stringContaining(b.tenantId) });

      const viaBody = await login(t.app, { email: a.email, password: a.password, tenantId: b.tenantId });
      expect(viaBody.status).toBe(200);
      expect(viaBody.body.data.tenant.id).toBe(b.tenantId);
      const viaHeader = await login(t.app, { email: a.email, password: a.password }, { 'X-Tenant-ID': a.tenantId });
      expect(viaHeader.body.data.tenant.id).toBe(a.tenantId);
      const mismatch = await login(t.app, { email: a.email, password: a.password, tenantId: b.tenantId }, { 'X-Tenant-ID': a.tenantId });
      expect(mismatch.status).toBe(403);
      expect(mismatch.body.error.code).toBe('TENANT_MISMATCH');
    });

    it('when an account fails 10 times, then it is locked (429 with Retry-After) even for the right password', async () => {
      const account = await registerTenant(t.app);
      for (let i = 0; i < 10; i++) {
        expect((await login(t.app, { email: account.email, password: `Wrong-${i}-Passw0rd` })).status).toBe(401);
      }
      const locked = await login(t.app, { email: account.email, password: account.password });
      expect(locked.status).toBe(429);
      expect(locked.body.error.code).toBe('RATE_LIMITED');
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
      await owner('sign_in_throttles').delete();
      expect((await login(t.app, { email: account.email, password: account.password })).status).toBe(200);
    });

    it('when the tenant is suspended, then sign-in and every tenant route answer 403 TENANT_SUSPENDED', async () => {
      const account = await registerTenant(t.app);
      await owner('tenants').where({ id: account.tenantId }).update({ status: 'suspended' });
      const signIn = await login(t.app, { email: account.email, password: account.password });
      expect(signIn.status).toBe(403);
      expect(signIn.body.error.code).toBe('TENANT_SUSPENDED');
      expect((await me(account.accessToken)).body.error.code).toBe('TENANT_SUSPENDED');
      expect((await request(t.app).post('/api/v1/auth/refresh').send({ refreshToken: account.refreshToken })).body.error.code).toBe('TENANT_SUSPENDED');
    });
  });

  describe('access tokens', () => {
    let account: Awaited<ReturnType<typeof registerTenant>>;
    beforeAll(async () => {
      account = await registerTenant(t.app);
    });
    const claims = () => jwt.decode(account.accessToken) as jwt.JwtPayload;

    it('carry sub, tenantId, role, jti, aud and iss, and expire in 15 minutes', () => {
      expect(claims()).toMatchObject({ sub: account.userId, tenantId: account.tenantId, role: 'tenant_admin', aud: 'crm-api', iss: 'crm-api', jti: expect.any(String), sid: expect.any(String) });
      expect(claims().exp! - claims().iat!).toBe(900);
    });

    it('when missing or not a bearer token, then 401', async () => {
      expect((await request(t.app).get('/api/v1/auth/me')).status).toBe(401);
      expect((await request(t.app).get('/api/v1/auth/me').set('Authorization', `Basic ${account.accessToken}`)).status).toBe(401);
    });

    it('when expired, then 401 TOKEN_EXPIRED', async () => {
      const { iat: _iat, exp: _exp, ...rest } = claims();
      const expired = jwt.sign({ ...rest, exp: Math.floor(Date.now() / 1000) - 10 }, TEST_JWT_SECRET, { algorithm: 'HS256' });
      const res = await me(expired);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('TOKEN_EXPIRED');
    });

    it.each([
      ['tampered payload', () => { const [h, , s] = account.accessToken.split('.'); return `${h}.${Buffer.from(JSON.stringify({ ...claims(), role: 'super_admin' })).toString('base64url')}.${s}`; }],
      ['alg none', () => `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.`],
      ['another key', () => jwt.sign({ ...claims() }, 'another-secret-that-is-long-enough-0123456789', { algorithm: 'HS256' })],
      ['HS512 with the right key', () => jwt.sign({ ...claims() }, TEST_JWT_SECRET, { algorithm: 'HS512' })],
      ['wrong audience', () => { const { aud: _aud, ...rest } = claims(); return jwt.sign({ ...rest, aud: 'someone-else' }, TEST_JWT_SECRET, { algorithm: 'HS256' }); }],
      ['wrong issuer', () => { const { iss: _iss, ...rest } = claims(); return jwt.sign({ ...rest, iss: 'evil' }, TEST_JWT_SECRET, { algorithm: 'HS256' }); }],
      ['garbage', () => 'not.a.jwt'],
    ])('when the token is forged (%s), then 401 UNAUTHORIZED', async (_name, forge) => {
      const res = await me(forge());
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHORIZED');
    });

    it('when the token names another tenant than X-Tenant-ID, then 403 TENANT_MISMATCH', async () => {
      const res = await request(t.app).get('/api/v1/auth/me').set(account.auth).set('X-Tenant-ID', randomUUID());
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('TENANT_MISMATCH');
      const same = await request(t.app).get('/api/v1/auth/me').set(account.auth).set('X-Tenant-ID', account.tenantId);
      expect(same.status).toBe(200);
    });
  });

  describe('refresh tokens', () => {
    it('when a refresh token is used, then a new pair comes back and the old token is spent', async () => {
      const account = await registerTenant(t.app);
      const first = await request(t.app).post('/api/v1/auth/refresh').send({ refreshToken: account.refreshToken });
      expect(first.status).toBe(200);
      expect(first.body.data.tokens.refreshToken).not.toBe(account.refreshToken);
      expect((await me(first.body.data.tokens.accessToken)).status).toBe(200);
    });

    it('when a spent token is presented again, then the whole family is revoked (reuse detection)', async () => {
      const account = await registerTenant(t.app);
      const rotated = await request(t.app).post('/api/v1/auth/refresh').send({ refreshToken: account.refreshToken });
      const successor = rotated.body.data.tokens;
      const replay = await request(t.app).post('/api/v1/auth/refresh').send({ refreshToken: account.refreshToken });
      expect(replay.status).toBe(401);
      expect((await request(t.app).post('/api/v1/auth/refresh').send({ refreshToken: successor.refreshToken })).status).toBe(401);
      expect((await me(successor.accessToken)).status).toBe(401);
      expect((await me(account.accessToken)).status).toBe(401);
    });

    it('when the refresh token comes in the httpOnly cookie, then it works the same', async () => {
      const account = await registerTenant(t.app);
      const res = await request(t.app).post('/api/v1/auth/refresh').set('Cookie', `crm_refresh=${account.refreshToken}`);
      expect(res.status).toBe(200);
      expect(res.headers['set-cookie']?.[0]).toContain(`crm_refresh=${res.body.data.tokens.refreshToken}`);
    });

    it('when the token is unknown, malformed or missing, then 401', async () => {
      for (const body of [{ refreshToken: 'rt_unknown' }, { refreshToken: 'garbage' }, {}]) {
        const res = await request(t.app).post('/api/v1/auth/refresh').send(body);
        expect(res.status).toBe(401);
      }
      expect((await request(t.app).post('/api/v1/auth/refresh').send({ refreshToken: 5 })).status).toBe(400);
    });
  });

  describe('logout, password change and sessions', () => {
    it('when a user logs out, then the access token stops working at once and the refresh family is dead', async () => {
      const account = await registerTenant(t.app);
      const res = await request(t.app).post('/api/v1/auth/logout').set(account.auth);
      expect(res.status).toBe(204);
      expect(res.headers['set-cookie']?.[0]).toMatch(/^crm_refresh=; Max-Age=0/);
      const after = await me(account.accessToken);
      expect(after.status).toBe(401);
      expect((await request(t.app).post('/api/v1/auth/refresh').send({ refreshToken: account.refreshToken })).status).toBe(401);
      expect(await countRows('revoked_access_tokens', 'user_id', account.userId)).toBe(1);
    });

    it('when the password changes, then other sessions are revoked and this one stays', async () => {
      const account = await registerTenant(t.app);
      const other = (await login(t.app, { email: account.email, password: account.password })).body.data.tokens;
      const wrong = await request(t.app).post('/api/v1/auth/password').set(account.auth).send({ currentPassword: 'Nope-Passw0rd', newPassword: 'Brand-N3w-Pass' });
      expect(wrong.status).toBe(400);
      expect(wrong.body.error.details[0].field).toBe('currentPassword');
      const weak = await request(t.app).post('/api/v1/auth/password').set(account.auth).send({ currentPassword: account.password, newPassword: 'weak' });
      expect(weak.status).toBe(400);

      const res = await request(t.app).post('/api/v1/auth/password').set(account.auth).send({ currentPassword: account.password, newPassword: 'Brand-N3w-Pass' });
      expect(res.status).toBe(204);
      expect((await me(account.accessToken)).status).toBe(200);
      expect((await me(other.accessToken)).status).toBe(401);
      expect((await request(t.app).post('/api/v1/auth/refresh').send({ refreshToken: other.refreshToken })).status).toBe(401);
      expect((await login(t.app, { email: account.email, password: account.password })).status).toBe(401);
      expect((await login(t.app, { email: account.email, password: 'Brand-N3w-Pass' })).status).toBe(200);
    });

    it('when a user signs out another of their sessions, then it dies; a foreign session id is 404', async () => {
      const account = await registerTenant(t.app);
      const stranger = await registerTenant(t.app);
      const second = (await login(t.app, { email: account.email, password: account.password })).body.data.tokens;
      const sessions = (await request(t.app).get('/api/v1/sessions').set(account.auth)).body.data;
      const target = sessions.find((s: { current: boolean }) => !s.current);
      expect((await request(t.app).delete(`/api/v1/sessions/${target.id}`).set(account.auth)).status).toBe(204);
      expect((await me(second.accessToken)).status).toBe(401);

      const strangerSession = (await request(t.app).get('/api/v1/sessions').set(stranger.auth)).body.data[0];
      const foreign = await request(t.app).delete(`/api/v1/sessions/${strangerSession.id}`).set(account.auth);
      expect(foreign.status).toBe(404);
      expect((await me(stranger.accessToken)).status).toBe(200);
      expect((await request(t.app).delete('/api/v1/sessions/not-a-uuid').set(account.auth)).status).toBe(400);
    });
  });
});
