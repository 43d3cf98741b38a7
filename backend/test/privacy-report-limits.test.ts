import request from 'supertest';
import { registerTenant, Registered } from './support/api-fixtures';
import { buildTestApp, testConfig, TestApp } from './support/test-app';

describe('subject-access reports are capped per section', () => {
  const LIMIT = 10;
  let t: TestApp;
  let admin: Registered;
  const email = 'grace.hopper@example.com';
  const report = () => request(t.app).get(`/api/v1/privacy/subject?email=${encodeURIComponent(email)}`).set(admin.auth);

  beforeAll(async () => {
    t = buildTestApp({ env: { SUBJECT_REPORT_MAX_ROWS: String(LIMIT) } });
    admin = await registerTenant(t.app);
    const contact = await request(t.app).post('/api/v1/contacts').set(admin.auth).send({ firstName: 'Grace', lastName: 'Hopper', email });
    expect(contact.status).toBe(201);
    const contactId = contact.body.data.id as string;
    // Two more rows than a section holds: each names the person (a mention) and is about her contact (linked).
    const activities = Array.from({ length: LIMIT + 2 }, (_, i) => ({ type: 'note', subject: `Note ${String(i).padStart(2, '0')}`, body: `Spoke to ${email}`, relatedType: 'contact', relatedId: contactId }));
    for (const activity of activities) expect((await request(t.app).post('/api/v1/activities').set(admin.auth).send(activity)).status).toBe(201);
    expect((await request(t.app).post('/api/v1/deals').set(admin.auth).send({ name: 'Compilers', contactId })).status).toBe(201);
    // Audit entries about her contact: its creation and these updates.
    for (let i = 0; i < LIMIT; i += 1) expect((await request(t.app).patch(`/api/v1/contacts/${contactId}`).set(admin.auth).send({ title: `Rear Admiral ${i}` })).status).toBe(200);
  });
  afterAll(() => t.close());

  it('when a section holds more rows than SUBJECT_REPORT_MAX_ROWS, then the report keeps the oldest that many and names the section; shorter sections are whole', async () => {
    const res = await report();
    expect(res.status).toBe(200);
    const data = res.body.data;
    expect(data.limits.rowsPerSection).toBe(LIMIT);
    expect([...data.limits.truncated].sort()).toEqual(['auditEntries', 'linked.activities', 'mentions.activities']);
    expect(data.mentions.activities.map((row: { subject: string }) => row.subject)).toEqual(Array.from({ length: LIMIT }, (_, i) => `Note ${String(i).padStart(2, '0')}`));
    expect(data.linked.activities).toHaveLength(LIMIT);
    expect(data.auditEntries).toHaveLength(LIMIT);
    expect(data.linked.deals).toHaveLength(1);
    expect(data.records.contacts).toHaveLength(1);
  });

  it('when the person is erased, then every row is scrubbed, not only those a report shows', async () => {
    const erased = await request(t.app).post('/api/v1/privacy/erase').set(admin.auth).send({ email });
    expect(erased.status).toBe(200);
    expect(erased.body.data.scrubbed.activities).toBe(LIMIT + 2);
  });

  it('when SUBJECT_REPORT_MAX_ROWS is below 10, then the configuration is refused', () => {
    expect(() => testConfig({ SUBJECT_REPORT_MAX_ROWS: '5' })).toThrow(/SUBJECT_REPORT_MAX_ROWS/);
  });
});
