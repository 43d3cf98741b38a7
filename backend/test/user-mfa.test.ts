import { randomBytes } from 'node:crypto';
import { Knex } from 'knex';
import { Secret, TOTP } from 'otpauth';
import request from 'supertest';
import { addMember, bearer, login, registerTenant, Registered } from './support/api-fixtures';
import { PLATFORM_PASSWORD, staffMember } from './support/platform-admin-fixtures';
import { rotateCredentials, rotateGlobalCredentials } from '../src/modules/credentials/credential-rotation';
import { buildTestApp, ownerKnex, platformRoleKnex, runtimeKnex, TestApp } from './support/test-app';

/** The code an authenticator app shows `steps` periods from now: tests compute codes with the same library. */
const codeAt = (secret: string, steps = 0) =>
  new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate({ timestamp: Date.now() + steps * 30_000 });

describe('tenant user MFA (TOTP)', () => {
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

  const post = (path: string, auth: Record<string, string>, body: object = {}) => request(t.app).post(`/api/v1${path}`).set(auth).send(body);
  const secondStep = (body: object) => request(t.app).post('/api/v1/auth/login/mfa').send(body);

  async function enrolled(): Promise<Registered & { secret: string; enrolmentCode: string; recoveryCodes: string[] }> {
    const user = await registerTenant(t.app);
    const { secret } = (await post('/auth/mfa/setup', user.auth)).body.data;
    const enrolmentCode = codeAt(secret);
    const enabled = await post('/auth/mfa/enable', user.auth, { code: enrolmentCode });
    expect(enabled.status).toBe(200);
    return { ...user, secret, enrolmentCode, recoveryCodes: enabled.body.data.recoveryCodes };
  }

  it('when a user enrols, then the secret is stored encrypted, ten hashed recovery codes exist, and the audit trail says so', async () => {
    const user = await registerTenant(t.app);
    const setup = await post('/auth/mfa/setup', user.auth);
    expect(setup.body.data).toEqual({ secret: expect.stringMatching(/^[A-Z2-7]{32}$/), otpauthUrl: expect.stringMatching(/^otpauth:\/\/totp\//) });
    expect((await post('/auth/mfa/enable', user.auth, { code: codeAt(setup.body.data.secret, 10) })).status).toBe(400);
    const enabled = await post('/auth/mfa/enable', user.auth, { code: codeAt(setup.body.data.secret) });
    expect(enabled.body.data.recoveryCodes).toHaveLength(10);
    const row = await owner('users').where({ id: user.userId }).first();
    expect(row.mfa_enabled_at).not.toBeNull();
    expect(JSON.stringify(row)).not.toContain(setup.body.data.secret);
    const hashes = await owner('user_recovery_codes').where({ user_id: user.userId }).pluck('secret_hash');
    expect(hashes).toHaveLength(10);
    expect(hashes).not.toContain(enabled.body.data.recoveryCodes[0]);
    expect(await owner('audit_logs').where({ tenant_id: user.tenantId, action: 'auth.mfa_enable' }).pluck('resource_id')).toEqual([user.userId]);
  });

  it('when MFA is on, then login answers a challenge, a code finishes it once, and replaying the code is refused', async () => {
    const user = await enrolled();
    const first = await login(t.app, { email: user.email, password: user.password });
    expect(first.status).toBe(200);
    expect(first.body.data).toEqual({ mfaRequired: true, mfaToken: expect.any(String), expiresIn: 300 });
    expect(first.headers['set-cookie']).toBeUndefined();
    expect((await request(t.app).get('/api/v1/auth/me').set(bearer(first.body.data.mfaToken))).status).toBe(401);
    expect((await secondStep({ mfaToken: first.body.data.mfaToken, code: user.enrolmentCode })).status).toBe(401);

    const code = codeAt(user.secret, 1);
    const second = await login(t.app, { email: user.email, password: user.password });
    const done = await secondStep({ mfaToken: second.body.data.mfaToken, code });
    expect(done.status).toBe(200);
    expect((await request(t.app).get('/api/v1/auth/me').set(bearer(done.body.data.tokens.accessToken))).status).toBe(200);
    expect((await secondStep({ mfaToken: second.body.data.mfaToken, code })).status).toBe(401);
    const third = await login(t.app, { email: user.email, password: user.password });
    expect((await secondStep({ mfaToken: third.body.data.mfaToken, code })).status).toBe(401);
  });

  it('when a recovery code is used, then it signs in once; five wrong codes spend a challenge', async () => {
    const user = await enrolled();
    const first = await login(t.app, { email: user.email, password: user.password });
    expect((await secondStep({ mfaToken: first.body.data.mfaToken, recoveryCode: user.recoveryCodes[0] })).status).toBe(200);
    const second = await login(t.app, { email: user.email, password: user.password });
    expect((await secondStep({ mfaToken: second.body.data.mfaToken, recoveryCode: user.recoveryCodes[0] })).status).toBe(401);
    for (let i = 0; i < 4; i++) expect((await secondStep({ mfaToken: second.body.data.mfaToken, code: '000000' })).status).toBe(401);
    expect((await secondStep({ mfaToken: second.body.data.mfaToken, recoveryCode: user.recoveryCodes[1] })).status).toBe(401);
  });

  it("when another tenant's challenge, a forged token or a bad body is sent, then 401 / 400", async () => {
    const user = await enrolled();
    const other = await registerTenant(t.app);
    const { mfaToken } = (await login(t.app, { email: user.email, password: user.password })).body.data;
    expect((await secondStep({ mfaToken: other.accessToken, code: codeAt(user.secret, 1) })).status).toBe(401);
    expect((await secondStep({ mfaToken: `${mfaToken}x`, code: codeAt(user.secret, 1) })).status).toBe(401);
    expect((await secondStep({ mfaToken, code: '12ab56' })).status).toBe(400);
    expect((await secondStep({ mfaToken })).status).toBe(400);
  });

  it('when MFA is turned off with a current code, then other sessions end and sign-in is by password again; an impersonation may not touch MFA', async () => {
    const user = await enrolled();
    const other = await secondStep({ mfaToken: (await login(t.app, { email: user.email, password: user.password })).body.data.mfaToken, recoveryCode: user.recoveryCodes[0] });
    expect((await post('/auth/mfa/disable', user.auth, { code: user.enrolmentCode })).status).toBe(400);
    expect((await post('/auth/mfa/disable', user.auth, { code: codeAt(user.secret, 1) })).status).toBe(204);
    expect((await request(t.app).get('/api/v1/auth/me').set(bearer(other.body.data.tokens.accessToken))).status).toBe(401);
    expect((await login(t.app, { email: user.email, password: user.password })).body.data.tokens.accessToken).toEqual(expect.any(String));

    const admin = await staffMember(t, owner, 'super_admin');
    const support = await request(t.app).post(`/api/v1/admin/tenants/${user.tenantId}/impersonate`).set(bearer(admin.token)).send({ reason: 'mfa check' });
    expect((await post('/auth/mfa/setup', bearer(support.body.data.tokens.accessToken))).status).toBe(403);
  });

  it('when an organization requires MFA, then its users without it reach only their own account until they enrol; API keys are unaffected; only a user with MFA may require it', async () => {
    const settings = (auth: Record<string, string>, body?: object) =>
      body ? request(t.app).patch('/api/v1/organization/settings').set(auth).send(body) : request(t.app).get('/api/v1/organization/settings').set(auth);
    const plain = await registerTenant(t.app);
    const refused = await settings(plain.auth, { requireMfa: true });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'MFA_ENROLLMENT_REQUIRED']);
    expect((await settings(plain.auth)).body.data.requireMfa).toBe(false);

    const admin = await enrolled();
    const member = await addMember(t.app, admin, 'sales_user');
    const key = await request(t.app).post('/api/v1/api-keys').set(admin.auth).send({ name: 'Sync', permissions: ['leads:read'] });
    expect(key.status).toBe(201);
    // Seen before the switch: the member's caller is in the principal cache, which the switch must clear.
    expect((await request(t.app).get('/api/v1/leads').set(member.auth)).status).toBe(200);

    const on = await settings(admin.auth, { requireMfa: true });
    expect(on.status).toBe(200);
    expect(on.body.data).toEqual({ allowImpersonation: true, requireMfa: true });

    const blocked = await request(t.app).get('/api/v1/leads').set(member.auth);
    expect([blocked.status, blocked.body.error.code]).toEqual([403, 'MFA_ENROLLMENT_REQUIRED']);
    expect((await request(t.app).get('/api/v1/auth/me').set(member.auth)).status).toBe(200);
    expect((await request(t.app).get('/api/v1/leads').set(admin.auth)).status).toBe(200);
    expect((await request(t.app).get('/api/v1/leads').set(bearer(key.body.data.key))).status).toBe(200);

    const { secret } = (await post('/auth/mfa/setup', member.auth)).body.data;
    expect((await post('/auth/mfa/enable', member.auth, { code: codeAt(secret) })).status).toBe(200);
    expect((await request(t.app).get('/api/v1/leads').set(member.auth)).status).toBe(200);

    const late = await addMember(t.app, admin, 'sales_user');
    expect((await request(t.app).get('/api/v1/leads').set(late.auth)).status).toBe(403);
    expect((await settings(admin.auth, { requireMfa: false })).body.data.requireMfa).toBe(false);
    expect((await request(t.app).get('/api/v1/leads').set(late.auth)).status).toBe(200);

    const changes = await owner('audit_logs').where({ tenant_id: admin.tenantId, action: 'organization.settings_update' }).orderBy('append_id').pluck('changes');
    expect(changes).toEqual([{ requireMfa: { before: false, after: true } }, { requireMfa: { before: true, after: false } }]);
  });

  it('when an API key or nobody calls the MFA routes, then 403 / 401', async () => {
    const user = await registerTenant(t.app);
    const key = await request(t.app).post('/api/v1/api-keys').set(user.auth).send({ name: 'Probe', role: 'tenant_admin' });
    expect((await post('/auth/mfa/setup', { 'X-API-Key': key.body.data.key as string })).status).toBe(403);
    expect((await post('/auth/mfa/setup', {})).status).toBe(401);
  });

  it('when the credential keys rotate, then users\' and staff\'s TOTP secrets are re-encrypted under the new key and their codes still work', async () => {
    const user = await enrolled();
    const staff = await staffMember(t, owner, 'support');
    const staffSecret = (await post('/admin/auth/mfa/setup', bearer(staff.token))).body.data.secret as string;
    await post('/admin/auth/mfa/enable', bearer(staff.token), { code: codeAt(staffSecret) }).expect(200);

    const old = t.deps.config.credentialKeys;
    const keys = [{ id: 'k9', key: randomBytes(32) }, ...old];
    const runtime = runtimeKnex();
    const platform = platformRoleKnex();
    try {
      expect((await rotateCredentials(runtime, platform, keys, [user.tenantId])).reencrypted).toBeGreaterThanOrEqual(1);
      expect(await rotateGlobalCredentials(platform, keys)).toBeGreaterThanOrEqual(1);
    } finally {
      await Promise.all([runtime.destroy(), platform.destroy()]);
    }
    expect((await owner('users').where({ id: user.userId }).first()).mfa_secret_encrypted).toMatch(/^cred1\.k9\./);
    expect((await owner('platform_admins').where({ id: staff.id }).first()).mfa_secret_encrypted).toMatch(/^cred1\.k9\./);

    const rotated = buildTestApp({ env: { CREDENTIALS_KEYS: keys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(',') } });
    try {
      const userStep = await request(rotated.app).post('/api/v1/auth/login').send({ email: user.email, password: user.password });
      expect((await request(rotated.app).post('/api/v1/auth/login/mfa').send({ mfaToken: userStep.body.data.mfaToken, code: codeAt(user.secret, 1) })).status).toBe(200);
      const staffStep = await request(rotated.app).post('/api/v1/admin/auth/login').send({ email: staff.email, password: PLATFORM_PASSWORD });
      expect((await request(rotated.app).post('/api/v1/admin/auth/login/mfa').send({ mfaToken: staffStep.body.data.mfaToken, code: codeAt(staffSecret, 1) })).status).toBe(200);
    } finally {
      await rotated.close();
    }
  });
});
