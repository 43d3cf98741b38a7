import { Knex } from 'knex';
import request from 'supertest';
import { addMember, bearer, Member, registerTenant, Registered } from './support/api-fixtures';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

/** What a record route reaches beyond its own resource: conversion, timelines, scoped API keys. */
describe('record routes: permissions of what they touch', () => {
  let t: TestApp;
  let owner: Knex;
  let admin: Registered;
  let readOnly: Member;
  let sales: Member;
  const api = () => request(t.app);

  beforeAll(async () => {
    t = buildTestApp();
    owner = ownerKnex();
    admin = await registerTenant(t.app);
    readOnly = await addMember(t.app, admin, 'read_only');
    sales = await addMember(t.app, admin, 'sales_user');
  });
  afterAll(async () => {
    await t.close();
    await owner.destroy();
  });

  const newKey = async (body: Record<string, unknown>) => {
    const res = await api().post('/api/v1/api-keys').set(admin.auth).send(body);
    expect(res.status).toBe(201);
    return bearer(res.body.data.key as string);
  };
  const newLead = async (auth: Record<string, string>, lastName: string) => {
    const res = await api().post('/api/v1/leads').set(auth).send({ lastName, company: `${lastName} Inc`, email: `${lastName.toLowerCase()}@example.com` });
    expect(res.status).toBe(201);
    return res.body.data as { id: string; ownerId: string | null };
  };
  const accountsOf = () => owner('accounts').where({ tenant_id: admin.tenantId }).count<[{ count: string }]>('* as count');

  it('when a key holding only leads:read and leads:write converts a lead, then 403 naming what is missing, and nothing is made or linked', async () => {
    const leadsOnly = await newKey({ name: 'Leads only', role: 'tenant_admin', permissions: ['leads:read', 'leads:write'] });
    const lead = await newLead(admin.auth, 'Convertible');
    const account = await api().post('/api/v1/accounts').set(admin.auth).send({ name: 'Existing Ltd' });
    const before = await accountsOf();

    const made = await api().post(`/api/v1/leads/${lead.id}/convert`).set(leadsOnly).send({ deal: { name: 'Big one', amount: 1000 } });
    expect([made.status, made.body.error.code]).toEqual([403, 'FORBIDDEN']);
    expect(made.body.error.message).toEqual(expect.stringContaining('accounts:write'));
    expect(made.body.error.message).toEqual(expect.stringContaining('deals:write'));
    const linked = await api().post(`/api/v1/leads/${lead.id}/convert`).set(leadsOnly).send({ accountId: account.body.data.id });
    expect([linked.status, linked.body.error.code]).toEqual([403, 'FORBIDDEN']);
    expect(linked.body.error.message).toEqual(expect.stringContaining('accounts:read'));
    expect(JSON.stringify(linked.body)).not.toContain('Existing Ltd');

    expect(await accountsOf()).toEqual(before);
    expect((await api().get(`/api/v1/leads/${lead.id}`).set(admin.auth)).body.data.status).not.toBe('converted');
    // With the permissions of what it makes, the same conversion works.
    expect((await api().post(`/api/v1/leads/${lead.id}/convert`).set(admin.auth).send({ accountId: account.body.data.id })).status).toBe(200);
  });

  it('when a read_only user reads a lead timeline, then it holds no activity subjects and no audit events; an admin sees both', async () => {
    const lead = await newLead(admin.auth, 'Timeline');
    const activity = await api()
      .post('/api/v1/activities')
      .set(admin.auth)
      .send({ type: 'call', subject: 'Discussed the confidential discount', relatedType: 'lead', relatedId: lead.id });
    expect(activity.status).toBe(201);

    const seen = await api().get(`/api/v1/leads/${lead.id}/timeline`).set(readOnly.auth);
    expect(seen.status).toBe(200);
    expect(JSON.stringify(seen.body)).not.toContain('confidential discount');
    expect(seen.body.data).toEqual([]);

    const full = await api().get(`/api/v1/leads/${lead.id}/timeline`).set(admin.auth);
    const kinds = new Set((full.body.data as Array<{ kind: string }>).map((event) => event.kind));
    expect(kinds).toEqual(new Set(['activity', 'audit']));
  });

  it("when a sales_user API key edits records, then it acts in its creator's own/team scope: another user's lead is 403 and unchanged", async () => {
    const salesKey = await newKey({ name: 'Sales sync', role: 'sales_user' });
    const othersLead = await newLead(sales.auth, 'Someone');
    const refused = await api().patch(`/api/v1/leads/${othersLead.id}`).set(salesKey).send({ lastName: 'Taken over' });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'FORBIDDEN']);
    expect((await api().get(`/api/v1/leads/${othersLead.id}`).set(admin.auth)).body.data.lastName).toBe('Someone');

    // What the key makes is its creator's, and so stays within its reach.
    const own = await newLead(salesKey, 'Keyed');
    expect(own.ownerId).toBe(admin.userId);
    expect((await api().patch(`/api/v1/leads/${own.id}`).set(salesKey).send({ lastName: 'Keyed 2' })).status).toBe(200);
    const handedOver = await api().patch(`/api/v1/leads/${own.id}`).set(salesKey).send({ ownerId: sales.id });
    expect([handedOver.status, handedOver.body.error.code]).toEqual([403, 'FORBIDDEN']);
  });
});
