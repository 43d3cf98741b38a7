import { Knex } from 'knex';
import request from 'supertest';
import { addMember, registerTenant } from './support/api-fixtures';
import { platformAdmins } from './support/platform-admin-fixtures';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

describe('plan gates', () => {
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

  it('when a free tenant uses a paid feature, then 402 PLAN_FEATURE_UNAVAILABLE; after an upgrade by the platform it works at once', async () => {
    const account = await registerTenant(t.app, { plan: 'free' });
    const key = await request(t.app).post('/api/v1/api-keys').set(account.auth).send({ name: 'ci', role: 'read_only' });
    expect(key.status).toBe(402);
    expect(key.body.error).toMatchObject({ code: 'PLAN_FEATURE_UNAVAILABLE', details: [{ field: 'plan' }] });
    const role = await request(t.app).post('/api/v1/roles').set(account.auth).send({ name: 'Auditors', permissions: ['leads:read'] });
    expect(role.status).toBe(402);

    const { superAdmin } = await platformAdmins(t, owner);
    const upgrade = await request(t.app).patch(`/api/v1/admin/tenants/${account.tenantId}`).set('Authorization', `Bearer ${superAdmin.token}`).send({ plan: 'pro' });
    expect(upgrade.status).toBe(200);
    expect((await request(t.app).post('/api/v1/api-keys').set(account.auth).send({ name: 'ci', role: 'read_only' })).status).toBe(201);
    expect((await request(t.app).post('/api/v1/roles').set(account.auth).send({ name: 'Auditors', permissions: ['leads:read'] })).status).toBe(201);
  });

  it('when the user quota is full, then adding a user is 402 naming the quota and its limit', async () => {
    const account = await registerTenant(t.app, { plan: 'free' });
    await addMember(t.app, account, 'sales_user');
    await addMember(t.app, account, 'read_only');
    const res = await request(t.app)
      .post('/api/v1/users')
      .set(account.auth)
      .send({ email: `fourth-${account.tenantId.slice(0, 8)}@example.com`, firstName: 'F', lastName: 'Four', role: 'manager' });
    expect(res.status).toBe(402);
    expect(res.body.error.details).toEqual([{ field: 'users', message: 'quota 3 reached (3 in use)' }]);
  });
});
