import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { Knex } from 'knex';
import request from 'supertest';
import { addMember, addRole, bearer, login, registerTenant, Registered } from './support/api-fixtures';
import { platformAdmins } from './support/platform-admin-fixtures';
import { heldBy, trusted } from './support/app-instances';
import { answeredWithin } from './support/eventually';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

/**
 * Two instances of the API (two apps, each with its own pool and its own memory of callers), sharing
 * the database and the change bus: what is revoked on A is refused by B within a second, though B had
 * just confirmed that caller and kept it in memory.
 */
const BOUND_MS = 1_000;




const variants: Array<[string, Record<string, string | undefined>]> = [
  ...(process.env.REDIS_URL ? [['Redis pub/sub', { REDIS_URL: process.env.REDIS_URL }] as [string, Record<string, string | undefined>]] : []),
  ['PostgreSQL LISTEN/NOTIFY (no REDIS_URL)', { REDIS_URL: undefined }],
];

describe.each(variants)('two instances, changes carried by %s', (_name, env) => {
  let a: TestApp;
  let b: TestApp;
  let owner: Knex;
  let superToken: string;
  beforeAll(async () => {
    // One deployment: the same REDIS_KEY_PREFIX, hence the same channel.
    const shared = { ...env, REDIS_KEY_PREFIX: `test:revocation-${randomUUID().slice(0, 8)}:` };
    a = buildTestApp({ env: shared });
    b = buildTestApp({ env: shared });
    owner = ownerKnex();
    superToken = (await platformAdmins(a, owner)).superAdmin.token;
    await Promise.all([trusted(a), trusted(b)]);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await owner.destroy();
  });

  const me = (t: TestApp, token: string) => () => request(t.app).get('/api/v1/auth/me').set(bearer(token));
  const createLead = (t: TestApp, token: string) => () => request(t.app).post('/api/v1/leads').set(bearer(token)).send({ lastName: 'Probe' });
  const status = (code: number, errorCode?: string) => (res: request.Response) => res.status === code && (errorCode === undefined || res.body.error?.code === errorCode);

  it('when a change is made by hand in the database, then B keeps answering from memory (which is what the tests below revoke)', async () => {
    const account = await registerTenant(a.app);
    await heldBy(b, account.accessToken);
    await owner('tenants').where({ id: account.tenantId }).update({ status: 'suspended' });
    expect((await me(b, account.accessToken)()).status).toBe(200);
    // A never held this caller: it reads the database.
    expect((await me(a, account.accessToken)()).body.error?.code).toBe('TENANT_SUSPENDED');
  });

  it('when the user signs out on A, then B refuses the access token within a second', async () => {
    const account = await registerTenant(a.app);
    await heldBy(b, account.accessToken);
    expect((await request(a.app).post('/api/v1/auth/logout').set(account.auth)).status).toBe(204);
    expect(await answeredWithin(BOUND_MS, me(b, account.accessToken), status(401))).toBeLessThanOrEqual(BOUND_MS);
  });

  it('when a session is signed out from another session on A, then B refuses its token within a second', async () => {
    const account = await registerTenant(a.app);
    const other = (await login(a.app, { email: account.email, password: account.password })).body.data.tokens.accessToken as string;
    await heldBy(b, account.accessToken);
    const sid = (jwt.decode(account.accessToken) as { sid: string }).sid;
    expect((await request(a.app).delete(`/api/v1/sessions/${sid}`).set(bearer(other))).status).toBe(204);
    expect(await answeredWithin(BOUND_MS, me(b, account.accessToken), status(401))).toBeLessThanOrEqual(BOUND_MS);
    expect((await me(b, other)()).status).toBe(200);
  });

  it('when an admin disables a user on A, then B refuses that user within a second', async () => {
    const admin = await registerTenant(a.app);
    const member = await addMember(a.app, admin, 'sales_user');
    await heldBy(b, member.accessToken);
    expect((await request(a.app).patch(`/api/v1/users/${member.id}`).set(admin.auth).send({ status: 'disabled' })).status).toBe(200);
    expect(await answeredWithin(BOUND_MS, me(b, member.accessToken), status(401))).toBeLessThanOrEqual(BOUND_MS);
  });

  it("when an admin changes a user's role on A, then B applies the new role within a second", async () => {
    const admin = await registerTenant(a.app);
    const member = await addMember(a.app, admin, 'sales_user');
    await heldBy(b, member.accessToken);
    expect((await request(a.app).patch(`/api/v1/users/${member.id}`).set(admin.auth).send({ role: 'read_only' })).status).toBe(200);
    expect(await answeredWithin(BOUND_MS, createLead(b, member.accessToken), status(403, 'FORBIDDEN'))).toBeLessThanOrEqual(BOUND_MS);
  });

  it("when an admin edits a role's permissions on A, then B applies them to its holders within a second", async () => {
    const admin = await registerTenant(a.app);
    const roleId = await addRole(a.app, admin, ['leads:read', 'leads:write']);
    const member = await addMember(a.app, admin, roleId);
    await heldBy(b, member.accessToken);
    expect((await createLead(b, member.accessToken)()).status).toBe(201);
    expect((await request(a.app).patch(`/api/v1/roles/${roleId}`).set(admin.auth).send({ permissions: ['leads:read'] })).status).toBe(200);
    expect(await answeredWithin(BOUND_MS, createLead(b, member.accessToken), status(403, 'FORBIDDEN'))).toBeLessThanOrEqual(BOUND_MS);
  });

  it('when an API key is revoked on A, then B refuses it within a second', async () => {
    const admin = await registerTenant(a.app);
    const created = await request(a.app).post('/api/v1/api-keys').set(admin.auth).send({ name: 'ci', role: 'read_only' });
    expect(created.status).toBe(201);
    const listLeads = () => request(b.app).get('/api/v1/leads').set('X-API-Key', created.body.data.key as string);
    expect((await listLeads()).status).toBe(200);
    expect((await listLeads()).status).toBe(200);
    expect((await request(a.app).delete(`/api/v1/api-keys/${created.body.data.id}`).set(admin.auth)).status).toBe(204);
    expect(await answeredWithin(BOUND_MS, listLeads, status(401))).toBeLessThanOrEqual(BOUND_MS);
  });

  it('when the platform suspends a tenant on A, then B refuses its users within a second', async () => {
    const account = await registerTenant(a.app);
    await heldBy(b, account.accessToken);
    const suspend = await request(a.app).patch(`/api/v1/admin/tenants/${account.tenantId}`).set(bearer(superToken)).send({ status: 'suspended', reason: 'unpaid' });
    expect(suspend.status).toBe(200);
    expect(await answeredWithin(BOUND_MS, me(b, account.accessToken), status(403, 'TENANT_SUSPENDED'))).toBeLessThanOrEqual(BOUND_MS);
  });

  it("when the platform changes a tenant's plan on A, then B applies the plan within a second", async () => {
    const account = await registerTenant(a.app, { plan: 'pro' });
    await heldBy(b, account.accessToken);
    expect((await request(a.app).patch(`/api/v1/admin/tenants/${account.tenantId}`).set(bearer(superToken)).send({ plan: 'free' })).status).toBe(200);
    const customRole = () => request(b.app).post('/api/v1/roles').set(account.auth).send({ name: `Role ${randomUUID().slice(0, 8)}`, permissions: ['leads:read'] });
    expect(await answeredWithin(BOUND_MS, customRole, status(402, 'PLAN_FEATURE_UNAVAILABLE'))).toBeLessThanOrEqual(BOUND_MS);
  });

  it('when the organization schedules its deletion on A, then B refuses its writes within a second', async () => {
    const account: Registered = await registerTenant(a.app);
    await heldBy(b, account.accessToken);
    const name = (await me(a, account.accessToken)()).body.data.tenant.name as string;
    expect((await request(a.app).post('/api/v1/organization/delete').set(account.auth).send({ confirm: name })).status).toBe(202);
    expect(await answeredWithin(BOUND_MS, createLead(b, account.accessToken), status(409, 'TENANT_PENDING_DELETION'))).toBeLessThanOrEqual(BOUND_MS);
  });
});

describe('an instance whose bus connection is lost', () => {
  let t: TestApp;
  let owner: Knex;
  beforeAll(async () => {
    t = buildTestApp({ env: { REDIS_URL: undefined } });
    owner = ownerKnex();
    await trusted(t);
  });
  afterAll(async () => {
    await t.close();
    await owner.destroy();
  });

  it('when its LISTEN connection is killed, then it stops answering from memory within a second and trusts it again once reconnected', async () => {
    const account = await registerTenant(t.app);
    await heldBy(t, account.accessToken);
    // An unannounced change: only a read of the database can see it.
    await owner('tenants').where({ id: account.tenantId }).update({ status: 'suspended' });
    expect((await request(t.app).get('/api/v1/auth/me').set(account.auth)).status).toBe(200);
    await owner.raw("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'crm-change-bus' and datname = current_database()");
    const refused = await answeredWithin(BOUND_MS, () => request(t.app).get('/api/v1/auth/me').set(account.auth), (res) => res.body.error?.code === 'TENANT_SUSPENDED');
    expect(refused).toBeLessThanOrEqual(BOUND_MS);
    await trusted(t);
  });
});
