import { Knex } from 'knex';
import request from 'supertest';
import { login, registerTenant, Registered } from './support/api-fixtures';
import { eventually } from './support/eventually';
import { TestJobRunner } from './support/jobs';
import { mailsOf, sendPendingMails } from './support/mail-log';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

describe('password reset', () => {
  let t: TestApp;
  let jobs: TestJobRunner;
  let owner: Knex;
  const api = () => request(t.app);
  const NEW_PASSWORD = 'Brand-New-Passw0rd!';

  beforeAll(async () => {
    t = buildTestApp();
    jobs = new TestJobRunner(t);
    owner = ownerKnex();
  });
  afterAll(async () => {
    await owner.destroy();
    await jobs.close();
    await t.close();
  });

  const forgot = (body: Record<string, unknown>, headers: Record<string, string> = {}) => api().post('/api/v1/auth/forgot-password').set(headers).send(body);
  /** Asks for a reset, lets the job engine send it, and reads the code from the mail. */
  async function resetCode(tenant: Registered): Promise<string> {
    const before = (await mailsOf(owner, tenant.tenantId, 'password_reset')).length;
    const res = await forgot({ email: tenant.email });
    expect(res.status).toBe(202);
    // The code is made after the answer (so its timing tells nothing): wait for its mail.
    await eventually(async () => (await mailsOf(owner, tenant.tenantId, 'password_reset')).length > before, 15_000, 'the reset mail');
    await sendPendingMails(jobs, tenant.tenantId);
    const mail = (await mailsOf(owner, tenant.tenantId, 'password_reset')).at(-1)!;
    expect(mail).toMatchObject({ recipient: tenant.email, status: 'sent', attempts: 1 });
    return /(prt_[\w-]+)/.exec(mail.message.text)![1]!;
  }

  it('when a user resets with the mailed code, then the new password works, the old one and every session do not, and the code is spent', async () => {
    const tenant = await registerTenant(t.app);
    const code = await resetCode(tenant);
    const res = await api().post('/api/v1/auth/reset-password').send({ token: code, newPassword: NEW_PASSWORD });
    expect(res.status).toBe(204);
    expect((await login(t.app, { email: tenant.email, password: tenant.password })).status).toBe(401);
    expect((await login(t.app, { email: tenant.email, password: NEW_PASSWORD })).status).toBe(200);
    expect((await api().post('/api/v1/auth/refresh').send({ refreshToken: tenant.refreshToken })).status).toBe(401);

    const again = await api().post('/api/v1/auth/reset-password').send({ token: code, newPassword: 'Another-Passw0rd!' });
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe('UNAUTHORIZED');

    const stored = await owner('password_reset_tokens').where({ tenant_id: tenant.tenantId }).select('token_hash', 'used_at');
    expect(stored).toHaveLength(1);
    expect(stored[0].token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored[0].token_hash).not.toContain(code);
    expect(stored[0].used_at).not.toBeNull();

    const signedIn = await login(t.app, { email: tenant.email, password: NEW_PASSWORD });
    const audit = await api().get('/api/v1/audit-logs?limit=100').set({ Authorization: `Bearer ${signedIn.body.data.tokens.accessToken}` });
    expect(audit.body.data.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['auth.password_reset_requested', 'auth.password_reset']));
    expect(JSON.stringify(t.logs)).not.toContain(code);
  });

  it('when the email is unknown, then the answer is exactly the same and nothing is sent', async () => {
    const tenant = await registerTenant(t.app);
    const known = await forgot({ email: tenant.email });
    const unknown = await forgot({ email: `nobody-${Date.now()}@example.com` });
    expect(unknown.status).toBe(known.status);
    expect(unknown.body).toEqual(known.body);
    expect(unknown.body).toEqual({ data: { message: 'If an account matches, a reset code has been sent to its email address' } });
  });

  it('when a tenant is named that the email does not belong to, then 202 and no code is made', async () => {
    const tenant = await registerTenant(t.app);
    const other = await registerTenant(t.app);
    const res = await forgot({ email: tenant.email }, { 'X-Tenant-ID': other.tenantId });
    expect(res.status).toBe(202);
    // Asked next in the right tenant, the address gets its one code: the request before made none.
    await resetCode(tenant);
    expect(await owner('password_reset_tokens').where({ tenant_id: tenant.tenantId }).count<[{ count: number }]>('* as count')).toEqual([{ count: 1 }]);
    expect((await forgot({ email: tenant.email, tenantId: tenant.tenantId }, { 'X-Tenant-ID': other.tenantId })).status).toBe(403);
  });

  it('when the code is older than 30 minutes, then it is refused', async () => {
    const tenant = await registerTenant(t.app);
    const code = await resetCode(tenant);
    await owner('password_reset_tokens').where({ tenant_id: tenant.tenantId }).update({ expires_at: owner.raw("now() - interval '1 second'") });
    expect((await api().post('/api/v1/auth/reset-password').send({ token: code, newPassword: NEW_PASSWORD })).status).toBe(401);
    expect((await login(t.app, { email: tenant.email, password: tenant.password })).status).toBe(200);
  });

  it('when a second code is asked for, then the first one stops working', async () => {
    const tenant = await registerTenant(t.app);
    const first = await resetCode(tenant);
    const second = await resetCode(tenant);
    expect(first).not.toBe(second);
    expect((await api().post('/api/v1/auth/reset-password').send({ token: first, newPassword: NEW_PASSWORD })).status).toBe(401);
    expect((await api().post('/api/v1/auth/reset-password').send({ token: second, newPassword: NEW_PASSWORD })).status).toBe(204);
  });

  it.each([
    ['/auth/forgot-password', {}],
    ['/auth/forgot-password', { email: 'not-an-email' }],
    ['/auth/reset-password', { token: 'prt_x' }],
    ['/auth/reset-password', { token: 'prt_x', newPassword: 'short' }],
  ])('when %s gets %j, then 400', async (path, body) => {
    expect((await api().post(`/api/v1${path}`).send(body)).status).toBe(400);
  });

  it('when the code is made up, then 401', async () => {
    for (const token of ['prt_made-up-code', 'inv_not-a-reset-code', 'x']) {
      expect((await api().post('/api/v1/auth/reset-password').send({ token, newPassword: NEW_PASSWORD })).status).toBe(401);
    }
  });

  it('when forgot-password is called too often, then it is rate limited like sign-in', async () => {
    const limited = buildTestApp({ env: { RATE_LIMIT_LOGIN_MAX: '2' } });
    try {
      const email = `limited-${Date.now()}@example.com`;
      const statuses = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await request(limited.app).post('/api/v1/auth/forgot-password').send({ email })).status);
      expect(statuses).toEqual([202, 202, 429]);
    } finally {
      await limited.close();
    }
  });
});
