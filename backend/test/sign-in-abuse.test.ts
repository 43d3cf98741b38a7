import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import request from 'supertest';
import { accountHash } from '../src/modules/auth/sign-in-throttle';
import { login, registerTenant, Registered } from './support/api-fixtures';
import { eventually } from './support/eventually';
import { PLATFORM_PASSWORD, staffMember, StaffMember } from './support/platform-admin-fixtures';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

/** Sign-in, lockout, reset and sign-up budgets: what an outside guesser or enumerator meets. */
describe('sign-in abuse resistance', () => {
  let owner: Knex;
  beforeAll(() => {
    owner = ownerKnex();
  });
  afterAll(() => owner.destroy());

  describe('per-account sign-in budget and lockout', () => {
    let t: TestApp;
    let staff: StaffMember;
    let tenant: Registered;
    beforeAll(async () => {
      t = buildTestApp({ env: { RATE_LIMIT_LOGIN_MAX: '5', LOGIN_LOCKOUT_THRESHOLD: '3' } });
      staff = await staffMember(t, owner, 'super_admin');
      tenant = await registerTenant(t.app);
    });
    afterAll(() => t.close());

    const adminLogin = (email: string, password: string) => request(t.app).post('/api/v1/admin/auth/login').send({ email, password });

    it('when one admin address is spelled with spaces, tabs or capitals, then it is one budget: the 6th attempt is 429', async () => {
      const other = await staffMember(t, owner, 'support');
      await owner('sign_in_throttles').delete();
      // The fixture's sign-in was the first attempt of the budget (5); four more spellings make five.
      const spellings = [` ${other.email}`, `${other.email} `, `\t${other.email}`, `\n${other.email.toUpperCase()}\t`];
      // The lockout (3) would answer first: lift it for this check of the IP + account budget alone.
      for (const email of spellings) {
        await owner('sign_in_throttles').delete();
        expect((await adminLogin(email, 'Wrong-Passw0rd-1')).status).toBe(401);
      }
      const sixth = await adminLogin(`  ${other.email}`, PLATFORM_PASSWORD);
      expect([sixth.status, sixth.body.error.code]).toEqual([429, 'RATE_LIMITED']);
    });

    it('when a platform admin address fails 3 times, then it is locked (429, Retry-After) even for the right password, and so is an unknown one', async () => {
      const unknown = `nobody-${randomUUID().slice(0, 8)}@example.com`;
      for (const email of [staff.email, unknown]) {
        for (let i = 0; i < 3; i++) expect((await adminLogin(email, `Wrong-${i}-Passw0rd`)).status).toBe(401);
      }
      const locked = await adminLogin(staff.email, PLATFORM_PASSWORD);
      const lockedUnknown = await adminLogin(unknown, PLATFORM_PASSWORD);
      expect([locked.status, locked.body.error.code]).toEqual([429, 'RATE_LIMITED']);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
      expect([lockedUnknown.status, lockedUnknown.body.error.code, lockedUnknown.body.error.message]).toEqual([429, locked.body.error.code, locked.body.error.message]);
    });

    it('when a tenant address and an unknown address each fail 3 times, then both answer the same 429, whatever the password', async () => {
      const unknown = `ghost-${randomUUID().slice(0, 8)}@example.com`;
      const answers: unknown[][] = [];
      for (const email of [tenant.email, unknown]) {
        for (let i = 0; i < 3; i++) {
          const res = await login(t.app, { email, password: `Wrong-${i}-Passw0rd` });
          answers.push([res.status, res.body.error.code, res.body.error.message]);
        }
      }
      expect(new Set(answers.map((answer) => JSON.stringify(answer))).size).toBe(1);
      const known = await login(t.app, { email: tenant.email, password: tenant.password });
      const ghost = await login(t.app, { email: unknown, password: tenant.password });
      expect([known.status, known.body.error.code, known.body.error.message]).toEqual([ghost.status, ghost.body.error.code, ghost.body.error.message]);
      expect(known.status).toBe(429);
    });
  });

  describe('password reset requests', () => {
    let t: TestApp;
    beforeAll(() => {
      t = buildTestApp();
    });
    afterAll(() => t.close());

    it('when one account is asked for 6 resets, then every answer is the same 202 but only the first 3 make a code', async () => {
      const account = await registerTenant(t.app);
      const answers = [];
      for (let i = 0; i < 6; i++) {
        const res = await request(t.app).post('/api/v1/auth/forgot-password').send({ email: i % 2 ? ` ${account.email.toUpperCase()}` : account.email });
        answers.push([res.status, res.body]);
      }
      expect(new Set(answers.map((answer) => JSON.stringify(answer))).size).toBe(1);
      expect(answers[0]![0]).toBe(202);
      // Requests are worked after their answers: wait until all 6 are counted and the 3 codes written.
      const counted = async () =>
        Number((await owner('sign_in_throttles').where({ scope: 'password_reset', account_hash: accountHash('password_reset', account.email) }).first('attempts'))?.attempts ?? 0);
      const codesOf = () => owner('password_reset_tokens').where({ user_id: account.userId });
      await eventually(async () => (await counted()) === 6 && (await codesOf()).length === 3, 15_000, 'six requests counted, three codes made');
      const codes = await codesOf();
      expect(codes).toHaveLength(3);
      // The last code made is still good: the flood did not void it.
      expect(codes.filter((code: { used_at: Date | null }) => code.used_at === null)).toHaveLength(1);
    });
  });

  describe('password reset timing', () => {
    let t: TestApp;
    beforeAll(() => {
      t = buildTestApp();
    });
    afterAll(() => t.close());

    it("when a known address's reset work is held up, then its 202 comes anyway, as an unknown address's does: the answer never waits for the account", async () => {
      const account = await registerTenant(t.app);
      const forgot = (email: string) => request(t.app).post('/api/v1/auth/forgot-password').send({ email });
      // Every writer of reset codes waits while this transaction lives: a known address's work cannot finish.
      const blocker = await owner.transaction();
      let known: request.Response | undefined;
      try {
        await blocker.raw('lock table password_reset_tokens in share mode');
        const unknown = await forgot(`nobody-${randomUUID().slice(0, 8)}@example.com`);
        void forgot(account.email).then((res) => (known = res));
        await eventually(() => known !== undefined, 10_000, "the known address's answer while its code cannot be written");
        expect([known!.status, known!.body]).toEqual([unknown.status, unknown.body]);
        expect(await owner('password_reset_tokens').where({ user_id: account.userId })).toEqual([]);
      } finally {
        await blocker.commit();
      }
      await eventually(async () => (await owner('password_reset_tokens').where({ user_id: account.userId })).length === 1, 15_000, 'the code, once the table is free');
    });
  });

  describe('registration', () => {
    let t: TestApp;
    beforeAll(() => {
      t = buildTestApp({ env: { RATE_LIMIT_SIGNUP_MAX: '2' } });
    });
    afterAll(() => t.close());

    it('when one IP registers past its sign-up budget, then 429 and no organization is made; a taken address says only that', async () => {
      const first = await registerTenant(t.app);
      const taken = await request(t.app)
        .post('/api/v1/auth/register')
        .send({ email: first.email, password: 'Str0ng-Passw0rd', firstName: 'A', lastName: 'B', company: `Taken ${randomUUID().slice(0, 6)}` });
      expect([taken.status, taken.body.error.code]).toEqual([409, 'CONFLICT']);
      expect(JSON.stringify(taken.body)).not.toContain(first.tenantId);
      const company = `Over budget ${randomUUID().slice(0, 6)}`;
      const third = await request(t.app)
        .post('/api/v1/auth/register')
        .send({ email: `x-${randomUUID().slice(0, 8)}@example.com`, password: 'Str0ng-Passw0rd', firstName: 'A', lastName: 'B', company });
      expect([third.status, third.body.error.code]).toEqual([429, 'RATE_LIMITED']);
      expect(await owner('tenants').where({ name: company })).toEqual([]);
    });
  });

  describe('anonymous budget', () => {
    let t: TestApp;
    beforeAll(() => {
      t = buildTestApp({ env: { RATE_LIMIT_ANONYMOUS_MAX: '5' } });
    });
    afterAll(() => t.close());

    it('when requests carry a made-up bearer token, then they are anonymous: the 6th to an unknown path is 429, and to a public route too', async () => {
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await request(t.app).get(`/api/v1/no-such-route-${i}`).set('Authorization', 'Bearer nonsense')).status);
      expect(statuses).toEqual([404, 404, 404, 404, 404, 429]);
      expect((await request(t.app).get('/api/v1/openapi.json').set('Authorization', 'Bearer nonsense')).status).toBe(429);
    });
  });
});
