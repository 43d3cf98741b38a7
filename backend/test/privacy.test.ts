import request from 'supertest';
import { sealTenantAudit } from '../src/modules/audit/audit-sealer';
import { addMember, login, Member, PASSWORD, registerTenant, Registered } from './support/api-fixtures';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

describe('privacy: subject access and erasure', () => {
  let t: TestApp;
  const owner = ownerKnex();
  let admin: Registered;
  let other: Registered;
  let sales: Member;
  const email = 'ada.lovelace@example.com';
  const ids: Record<string, string> = {};

  const api = (caller: { auth: Record<string, string> }) => ({
    get: (path: string) => request(t.app).get(`/api/v1${path}`).set(caller.auth),
    post: (path: string, body?: object) => request(t.app).post(`/api/v1${path}`).set(caller.auth).send(body),
    patch: (path: string, body?: object) => request(t.app).patch(`/api/v1${path}`).set(caller.auth).send(body),
  });
  const created = async (caller: Registered, path: string, body: object): Promise<string> => {
    const res = await api(caller).post(path, body);
    expect(res.status).toBe(201);
    return res.body.data.id;
  };

  beforeAll(async () => {
    t = buildTestApp();
    admin = await registerTenant(t.app);
    other = await registerTenant(t.app);
    sales = await addMember(t.app, admin, 'sales_user');
    ids.lead = await created(admin, '/leads', { firstName: 'Ada', lastName: 'Lovelace', email, phone: '+44 20 7946 0000', notes: 'Met at the engine show' });
    await api(admin).patch(`/leads/${ids.lead}`, { phone: '+44 20 7946 0001' }).expect(200);
    ids.contact = await created(admin, '/contacts', { firstName: 'Ada', lastName: 'Lovelace', email: 'Ada.Lovelace@example.com' });
    ids.activity = await created(admin, '/activities', {
      type: 'email',
      subject: 'Follow-up',
      body: `Wrote to ${email}; Ada Lovelace will call back`,
      relatedType: 'contact',
      relatedId: ids.contact,
    });
    ids.ticket = await created(admin, '/tickets', { subject: 'Invoice question', description: 'Asked by ADA LOVELACE', contactId: ids.contact });
    ids.deal = await created(admin, '/deals', { name: 'Engines', contactId: ids.contact });
    ids.unrelated = await created(admin, '/activities', { type: 'note', subject: 'Ada from accounting', body: 'Nothing about her' });
    ids.otherLead = await created(other, '/leads', { firstName: 'Ada', lastName: 'Lovelace', email });
  });
  afterAll(async () => {
    await owner.destroy();
    await t.close();
  });

  describe('GET /privacy/subject', () => {
    it('when an admin asks about an email, then every record about the person comes back with the Art. 15 information', async () => {
      const res = await api(admin).get(`/privacy/subject?email=${encodeURIComponent(' ADA.Lovelace@Example.com ')}`);
      expect(res.status).toBe(200);
      const report = res.body.data;
      expect(report.subject).toEqual({ email });
      expect(report.records.leads.map((row: { id: string }) => row.id)).toEqual([ids.lead]);
      expect(report.records.leads[0]).toMatchObject({ firstName: 'Ada', phone: '+44 20 7946 0001' });
      expect(report.records.leads[0]).not.toHaveProperty('search');
      expect(report.records.contacts.map((row: { id: string }) => row.id)).toEqual([ids.contact]);
      expect(report.records.users).toEqual([]);
      expect(report.mentions.activities.map((row: { id: string }) => row.id)).toEqual([ids.activity]);
      expect(report.mentions.tickets.map((row: { id: string }) => row.id)).toEqual([ids.ticket]);
      expect(report.linked.deals.map((row: { id: string }) => row.id)).toEqual([ids.deal]);
      expect(report.linked.activities.map((row: { id: string }) => row.id)).toEqual([ids.activity]);
      const leadEntries = report.auditEntries.filter((entry: { resourceId: string }) => entry.resourceId === ids.lead);
      expect(leadEntries.map((entry: { action: string }) => entry.action)).toEqual(['lead.create', 'lead.update']);
      expect(leadEntries[0].changes.email).toEqual({ before: null, after: email });
      expect(report.processing).toMatchObject({
        purposes: expect.arrayContaining([expect.any(String)]),
        categories: expect.arrayContaining([expect.stringMatching(/contact details/)]),
        recipients: expect.arrayContaining([expect.any(String)]),
        retention: expect.objectContaining({ auditTrail: expect.stringMatching(/^365 days/) }),
      });
      // Nothing of the other tenant, which has a lead with the same email.
      expect(JSON.stringify(report)).not.toContain(ids.otherLead);
      expect(JSON.stringify(report)).not.toContain(ids.unrelated);
    });

    it('when the email belongs to a user, then the user row (no password hash) and their sessions are included', async () => {
      const res = await api(admin).get(`/privacy/subject?email=${encodeURIComponent(sales.email)}`);
      expect(res.status).toBe(200);
      expect(res.body.data.records.users).toEqual([expect.objectContaining({ id: sales.id, email: sales.email })]);
      expect(Object.keys(res.body.data.records.users[0]).filter((field) => /hash|secret|token/i.test(field))).toEqual([]);
      expect(res.body.data.records.sessions.length).toBeGreaterThan(0);
      expect(res.body.data.processing.categories).toEqual(expect.arrayContaining([expect.stringMatching(/sign-in/)]));
    });

    it('when the request is malformed, unauthenticated or not allowed, then 400, 401, 403', async () => {
      expect((await api(admin).get('/privacy/subject')).status).toBe(400);
      expect((await api(admin).get('/privacy/subject?email=not-an-email')).status).toBe(400);
      expect((await api(admin).get(`/privacy/subject?email=${email}&extra=1`)).status).toBe(400);
      expect((await request(t.app).get(`/api/v1/privacy/subject?email=${email}`)).status).toBe(401);
      expect((await api(sales).get(`/privacy/subject?email=${email}`)).status).toBe(403);
      expect((await api(sales).post('/privacy/erase', { email })).status).toBe(403);
      expect((await request(t.app).post('/api/v1/privacy/erase').send({ email })).status).toBe(401);
      expect((await api(admin).post('/privacy/erase', {})).status).toBe(400);
      expect((await api(admin).post('/privacy/erase', { email, also: 'x' })).status).toBe(400);
    });
  });

  describe('POST /privacy/erase', () => {
    let hashesBefore: string[];
    let result: Record<string, unknown>;

    it('when an admin erases the person, then they are anonymised and scrubbed in every table', async () => {
      await sealTenantAudit(owner, admin.tenantId);
      hashesBefore = await owner('audit_logs').where({ tenant_id: admin.tenantId }).orderBy('seq').pluck('hash');
      const res = await api(admin).post('/privacy/erase', { email: 'ADA.LOVELACE@example.com' });
      expect(res.status).toBe(200);
      result = res.body.data;
      expect(result).toMatchObject({
        subjectRef: expect.stringMatching(/^[0-9a-f]{16}$/),
        leads: 1,
        contacts: 1,
        users: 0,
        scrubbed: { leads: 0, activities: 1, tickets: 1, tasks: 0, deals: 0 },
      });
      expect(result.auditKeysDestroyed).toBeGreaterThanOrEqual(2);

      const pseudonym = `erased-${result.subjectRef}@erased.invalid`;
      const lead = (await api(admin).get(`/leads/${ids.lead}`)).body.data;
      expect(lead).toMatchObject({ firstName: 'Erased', lastName: `erased-${result.subjectRef}`, email: pseudonym, phone: null, notes: null });
      expect((await api(admin).get(`/contacts/${ids.contact}`)).body.data).toMatchObject({ firstName: 'Erased', email: pseudonym });
      expect((await api(admin).get(`/activities/${ids.activity}`)).body.data.body).toBe('Wrote to [erased]; [erased] will call back');
      expect((await api(admin).get(`/tickets/${ids.ticket}`)).body.data.description).toBe('Asked by [erased]');
      expect((await api(admin).get(`/activities/${ids.unrelated}`)).body.data.subject).toBe('Ada from accounting');
      // Search finds the person no more.
      expect((await api(admin).get('/leads?q=lovelace')).body.data).toEqual([]);
      // The other tenant keeps its own record of a person with the same email.
      expect((await api(other).get(`/leads/${ids.otherLead}`)).body.data).toMatchObject({ firstName: 'Ada', email });
    });

    it('then the audit trail shows [erased] for the person, no row changed and the chain still verifies', async () => {
      const entries = await api(admin).get(`/audit-logs?resourceId=${ids.lead}`);
      const create = entries.body.data.find((entry: { action: string }) => entry.action === 'lead.create');
      expect(create.changes).toMatchObject({ email: { before: null, after: '[erased]' }, firstName: { before: null, after: '[erased]' } });
      const all = await api(admin).get('/audit-logs?limit=500');
      const text = JSON.stringify(all.body.data);
      for (const personal of ['ada.lovelace', 'Lovelace', '7946']) expect(text.toLowerCase()).not.toContain(personal.toLowerCase());
      const erasure = all.body.data.find((entry: { action: string }) => entry.action === 'privacy.erase');
      expect(erasure).toMatchObject({ resourceType: 'data_subject', resourceId: null, actor: { type: 'user', id: admin.userId } });
      expect(erasure.changes.subjectRef.after).toBe(result.subjectRef);
      await sealTenantAudit(owner, admin.tenantId);
      const hashesAfter = await owner('audit_logs').where({ tenant_id: admin.tenantId }).orderBy('seq').pluck('hash');
      expect(hashesAfter.slice(0, hashesBefore.length)).toEqual(hashesBefore);
      expect((await api(admin).get('/audit-logs/verify')).body.data.valid).toBe(true);
      // The other tenant's trail still reads the person.
      const otherEntries = await api(other).get(`/audit-logs?resourceId=${ids.otherLead}`);
      expect(otherEntries.body.data[0].changes.email.after).toBe(email);
    });

    it('when the same email is erased again, then 200 with nothing left to erase', async () => {
      const res = await api(admin).post('/privacy/erase', { email });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({
        subjectRef: result.subjectRef,
        leads: 0,
        contacts: 0,
        users: 0,
        scrubbed: { leads: 0, activities: 0, tickets: 0, tasks: 0, deals: 0 },
        auditKeysDestroyed: 0,
      });
      const report = (await api(admin).get(`/privacy/subject?email=${email}`)).body.data;
      expect(report.records).toEqual({ leads: [], contacts: [], users: [], sessions: [] });
    });

    it('when the email is a user’s, then the user is anonymised, disabled and signed out', async () => {
      const res = await api(admin).post('/privacy/erase', { email: sales.email });
      expect(res.status).toBe(200);
      expect(res.body.data.users).toBe(1);
      expect((await api(sales).get('/leads')).status).toBe(401);
      expect((await login(t.app, { email: sales.email, password: PASSWORD })).status).toBe(401);
      const row = await owner('users').where({ tenant_id: admin.tenantId, id: sales.id }).first();
      expect(row).toMatchObject({ first_name: 'Erased', status: 'disabled', password_hash: null });
      expect(row.email).toMatch(/^erased-[0-9a-f]{16}@erased\.invalid$/);
      expect(row.deleted_at).not.toBeNull();
    });

    it('when the email is the caller’s or the last active tenant admin’s, then 409 and nothing changes', async () => {
      const self = await api(admin).post('/privacy/erase', { email: admin.email });
      expect(self.status).toBe(409);
      expect(self.body.error.code).toBe('CONFLICT');
      const key = await api(admin).post('/api-keys', { name: 'privacy', role: 'tenant_admin' });
      expect(key.status).toBe(201);
      const lastAdmin = await request(t.app).post('/api/v1/privacy/erase').set('X-API-Key', key.body.data.key).send({ email: admin.email });
      expect(lastAdmin.status).toBe(409);
      expect(lastAdmin.body.error.details).toEqual([{ field: 'email', message: 'is the last active tenant admin' }]);
      expect((await api(admin).get('/auth/me')).status).toBe(200);
    });
  });
});
