import { Knex } from 'knex';
import request from 'supertest';
import { registerTenant } from './support/api-fixtures';
import { TestJobRunner } from './support/jobs';
import { mailsOf, sendPendingMails } from './support/mail-log';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

describe('rate limits warn before they block', () => {
  let t: TestApp;
  let jobs: TestJobRunner;
  let owner: Knex;
  beforeAll(() => {
    t = buildTestApp();
    jobs = new TestJobRunner(t);
    owner = ownerKnex();
  });
  afterAll(async () => {
    await jobs.close();
    await t.close();
    await owner.destroy();
  });

  it("when a caller passes 80% of its hourly budget, then GET /rate-limit says warning and the tenant's admins get one e-mail for the window", async () => {
    const account = await registerTenant(t.app, { plan: 'free' });
    const budget = () => request(t.app).get('/api/v1/rate-limit').set(account.auth);
    for (let i = 0; i < 79; i += 1) await request(t.app).get('/api/v1/auth/me').set(account.auth).expect(200);
    const atEighty = await budget();
    expect(atEighty.body.data).toMatchObject({ limit: 100, remaining: 20, warning: false });
    const past = await budget();
    expect(past.body.data).toMatchObject({ remaining: 19, warning: true });
    for (let i = 0; i < 5; i += 1) await budget().expect(200);

    await sendPendingMails(jobs, account.tenantId);
    const warnings = await mailsOf(owner, account.tenantId, 'rate_limit_warning');
    expect(warnings.map((mail) => mail.recipient)).toEqual([account.email]);
    expect(warnings[0]!.message.text).toContain('80% of its budget of 100 requests');
  });
});
