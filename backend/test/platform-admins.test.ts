import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { Knex } from 'knex';
import request from 'supertest';
import { ensureSuperAdmin } from '../src/modules/admin/platform-admins.service';
import { bearer, registerTenant } from './support/api-fixtures';
import { ServerProcess, startServer } from './support/server-process';
import { adminUrl, buildTestApp, ownerKnex, TestApp } from './support/test-app';

const ADMIN_PASSWORD = 'Platform-Passw0rd-1';

describe('platform admins', () => {
  let t: TestApp;
  let owner: Knex;
  const email = `root-${randomUUID().slice(0, 8)}@example.com`;
  beforeAll(async () => {
    t = buildTestApp({ env: { SUPER_ADMIN_EMAIL: email, SUPER_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    owner = ownerKnex();
    await ensureSuperAdmin(t.deps.platformKnex, t.deps.config, t.deps.logger);
  });
  afterAll(async () => {
    await t.close();
    await owner.destroy();
  });

  const signIn = (body: Record<string, unknown>) => request(t.app).post('/api/v1/admin/auth/login').send(body);
  const adminMe = (headers: Record<string, string> = {}) => request(t.app).get('/api/v1/admin/me').set(headers);
  const adminsWith = (address: string) => owner('platform_admins').where({ email: address });
  const platformToken = async () => (await signIn({ email, password: ADMIN_PASSWORD })).body.data.tokens.accessToken as string;

  describe('bootstrap', () => {
    it('when the server boots twice with SUPER_ADMIN_EMAIL set, then exactly one super admin exists, its password hashed', async () => {
      await ensureSuperAdmin(t.deps.platformKnex, t.deps.config, t.deps.logger);
      const rows = await adminsWith(email);
      expect(rows).toHaveLength(1);
      const cost = String(t.deps.config.auth.bcryptCost).padStart(2, '0');
      expect(rows[0]).toMatchObject({ role: 'super_admin', status: 'active', password_hash: expect.stringMatching(new RegExp(`^\\$2[aby]\\$${cost}\\$`)) });
      expect(JSON.stringify(t.logs)).not.toContain(ADMIN_PASSWORD);
      expect(t.logs.filter((line) => line.message === 'platform super admin created' && line.email === email)).toHaveLength(1);
    });

    it('when an admin with that email exists, then its password is left alone', async () => {
      const other = buildTestApp({ env: { SUPER_ADMIN_EMAIL: email.toUpperCase(), SUPER_ADMIN_PASSWORD: 'Another-Passw0rd-2' } });
      try {
        await ensureSuperAdmin(other.deps.platformKnex, other.deps.config, other.deps.logger);
      } finally {
        await other.close();
      }
      expect(await adminsWith(email)).toHaveLength(1);
      expect((await signIn({ email, password: ADMIN_PASSWORD })).status).toBe(200);
    });

    it('when SUPER_ADMIN_EMAIL is not set, then no admin is created', async () => {
      const plain = buildTestApp();
      const before = await owner('platform_admins').count<{ count: string }[]>({ count: '*' });
      try {
        await ensureSuperAdmin(plain.deps.platformKnex, plain.deps.config, plain.deps.logger);
      } finally {
        await plain.close();
      }
      expect(await owner('platform_admins').count<{ count: string }[]>({ count: '*' })).toEqual(before);
    });
  });

  describe('POST /admin/auth/login', () => {
    it('when the credentials are right, then a platform token comes back and the sign-in is recorded', async () => {
      const res = await signIn({ email: email.toUpperCase(), password: ADMIN_PASSWORD });
      expect(res.status).toBe(200);
      const { admin, tokens } = res.body.data;
      expect(admin).toMatchObject({ id: expect.any(String), email, role: 'super_admin', lastLoginAt: expect.any(String) });
      expect(admin.passwordHash).toBeUndefined();
      expect(tokens).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: 900 });
      expect(jwt.decode(tokens.accessToken)).toMatchObject({ sub: admin.id, aud: 'crm-admin', role: 'super_admin' });
      expect((await adminsWith(email).first()).last_login_at).toEqual(new Date(admin.lastLoginAt));
    });

    it('when the email is unknown, the password wrong or the admin disabled, then the same 401', async () => {
      const disabled = `off-${randomUUID().slice(0, 8)}@example.com`;
      const hash = (await adminsWith(email).first()).password_hash;
      await owner('platform_admins').insert({ email: disabled, password_hash: hash, role: 'support', status: 'disabled' });
      const answers = [
        await signIn({ email, password: 'Wrong-Passw0rd-1' }),
        await signIn({ email: `nobody-${randomUUID()}@example.com`, password: ADMIN_PASSWORD }),
        await signIn({ email: disabled, password: ADMIN_PASSWORD }),
      ];
      for (const res of answers) {
        expect(res.status).toBe(401);
        expect(res.body.error).toMatchObject({ code: 'UNAUTHORIZED', message: answers[0]!.body.error.message });
      }
    });

    it.each([
      ['empty', {}, ['email', 'password']],
      ['not an email', { email: 'not-an-email', password: ADMIN_PASSWORD }, ['email']],
      ['a numeric password', { email: 'a@example.com', password: 7 }, ['password']],
      ['an empty password', { email: 'a@example.com', password: '' }, ['password']],
      ['an oversized email', { email: `${'a'.repeat(250)}@example.com`, password: ADMIN_PASSWORD }, ['email']],
      ['an oversized password', { email: 'a@example.com', password: 'x'.repeat(1025) }, ['password']],
      ['an unknown field (role)', { email: 'a@example.com', password: ADMIN_PASSWORD, role: 'super_admin' }, ['role']],
      ['an unknown field (tenantId)', { email: 'a@example.com', password: ADMIN_PASSWORD, tenantId: randomUUID() }, ['tenantId']],
    ])('when the body is %s, then 400 names %j', async (_case, body, fields) => {
      const res = await signIn(body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect([...new Set(res.body.error.details.map((d: { field: string }) => d.field))].sort()).toEqual(fields);
    });
  });

  describe('GET /admin/me', () => {
    it('when a platform admin asks, then the admin comes back', async () => {
      const res = await adminMe(bearer(await platformToken()));
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ email, role: 'super_admin', status: 'active' });
      expect(res.body.data.passwordHash).toBeUndefined();
    });

    it('when there is no token or a forged one, then 401', async () => {
      const { sub, role } = jwt.decode(await platformToken()) as jwt.JwtPayload;
      const forged = jwt.sign({ role }, 'another-secret-that-is-long-enough-0123456789', { subject: sub, audience: 'crm-admin', issuer: 'crm-api', jwtid: randomUUID() });
      for (const headers of [{}, bearer('not.a.jwt'), bearer(forged)]) {
        const res = await adminMe(headers);
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('UNAUTHORIZED');
      }
    });

    it("when a tenant user's token or an API key is used, then 403", async () => {
      const tenantAdmin = await registerTenant(t.app);
      const key = await request(t.app).post('/api/v1/api-keys').set(tenantAdmin.auth).send({ name: 'Probe', role: 'tenant_admin' });
      for (const headers of [tenantAdmin.auth, { 'X-API-Key': key.body.data.key as string }]) {
        const res = await adminMe(headers);
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      }
    });

    it('when the admin is disabled after signing in, then the token stops working', async () => {
      const support = `support-${randomUUID().slice(0, 8)}@example.com`;
      const hash = (await adminsWith(email).first()).password_hash;
      await owner('platform_admins').insert({ email: support, password_hash: hash, role: 'support' });
      const token = (await signIn({ email: support, password: ADMIN_PASSWORD })).body.data.tokens.accessToken as string;
      expect((await adminMe(bearer(token))).body.data).toMatchObject({ email: support, role: 'support' });
      await adminsWith(support).update({ status: 'disabled' });
      expect((await adminMe(bearer(token))).status).toBe(401);
    });

    it('when the query carries anything, then 400', async () => {
      const res = await request(t.app).get('/api/v1/admin/me?tenantId=x').set(bearer(await platformToken()));
      expect(res.status).toBe(400);
    });
  });

  describe('platform tokens on tenant routes', () => {
    it('when a platform token calls a tenant route, then 401', async () => {
      const token = await platformToken();
      for (const path of ['/api/v1/auth/me', '/api/v1/api-keys', '/api/v1/sessions']) {
        const res = await request(t.app).get(path).set(bearer(token));
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('UNAUTHORIZED');
      }
    });
  });

  describe('server entry point', () => {
    let server: ServerProcess | undefined;
    afterAll(() => {
      if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    });

    it('when it starts with SUPER_ADMIN_EMAIL and SUPER_ADMIN_PASSWORD, then the admin exists and can sign in', async () => {
      const bootEmail = `boot-${randomUUID().slice(0, 8)}@example.com`;
      const bootPassword = 'Boot-Passw0rd-123';
      server = await startServer({ DATABASE_URL: adminUrl(), SUPER_ADMIN_EMAIL: bootEmail, SUPER_ADMIN_PASSWORD: bootPassword, LOG_LEVEL: 'info' });
      expect(await adminsWith(bootEmail)).toHaveLength(1);
      const res = await request(`http://127.0.0.1:${server.port}`).post('/api/v1/admin/auth/login').send({ email: bootEmail, password: bootPassword });
      expect(res.status).toBe(200);
      expect(res.body.data.admin).toMatchObject({ email: bootEmail, role: 'super_admin' });
      expect(server.output()).toContain('"message":"platform super admin created"');
      expect(server.output()).not.toContain(bootPassword);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }, 90_000);
  });
});
