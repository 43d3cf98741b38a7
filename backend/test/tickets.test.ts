import { randomUUID } from 'node:crypto';
import { countRows, createCrmTenant, crmWorld, CrmTenant, errorFields, insertRows, walkList } from './support/crm-fixtures';
import { describeRecordRoutes } from './support/crm-record-routes';

const STATUSES = ['open', 'in_progress', 'waiting_for_customer', 'resolved', 'closed'] as const;
const PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;

describe('tickets', () => {
  const world = crmWorld();
  const api = () => world.api();
  let serial = 0;
  // Rows inserted directly take numbers far above the ones the API hands out.
  let directNumber = 500_000;

  describeRecordRoutes(world, {
    resource: 'tickets',
    singular: 'ticket',
    ownerField: 'assigneeId',
    body: () => {
      serial += 1;
      return { subject: `Printer on fire ${serial}`, description: 'Smoke everywhere', priority: 'urgent', status: 'open' };
    },
    patch: { priority: 'low', description: 'Only a little smoke now', status: 'waiting_for_customer' },
    text: { field: 'subject', max: 300 },
    invalid: [
      ['no subject', { subject: '' }, ['subject']],
      ['an unknown status', { status: 'pending' }, ['status']],
      ['an unknown priority', { priority: 'p1' }, ['priority']],
      ['a number of its own', { number: 7 }, ['number']],
      ['a resolvedAt of its own', { resolvedAt: '2026-01-01T00:00:00Z' }, ['resolvedAt']],
      ['a contactId that is no UUID', { contactId: 'bob' }, ['contactId']],
    ],
    row: () => {
      directNumber += 1;
      return { number: directNumber, subject: `Ticket ${directNumber % 37}`, status: STATUSES[directNumber % 5] };
    },
    sort: { key: 'number', orderBy: (d) => `number ${d}, id ${d}` },
    searchColumn: 'subject',
    relatable: true,
  });

  describe('ticket numbers', () => {
    const create = (tenant: CrmTenant, subject = 'Numbered') => api().post('/api/v1/tickets').set(tenant.users.admin.auth).send({ subject });

    it('when tickets are created one by one, then they are numbered TCK-000001, TCK-000002, ... per tenant', async () => {
      const first = await createCrmTenant(world.t, ['admin']);
      const second = await createCrmTenant(world.t, ['admin']);
      const numbers = [];
      for (const tenant of [first, first, second, first]) numbers.push((await create(tenant)).body.data.number);
      expect(numbers).toEqual(['TCK-000001', 'TCK-000002', 'TCK-000001', 'TCK-000003']);
      const read = await walkList(world, first.users.admin.auth, 'tickets', { sort: 'number' });
      expect(read.ids).toHaveLength(3);
    });

    it('when 20 tickets are created at once, then all succeed with 20 different numbers', async () => {
      const tenant = await createCrmTenant(world.t, ['admin']);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => create(tenant, `Concurrent ${i}`)));
      expect(results.map((res) => res.status)).toEqual(Array(20).fill(201));
      const numbers = results.map((res) => res.body.data.number as string);
      for (const number of numbers) expect(number).toMatch(/^TCK-\d{6}$/);
      expect(new Set(numbers).size).toBe(20);
      expect([...numbers].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `TCK-${String(i + 1).padStart(6, '0')}`));
      expect(await countRows(world.owner, tenant.tenantId, 'tickets')).toBe(20);
    });

    it('when a create fails, then its number is not spent on a stored ticket and the next one still gets a fresh number', async () => {
      const tenant = await createCrmTenant(world.t, ['admin']);
      expect((await create(tenant)).body.data.number).toBe('TCK-000001');
      const failed = await api().post('/api/v1/tickets').set(tenant.users.admin.auth).send({ subject: 'Bad', contactId: randomUUID() });
      expect(failed.status).toBe(400);
      expect((await create(tenant)).body.data.number).toBe('TCK-000002');
    });
  });

  describe('resolution', () => {
    const auth = () => world.a.users.support.auth;
    const patch = (id: string, body: Record<string, unknown>) => api().patch(`/api/v1/tickets/${id}`).set(auth()).send(body);

    it('when a ticket is resolved, then resolvedAt is set and kept on closing; when it is reopened, then both clear', async () => {
      const ticket = (await api().post('/api/v1/tickets').set(auth()).send({ subject: 'Needs fixing' })).body.data;
      expect(ticket).toMatchObject({ status: 'open', priority: 'medium', resolvedAt: null, resolutionSeconds: null });
      const resolved = await patch(ticket.id, { status: 'resolved' });
      expect(resolved.status).toBe(200);
      expect(Math.abs(Date.parse(resolved.body.data.resolvedAt) - Date.now())).toBeLessThan(60_000);
      expect(resolved.body.data.resolutionSeconds).toBeGreaterThanOrEqual(0);
      const closed = await patch(ticket.id, { status: 'closed' });
      expect(closed.body.data.resolvedAt).toBe(resolved.body.data.resolvedAt);
      const reopened = await patch(ticket.id, { status: 'in_progress' });
      expect(reopened.body.data).toMatchObject({ resolvedAt: null, resolutionSeconds: null });
    });

    it('when a ticket opened an hour ago is resolved, then resolutionSeconds is about 3600', async () => {
      const [id] = await insertRows(world.owner, world.a.tenantId, 'tickets', [
        { number: 900_000 + Math.floor(Math.random() * 99_999), subject: 'Old one', assigneeId: world.a.users.support.id, createdAt: new Date(Date.now() - 3_600_000) },
      ]);
      const resolved = await patch(id!, { status: 'resolved' });
      expect(resolved.status).toBe(200);
      expect(resolved.body.data.resolutionSeconds).toBeGreaterThanOrEqual(3600);
      expect(resolved.body.data.resolutionSeconds).toBeLessThan(3660);
      expect((await api().get(`/api/v1/tickets/${id}`).set(auth())).body.data.resolutionSeconds).toBe(resolved.body.data.resolutionSeconds);
    });

    it('when a ticket is created resolved, then resolvedAt is set at once', async () => {
      const res = await api().post('/api/v1/tickets').set(auth()).send({ subject: 'Solved on the phone', status: 'resolved' });
      expect(res.status).toBe(201);
      expect(res.body.data.resolvedAt).toEqual(expect.any(String));
      expect(res.body.data.resolutionSeconds).toBeGreaterThanOrEqual(0);
    });
  });

  describe('ticket references and filters', () => {
    let tenant: CrmTenant;
    let accountId: string;
    let contactId: string;
    let ids: string[];
    beforeAll(async () => {
      tenant = await createCrmTenant(world.t, ['admin', 'support']);
      const { auth } = tenant.users.admin;
      accountId = (await api().post('/api/v1/accounts').set(auth).send({ name: 'Customer' })).body.data.id;
      contactId = (await api().post('/api/v1/contacts').set(auth).send({ lastName: 'Customer', accountId })).body.data.id;
      ids = await insertRows(
        world.owner,
        tenant.tenantId,
        'tickets',
        Array.from({ length: 30 }, (_, i) => ({
          number: 1000 + i,
          subject: `Filtered ${i}`,
          status: STATUSES[i % 5],
          priority: PRIORITIES[i % 4],
          assigneeId: i % 2 ? tenant.users.support.id : tenant.users.admin.id,
          contactId: i % 3 === 0 ? contactId : null,
          accountId: i % 3 === 0 ? accountId : null,
        })),
      );
    });
    const list = (query: Record<string, string | number>) => walkList(world, tenant.users.admin.auth, 'tickets', { limit: 500, ...query });
    const expected = (predicate: (i: number) => boolean) => new Set(ids.filter((_, i) => predicate(i)));

    it('when filtered by status, priority, assignee, contact or account, then exactly the matching tickets come back', async () => {
      expect(new Set((await list({ status: 'waiting_for_customer' })).ids)).toEqual(expected((i) => i % 5 === 2));
      expect(new Set((await list({ priority: 'high', assigneeId: tenant.users.support.id })).ids)).toEqual(expected((i) => i % 4 === 2 && i % 2 === 1));
      expect(new Set((await list({ contactId })).ids)).toEqual(expected((i) => i % 3 === 0));
      expect(new Set((await list({ accountId })).ids)).toEqual(expected((i) => i % 3 === 0));
    });

    it('when sorted by number, then the formatted numbers come back in order', async () => {
      const res = await api().get('/api/v1/tickets').query({ sort: 'number', limit: 3 }).set(tenant.users.admin.auth);
      expect(res.body.data.map((ticket: { number: string }) => ticket.number)).toEqual(['TCK-001000', 'TCK-001001', 'TCK-001002']);
    });

    it("when a ticket names tenant B's contact or account, then 400 names each and nothing is stored", async () => {
      const foreignAccount = (await api().post('/api/v1/accounts').set(world.b.users.admin.auth).send({ name: 'B' })).body.data.id;
      const foreignContact = (await api().post('/api/v1/contacts').set(world.b.users.admin.auth).send({ lastName: 'B' })).body.data.id;
      const before = await countRows(world.owner, tenant.tenantId, 'tickets');
      const res = await api()
        .post('/api/v1/tickets')
        .set(tenant.users.support.auth)
        .send({ subject: 'Foreign', contactId: foreignContact, accountId: foreignAccount });
      expect(res.status).toBe(400);
      expect(errorFields(res)).toEqual(['accountId', 'contactId']);
      expect(await countRows(world.owner, tenant.tenantId, 'tickets')).toBe(before);
    });

    it('when a ticket names a contact and an account of the tenant, then they are linked', async () => {
      const res = await api().post('/api/v1/tickets').set(tenant.users.support.auth).send({ subject: 'Linked', contactId, accountId });
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ contactId, accountId, assigneeId: tenant.users.support.id });
    });

    it('when a filter value is malformed, then 400 names it', async () => {
      for (const [query, field] of [
        [{ status: 'pending' }, 'query.status'],
        [{ priority: 'p1' }, 'query.priority'],
        [{ contactId: 'bob' }, 'query.contactId'],
      ] as const) {
        const res = await api().get('/api/v1/tickets').query(query).set(tenant.users.admin.auth);
        expect({ query, status: res.status, fields: errorFields(res) }).toEqual({ query, status: 400, fields: [field] });
      }
    });
  });
});
