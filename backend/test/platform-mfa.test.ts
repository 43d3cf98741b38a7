import { Knex } from 'knex';
import { Secret, TOTP } from 'otpauth';
import request from 'supertest';
import { bearer } from './support/api-fixtures';
import { PLATFORM_PASSWORD, StaffMember, staffMember } from './support/platform-admin-fixtures';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

/** The code an authenticator app shows `steps` periods from now: tests compute codes with the same library. */
const codeAt = (secret: string, steps = 0) =>
  new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate({ timestamp: Date.now() + steps * 30_000 });

/** How many rows a query of the owner's matches. */
const rows = async (query: Knex.QueryBuilder): Promise<number> => Number(((await query.count({ count: '*' })) as Array<{ count: string | number }>)[0]!.count);

describe('platform staff MFA (TOTP)', () => {
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

  const post = (path: string, token: string, body: object = {}) => request(t.app).post(`/api/v1${path}`).set(bearer(token)).send(body);
  const login = (email: string) => request(t.app).post('/api/v1/admin/auth/login').send({ email, password: PLATFORM_PASSWORD });
  const secondStep = (body: object) => request(t.app).post('/api/v1/admin/auth/login/mfa').send(body);

  /** A staff member with MFA on: its secret and recovery codes. */
  async function enrolled(): Promise<StaffMember & { secret: string; enrolmentCode: string; recoveryCodes: string[] }> {
    const member = await staffMember(t, owner, 'support');
    const setup = await post('/admin/auth/mfa/setup', member.token);
    const { secret } = setup.body.data;
    const enrolmentCode = codeAt(secret);
    const enabled = await post('/admin/auth/mfa/enable', member.token, { code: enrolmentCode });
    return { ...member, secret, enrolmentCode, recoveryCodes: enabled.body.data.recoveryCodes };
  }

  it('when staff sets MFA up, then a base32 secret and its otpauth URL come back, and a right code turns it on with 10 recovery codes', async () => {
    const member = await staffMember(t, owner, 'support');
    const setup = await post('/admin/auth/mfa/setup', member.token);
    expect(setup.status).toBe(200);
    expect(setup.body.data.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(setup.body.data.otpauthUrl).toMatch(new RegExp(`^otpauth://totp/CRM:${encodeURIComponent(member.email)}\\?.*secret=${setup.body.data.secret}`));
    const stored = await owner('platform_admins').where({ id: member.id }).first();
    expect(JSON.stringify(stored)).not.toContain(setup.body.data.secret);

    const wrong = await post('/admin/auth/mfa/enable', member.token, { code: codeAt(setup.body.data.secret, 10) });
    expect([wrong.status, wrong.body.error.details[0].field]).toEqual([400, 'code']);
    const enabled = await post('/admin/auth/mfa/enable', member.token, { code: codeAt(setup.body.data.secret) });
    expect(enabled.status).toBe(200);
    expect(enabled.body.data.recoveryCodes).toHaveLength(10);
    expect(new Set(enabled.body.data.recoveryCodes).size).toBe(10);
    const hashes = await owner('platform_admin_recovery_codes').where({ admin_id: member.id }).pluck('code_hash');
    expect(hashes).toHaveLength(10);
    expect(hashes).not.toContain(enabled.body.data.recoveryCodes[0]);
    expect((await request(t.app).get('/api/v1/admin/me').set(bearer(member.token))).body.data.mfaEnabled).toBe(true);
    expect((await post('/admin/auth/mfa/setup', member.token)).status).toBe(409);
  });

  it('when MFA is on, then the password step answers only an mfaToken that opens nothing, and a code finishes the sign-in', async () => {
    const member = await enrolled();
    const first = await login(member.email);
    expect(first.status).toBe(200);
    expect(first.body.data).toEqual({ mfaRequired: true, mfaToken: expect.stringMatching(/^mfa_/), expiresIn: 300 });
    expect(first.headers['set-cookie']).toBeUndefined();
    expect((await request(t.app).get('/api/v1/admin/me').set(bearer(first.body.data.mfaToken))).status).toBe(401);

    // The enrolment code is spent; it cannot sign in. The next step's code (within the allowed skew) does.
    const early = await login(member.email);
    expect((await secondStep({ mfaToken: early.body.data.mfaToken, code: member.enrolmentCode })).status).toBe(401);
    const code = codeAt(member.secret, 1);
    const done = await secondStep({ mfaToken: first.body.data.mfaToken, code });
    expect(done.status).toBe(200);
    expect(done.body.data.admin).toMatchObject({ id: member.id, mfaEnabled: true });
    expect((await request(t.app).get('/api/v1/admin/me').set(bearer(done.body.data.tokens.accessToken))).status).toBe(200);

    // The challenge is single use, and the same code is refused on a new challenge (no replay in its window).
    expect((await secondStep({ mfaToken: first.body.data.mfaToken, code })).status).toBe(401);
    const again = await login(member.email);
    const replay = await secondStep({ mfaToken: again.body.data.mfaToken, code });
    expect([replay.status, replay.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
  });

  it('when a recovery code is used, then it signs in once and never again', async () => {
    const member = await enrolled();
    const recoveryCode = member.recoveryCodes[3]!;
    const first = await login(member.email);
    expect((await secondStep({ mfaToken: first.body.data.mfaToken, recoveryCode: recoveryCode.toUpperCase() })).status).toBe(200);
    const second = await login(member.email);
    expect((await secondStep({ mfaToken: second.body.data.mfaToken, recoveryCode })).status).toBe(401);
    expect(await rows(owner('platform_admin_recovery_codes').where({ admin_id: member.id }).whereNotNull('used_at'))).toBe(1);
  });

  it('when wrong codes are tried, then each is a 401 and the fifth spends the challenge, even for the right code after it', async () => {
    const member = await enrolled();
    const { mfaToken } = (await login(member.email)).body.data;
    for (let i = 0; i < 5; i++) expect((await secondStep({ mfaToken, code: '000000' })).status).toBe(401);
    expect((await secondStep({ mfaToken, code: codeAt(member.secret, 1) })).status).toBe(401);
    expect(await rows(owner('platform_audit_logs').where({ action: 'staff.login_mfa_failed', actor_id: member.id }))).toBe(5);
  });

  it.each([
    ['both a code and a recovery code', { mfaToken: 'mfa_x', code: '123456', recoveryCode: 'abcde-12345' }],
    ['neither', { mfaToken: 'mfa_x' }],
    ['a code that is not 6 digits', { mfaToken: 'mfa_x', code: '12345a' }],
    ['no mfaToken', { code: '123456' }],
    ['an unknown field', { mfaToken: 'mfa_x', code: '123456', adminId: 'x' }],
  ])('when the second step has %s, then 400 VALIDATION_ERROR', async (_case, body) => {
    const res = await secondStep(body);
    expect([res.status, res.body.error.code]).toEqual([400, 'VALIDATION_ERROR']);
  });

  it('when MFA is turned off with a current code, then sign-in is by password again and other sessions end', async () => {
    const member = await enrolled();
    const other = await secondStep({ mfaToken: (await login(member.email)).body.data.mfaToken, recoveryCode: member.recoveryCodes[0] });
    expect(other.status).toBe(200);
    expect((await post('/admin/auth/mfa/disable', member.token, { code: '000000' })).status).toBe(400);
    // The enrolment spent its code: replaying it is refused.
    expect((await post('/admin/auth/mfa/disable', member.token, { code: member.enrolmentCode })).status).toBe(400);
    expect((await post('/admin/auth/mfa/disable', member.token, { code: codeAt(member.secret, 1) })).status).toBe(204);
    expect((await request(t.app).get('/api/v1/admin/me').set(bearer(other.body.data.tokens.accessToken))).status).toBe(401);
    expect((await request(t.app).get('/api/v1/admin/me').set(bearer(member.token))).body.data.mfaEnabled).toBe(false);
    expect((await login(member.email)).body.data.tokens.accessToken).toEqual(expect.any(String));
    expect(await rows(owner('platform_admin_recovery_codes').where({ admin_id: member.id }))).toBe(0);
  });

  describe('with ADMIN_MFA_REQUIRED', () => {
    let strict: TestApp;
    beforeAll(() => {
      strict = buildTestApp({ env: { ADMIN_MFA_REQUIRED: 'true' } });
    });
    afterAll(() => strict.close());

    it('when staff has no MFA, then only its own account is open (403 MFA_ENROLLMENT_REQUIRED elsewhere) until it enrols', async () => {
      const member = await staffMember(strict, owner, 'super_admin');
      const tenants = () => request(strict.app).get('/api/v1/admin/tenants').set(bearer(member.token));
      expect([(await tenants()).status, (await tenants()).body.error.code]).toEqual([403, 'MFA_ENROLLMENT_REQUIRED']);
      const verify = await request(strict.app).get('/api/v1/admin/auth/verify').set(bearer(member.token));
      expect(verify.body.data.mfaEnrollmentRequired).toBe(true);
      const setup = await request(strict.app).post('/api/v1/admin/auth/mfa/setup').set(bearer(member.token)).send({});
      await request(strict.app).post('/api/v1/admin/auth/mfa/enable').set(bearer(member.token)).send({ code: codeAt(setup.body.data.secret) }).expect(200);
      expect((await tenants()).status).toBe(200);
    });
  });
});
