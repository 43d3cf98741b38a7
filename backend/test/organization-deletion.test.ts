import { Knex } from 'knex';
import request from 'supertest';
import { tenantTableNames } from '../src/modules/compliance/tenant-tables';
import { addMember, login, Member, PASSWORD, registerTenant, Registered } from './support/api-fixtures';
import { TestJobRunner } from './support/jobs';
import { buildTestApp, TestApp } from './support/test-app';

/** Rows of the tenant in every table that has a tenant_id (from the catalogue), as the owner sees them. */
async function rowCounts(owner: Knex, tenantId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of await tenantTableNames(owner)) {
    const row = await owner(table).where({ tenant_id: tenantId }).count<Array<{ n: string }>>('* as n');
    counts[table] = Number(row[0]!.n);
  }
  return counts;
}

describe('organization deletion', () => {
  let t: TestApp;
  let jobs: TestJobRunner;
  let admin: Registered;
  let company: string;
  let other: Registered;
  let member: Member;
  let managerKey: string;

  const api = (caller: { auth: Record<string, string> }) => ({
    get: (path: string) => request(t.app).get(`/api/v1${path}`).set(caller.auth),
    post: (path: string, body?: object) => request(t.app).post(`/api/v1${path}`).set(caller.auth).send(body),
    del: (path: string) => request(t.app).delete(`/api/v1${path}`).set(caller.auth),
  });

  const purgeJobs = (tenantId: string) => jobs.queuedJobs({ task: 'organization.purge', tenantId });

  /** Makes the queued purge due now, as if the grace period had passed (the tenant row too unless told). */
  const makePurgeDue = async (tenantId: string, { tenantRow = true } = {}) => {
    await jobs.makeDue((await purgeJobs(tenantId)).map((job) => job.id));
    if (tenantRow) await jobs.owner('tenants').where({ id: tenantId }).update({ deletion_scheduled_for: jobs.owner.raw("now() - interval '1 minute'") });
  };

  /** Data in many tables: records, an import, an export with content, an API key, a member, audit entries. */
  const populate = async (caller: Registered) => {
    const contact = await api(caller).post('/contacts', { firstName: 'Carl', lastName: 'Contact', email: `carl-${caller.tenantId.slice(0, 6)}@example.com` });
    expect(contact.status).toBe(201);
    const account = await api(caller).post('/accounts', { name: 'Acme Ltd' });
    await api(caller).post('/deals', { name: 'Big deal', accountId: account.body.data.id, contactId: contact.body.data.id }).expect(201);
    await api(caller).post('/tickets', { subject: 'Broken', contactId: contact.body.data.id }).expect(201);
    await api(caller).post('/activities', { type: 'call', subject: 'Intro call', relatedType: 'contact', relatedId: contact.body.data.id }).expect(201);
    await api(caller).post('/tasks', { title: 'Follow up' }).expect(201);
    await request(t.app).post('/api/v1/leads/import/bulk').set(caller.auth).set('Content-Type', 'text/csv').send('firstName,lastName,email\nLee,Lead,lee@example.com\n').expect(201);
    const key = await api(caller).post('/api-keys', { name: 'k', role: 'manager' }).expect(201);
    await api(caller).post('/organization/export-data').expect(202);
    await jobs.runUntilIdle(caller.tenantId);
    return key.body.data.key as string;
  };

  beforeAll(async () => {
    t = buildTestApp();
    jobs = new TestJobRunner(t);
    company = `Doomed ${Date.now()}`;
    admin = await registerTenant(t.app, { company });
    other = await registerTenant(t.app);
    member = await addMember(t.app, admin, 'sales_user');
    managerKey = await populate(admin);
    await populate(other);
  });
  afterAll(async () => {
    await jobs.close();
    await t.close();
  });

  it('when nothing is scheduled, then GET shows an active organization and DELETE is 409', async () => {
    const res = await api(admin).get('/organization/delete');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ status: 'active', requestedAt: null, requestedBy: null, purgeAt: null });
    const cancel = await api(admin).del('/organization/delete');
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe('CONFLICT');
  });

  it('when the confirmation is not the exact name, then 400 VALIDATION_ERROR on confirm and nothing is scheduled', async () => {
    for (const confirm of [company.toUpperCase(), `${company} `, 'wrong']) {
      const res = await api(admin).post('/organization/delete', { confirm });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: [{ field: 'confirm', message: expect.any(String) }] });
    }
    expect((await api(admin).post('/organization/delete', {})).status).toBe(400);
    expect((await api(admin).post('/organization/delete', { confirm: company, now: true })).status).toBe(400);
    expect((await api(admin).get('/organization/delete')).body.data.status).toBe('active');
  });

  it('when a non-admin or nobody asks, then 403 or 401', async () => {
    expect((await api(member).post('/organization/delete', { confirm: company })).status).toBe(403);
    expect((await api(member).get('/organization/delete')).status).toBe(403);
    expect((await api(member).del('/organization/delete')).status).toBe(403);
    expect((await request(t.app).post('/api/v1/organization/delete').send({ confirm: company })).status).toBe(401);
    expect((await request(t.app).get('/api/v1/organization/delete')).status).toBe(401);
  });

  it('when the admin confirms, then 202 with the purge date 30 days on, and it is audited', async () => {
    const res = await api(admin).post('/organization/delete', { confirm: company });
    expect(res.status).toBe(202);
    expect(res.body.data).toMatchObject({ status: 'pending_deletion', requestedBy: admin.userId });
    const days = (new Date(res.body.data.purgeAt).getTime() - new Date(res.body.data.requestedAt).getTime()) / 86_400_000;
    expect(days).toBeCloseTo(30, 5);
    expect((await api(admin).get('/organization/delete')).body.data).toEqual(res.body.data);
    expect(await purgeJobs(admin.tenantId)).toHaveLength(1);
    const audit = await api(admin).get('/audit-logs?action=organization.deletion_request');
    expect(audit.body.data).toHaveLength(1);
    // Another tenant is not affected.
    expect((await api(other).get('/organization/delete')).body.data.status).toBe('active');
  });

  it('while pending, then reads, sign-in, export and sign-out work and every other write is 409 TENANT_PENDING_DELETION', async () => {
    const write = await api(admin).post('/leads', { firstName: 'Late' });
    expect(write.status).toBe(409);
    expect(write.body.error.code).toBe('TENANT_PENDING_DELETION');
    expect((await api(member).post('/leads', { firstName: 'Late' })).body.error.code).toBe('TENANT_PENDING_DELETION');
    expect((await api(admin).post('/organization/delete', { confirm: company })).body.error.code).toBe('TENANT_PENDING_DELETION');
    expect((await request(t.app).patch(`/api/v1/users/${member.id}`).set(admin.auth).send({ firstName: 'X' })).status).toBe(409);
    expect((await api(admin).get('/leads')).status).toBe(200);
    expect((await api(admin).get('/audit-logs/verify')).body.data.valid).toBe(true);
    const keyAuth = { 'X-API-Key': managerKey };
    expect((await request(t.app).get('/api/v1/leads').set(keyAuth)).status).toBe(200);
    expect((await request(t.app).post('/api/v1/leads').set(keyAuth).send({ firstName: 'Late' })).body.error.code).toBe('TENANT_PENDING_DELETION');
    expect((await api(admin).post('/privacy/erase', { email: 'someone@example.com' })).status).toBe(200);
    await jobs.owner('data_exports').where({ tenant_id: admin.tenantId }).update({ created_at: jobs.owner.raw("now() - interval '2 hours'") });
    expect((await api(admin).post('/organization/export-data')).status).toBe(202);
    const signIn = await login(t.app, { email: member.email, password: PASSWORD });
    expect(signIn.status).toBe(200);
    const refreshed = await request(t.app).post('/api/v1/auth/refresh').send({ refreshToken: signIn.body.data.tokens.refreshToken });
    expect(refreshed.status).toBe(200);
    expect((await request(t.app).post('/api/v1/auth/logout').set('Authorization', `Bearer ${refreshed.body.data.tokens.accessToken}`)).status).toBe(204);
    // Other tenants write as usual.
    expect((await api(other).post('/leads', { firstName: 'Fine' })).status).toBe(201);
  });

  it('when the deletion is cancelled, then writes work again and the queued purge does nothing when it comes due', async () => {
    const res = await api(admin).del('/organization/delete');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ status: 'active', requestedAt: null, requestedBy: null, purgeAt: null });
    expect((await api(admin).post('/leads', { firstName: 'Back' })).status).toBe(201);
    expect((await api(admin).get('/audit-logs?action=organization.deletion_cancel')).body.data).toHaveLength(1);
    await makePurgeDue(admin.tenantId, { tenantRow: false });
    await jobs.runUntilIdle(admin.tenantId);
    expect(await jobs.owner('tenants').where({ id: admin.tenantId }).first('id')).toEqual({ id: admin.tenantId });
    expect((await api(admin).get('/leads')).status).toBe(200);
  });

  it('when the purge comes due, then every row of the tenant is gone, a tombstone remains, and other tenants are untouched', async () => {
    await api(admin).post('/organization/delete', { confirm: company }).expect(202);
    const before = await rowCounts(jobs.owner, admin.tenantId);
    for (const table of ['users', 'roles', 'leads', 'contacts', 'deals', 'tickets', 'activities', 'tasks', 'audit_logs', 'data_exports', 'data_export_chunks', 'api_keys', 'sessions', 'imports', 'import_items', 'data_subject_keys']) {
      expect([table, before[table]]).toEqual([table, expect.any(Number)]);
      expect(before[table]).toBeGreaterThan(0);
    }
    const otherBefore = await rowCounts(jobs.owner, other.tenantId);

    await makePurgeDue(admin.tenantId);
    await jobs.runUntilIdle(admin.tenantId);

    const after = await rowCounts(jobs.owner, admin.tenantId);
    expect(after).toEqual(Object.fromEntries(Object.keys(before).map((table) => [table, 0])));
    expect(await jobs.owner('tenants').where({ id: admin.tenantId }).first()).toBeUndefined();
    const tombstones = await jobs.owner('platform_audit_logs').where({ tenant_id: admin.tenantId, action: 'tenant.purged' });
    expect(tombstones).toEqual([expect.objectContaining({ actor_type: 'system', target_type: 'tenant', target_id: admin.tenantId, details: null })]);
    expect(await rowCounts(jobs.owner, other.tenantId)).toEqual(otherBefore);
    expect((await api(other).get('/audit-logs/verify')).body.data.valid).toBe(true);

    // The purged organization's credentials are dead.
    expect((await api(admin).get('/leads')).status).toBe(401);
    expect((await login(t.app, { email: admin.email, password: PASSWORD })).status).toBe(401);
  });
});
