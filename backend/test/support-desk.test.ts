import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import request from 'supertest';
import { addMember, bearer, registerTenant, Registered } from './support/api-fixtures';
import { StaffMember, staffMember } from './support/platform-admin-fixtures';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

/** How many rows a query of the owner's matches. */
const rows = async (query: Knex.QueryBuilder): Promise<number> => Number(((await query.count({ count: '*' })) as Array<{ count: string | number }>)[0]!.count);

describe('support desk: tenants ask, staff answer', () => {
  let t: TestApp;
  let owner: Knex;
  let tenant: Registered;
  let other: Registered;
  let agent: StaffMember;
  let sales: StaffMember;

  beforeAll(async () => {
    t = buildTestApp({ env: { SUPPORT_SLA_HOURS: 'enterprise:4,pro:24,free:72' } });
    owner = ownerKnex();
    tenant = await registerTenant(t.app, { plan: 'pro' });
    other = await registerTenant(t.app, { plan: 'enterprise' });
    agent = await staffMember(t, owner, 'support');
    sales = await staffMember(t, owner, 'sales');
  });
  afterAll(async () => {
    await t.close();
    await owner.destroy();
  });

  const open = (auth: Record<string, string>, body: Record<string, unknown> = {}) =>
    request(t.app).post('/api/v1/support/tickets').set(auth).send({ subject: 'Export is stuck', description: 'Our export has been pending for an hour.', priority: 'high', ...body });
  const staff = (token: string) => ({
    list: (query: Record<string, string | number | boolean> = {}) => request(t.app).get('/api/v1/admin/support/tickets').query(query).set(bearer(token)),
    get: (id: string) => request(t.app).get(`/api/v1/admin/support/tickets/${id}`).set(bearer(token)),
    patch: (id: string, body: object) => request(t.app).patch(`/api/v1/admin/support/tickets/${id}`).set(bearer(token)).send(body),
    reply: (id: string, body: object) => request(t.app).post(`/api/v1/admin/support/tickets/${id}/messages`).set(bearer(token)).send(body),
  });
  const hoursBetween = (from: string, to: string) => (new Date(to).getTime() - new Date(from).getTime()) / 3_600_000;

  it("when a ticket lives its whole life, then SLA, first response, notes, replies, resolution and e-mails are as the requester and staff see them", async () => {
    const created = await open(tenant.auth);
    expect(created.status).toBe(201);
    const ticket = created.body.data;
    expect(ticket).toMatchObject({ number: expect.stringMatching(/^SUP-\d{6,}$/), status: 'open', priority: 'high', requesterId: tenant.userId, firstResponseAt: null });
    expect(hoursBetween(ticket.createdAt, ticket.slaDueAt)).toBeCloseTo(24, 3);
    expect(await rows(owner('notifications').where({ tenant_id: tenant.tenantId, template: 'support_ticket_confirmation', recipient: tenant.email }))).toBe(1);

    const queued = await staff(agent.token).list({ tenantId: tenant.tenantId });
    expect(queued.body.data).toEqual([expect.objectContaining({ id: ticket.id, tenantId: tenant.tenantId, breached: false, assigneeId: null, firstResponseMinutes: null })]);

    expect((await staff(agent.token).patch(ticket.id, { assigneeId: agent.id, priority: 'urgent' })).body.data).toMatchObject({ assigneeId: agent.id, priority: 'urgent' });
    await staff(agent.token).reply(ticket.id, { body: 'Checking the job queue.', internal: true }).expect(201);
    const answered = await staff(agent.token).reply(ticket.id, { body: 'Restarted it; can you check?' });
    expect(answered.status).toBe(201);
    expect(answered.body.data).toMatchObject({ status: 'in_progress', firstResponseAt: expect.any(String), firstResponseMinutes: 0, breached: false });
    expect(answered.body.data.messages.map((m: { internal: boolean }) => m.internal)).toEqual([true, false]);
    expect(await rows(owner('notifications').where({ tenant_id: tenant.tenantId, template: 'support_staff_reply' }))).toBe(1);

    await staff(agent.token).patch(ticket.id, { status: 'waiting_for_customer' }).expect(200);
    const seen = await request(t.app).get(`/api/v1/support/tickets/${ticket.id}`).set(tenant.auth);
    expect(seen.body.data.messages).toEqual([expect.objectContaining({ authorType: 'staff', body: 'Restarted it; can you check?' })]);
    expect(JSON.stringify(seen.body.data)).not.toContain('Checking the job queue');
    expect(seen.body.data.assigneeId).toBeUndefined();

    const answer = await request(t.app).post(`/api/v1/support/tickets/${ticket.id}/messages`).set(tenant.auth).send({ body: 'Works now, thanks.' });
    expect([answer.status, answer.body.data.authorType]).toEqual([201, 'user']);
    expect((await request(t.app).get(`/api/v1/support/tickets/${ticket.id}`).set(tenant.auth)).body.data.status).toBe('in_progress');

    const resolved = await staff(agent.token).patch(ticket.id, { status: 'resolved' });
    expect(resolved.body.data).toMatchObject({ status: 'resolved', resolvedAt: expect.any(String), resolutionMinutes: 0 });
    const closed = await staff(agent.token).patch(ticket.id, { status: 'closed' });
    expect(closed.body.data).toMatchObject({ status: 'closed', closedAt: expect.any(String) });
    const late = await request(t.app).post(`/api/v1/support/tickets/${ticket.id}/messages`).set(tenant.auth).send({ body: 'One more thing' });
    expect([late.status, late.body.error.code]).toEqual([409, 'CONFLICT']);

    const audit = await owner('audit_logs').where({ tenant_id: tenant.tenantId, resource_id: ticket.id }).orderBy('occurred_at').pluck('action');
    expect(audit).toEqual(expect.arrayContaining(['support_ticket.create', 'support_ticket.update', 'support_ticket.reply']));
    expect(await owner('platform_audit_logs').where({ target_id: ticket.id, action: 'support_ticket.note' }).pluck('actor_id')).toEqual([agent.id]);
  });

  it('when a ticket is past its SLA unanswered, then it is listed as breached, and its late first answer counts in support_sla_breaches_total', async () => {
    const { id } = (await open(other.auth, { priority: 'normal' })).body.data;
    const opened = (await request(t.app).get(`/api/v1/support/tickets/${id}`).set(other.auth)).body.data;
    expect(hoursBetween(opened.createdAt, opened.slaDueAt)).toBeCloseTo(4, 3);
    await owner('support_tickets').where({ id }).update({ sla_due_at: owner.raw("now() - interval '1 hour'") });

    const breached = await staff(agent.token).list({ breached: true, tenantId: other.tenantId });
    expect(breached.body.data.map((row: { id: string }) => row.id)).toEqual([id]);
    expect((await staff(agent.token).list({ breached: false, tenantId: other.tenantId })).body.data).toEqual([]);

    await staff(agent.token).reply(id, { body: 'Sorry for the wait.' }).expect(201);
    const metrics = await request(t.app).get('/metrics');
    expect(metrics.text).toMatch(/support_sla_breaches_total\{plan="enterprise"\} 1/);
    expect((await staff(agent.token).get(id)).body.data.breached).toBe(true);
  });

  it('when every tenant role asks for help, then it may; an API key may not', async () => {
    for (const role of ['manager', 'sales_user', 'support_user', 'read_only']) {
      const member = await addMember(t.app, tenant, role);
      expect([role, (await open(member.auth)).status]).toEqual([role, 201]);
    }
    const key = await request(t.app).post('/api/v1/api-keys').set(tenant.auth).send({ name: 'Probe', role: 'tenant_admin' });
    expect((await open({ 'X-API-Key': key.body.data.key as string })).status).toBe(403);
  });

  it("when another tenant asks for a ticket, then 404 for reading and replying, and the list never shows it", async () => {
    const { id } = (await open(tenant.auth)).body.data;
    expect((await request(t.app).get(`/api/v1/support/tickets/${id}`).set(other.auth)).status).toBe(404);
    expect((await request(t.app).post(`/api/v1/support/tickets/${id}/messages`).set(other.auth).send({ body: 'hi' })).status).toBe(404);
    const listed = await request(t.app).get('/api/v1/support/tickets').set(other.auth);
    expect(listed.body.data.map((row: { id: string }) => row.id)).not.toContain(id);
    expect(await rows(owner('support_ticket_messages').where({ ticket_id: id }))).toBe(0);
  });

  it.each([
    ['no subject', { subject: undefined }, 'subject'],
    ['an oversized description', { description: 'x'.repeat(10_001) }, 'description'],
    ['an unknown priority', { priority: 'asap' }, 'priority'],
    ['a status', { status: 'closed' }, 'status'],
    ['a tenantId', { tenantId: randomUUID() }, 'tenantId'],
  ])('when a ticket is opened with %s, then 400 names the field and nothing is stored', async (_case, body, field) => {
    const before = await rows(owner('support_tickets').where({ tenant_id: tenant.tenantId }));
    const res = await open(tenant.auth, body);
    expect([res.status, res.body.error.code]).toEqual([400, 'VALIDATION_ERROR']);
    expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    expect(await rows(owner('support_tickets').where({ tenant_id: tenant.tenantId }))).toEqual(before);
  });

  it('when staff without the permission, a tenant user, or nobody calls the staff side, then 403 / 403 / 401', async () => {
    const { id } = (await open(tenant.auth)).body.data;
    expect((await staff(sales.token).list()).status).toBe(403);
    expect((await staff(sales.token).reply(id, { body: 'x' })).status).toBe(403);
    expect((await staff(tenant.accessToken).list()).status).toBe(403);
    expect((await request(t.app).get('/api/v1/admin/support/tickets')).status).toBe(401);
  });

  it('when staff sends a bad change, then 400 / 404, and the ticket is unchanged', async () => {
    const { id } = (await open(tenant.auth)).body.data;
    expect((await staff(agent.token).patch(id, {})).status).toBe(400);
    expect((await staff(agent.token).patch(id, { status: 'lost' })).status).toBe(400);
    expect((await staff(agent.token).patch(id, { assigneeId: sales.id })).body.error.details[0].field).toBe('assigneeId');
    expect((await staff(agent.token).patch(randomUUID(), { status: 'resolved' })).status).toBe(404);
    expect((await staff(agent.token).reply(id, { body: '' })).status).toBe(400);
    expect((await staff(agent.token).list({ breached: 'maybe' })).status).toBe(400);
    expect((await request(t.app).get(`/api/v1/support/tickets/${id}`).set(tenant.auth)).body.data).toMatchObject({ status: 'open', priority: 'high' });
  });
});
