import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { registerTenant } from './support/api-fixtures';
import { countRows, createCrmTenant, crmWorld, CrmTenant, errorFields, expectApiRecord, insertRows, orderedIds, storedRow, walkList } from './support/crm-fixtures';
import { describeRecordRoutes } from './support/crm-record-routes';

const STATUSES = ['new', 'contacted', 'qualified', 'unqualified', 'lost'] as const;

describe('leads', () => {
  const world = crmWorld();
  const api = () => world.api();
  let serial = 0;
  const leadBody = () => {
    serial += 1;
    return {
      firstName: 'Lena',
      lastName: `Lead${serial}`,
      email: `lena.${serial}.${randomUUID().slice(0, 6)}@example.com`,
      phone: '+1 (555) 010-0100',
      company: 'Acme Rockets',
      title: 'CTO',
      source: 'webinar',
      status: 'contacted',
      score: 40,
      notes: 'Met at the fair; budget < 10k',
      attributes: { tier: 'gold', seats: 12, trial: true },
    };
  };

  describeRecordRoutes(world, {
    resource: 'leads',
    singular: 'lead',
    ownerField: 'ownerId',
    body: leadBody,
    patch: { status: 'qualified', score: 75, company: 'Acme Rockets International' },
    text: { field: 'company', max: 200 },
    invalid: [
      ['an unknown status', { status: 'hot' }, ['status']],
      ['the converted status, which only conversion sets', { status: 'converted' }, ['status']],
      ['a score above 100', { score: 101 }, ['score']],
      ['a bad email', { email: 'not-an-email' }, ['email']],
      ['a phone with letters', { phone: 'call me maybe' }, ['phone']],
      ['a firstName over 100 characters', { firstName: 'x'.repeat(101) }, ['firstName']],
      ['nested attributes', { attributes: { nested: { deep: 1 } } }, ['attributes.nested']],
      ['attributes over 16 KB', { attributes: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`key${i}`, 'x'.repeat(1000)])) }, ['attributes']],
    ],
    row: (i) => ({
      firstName: i % 7 === 0 ? null : `First${i % 5}`,
      lastName: i % 11 === 0 ? null : `Last${String(i % 17).padStart(2, '0')}`,
      company: `Company ${i}`,
      status: STATUSES[i % STATUSES.length],
      score: i % 101,
    }),
    sort: { key: 'name', orderBy: (d) => `coalesce(last_name, '') ${d}, coalesce(first_name, '') ${d}, id ${d}` },
    searchColumn: 'company',
    relatable: true,
  });

  describe('lead filters', () => {
    let tenant: CrmTenant;
    let ids: string[];
    beforeAll(async () => {
      tenant = await createCrmTenant(world.t, ['admin', 'sales']);
      ids = await insertRows(
        world.owner,
        tenant.tenantId,
        'leads',
        Array.from({ length: 60 }, (_, i) => ({
          firstName: 'Filter',
          lastName: `Lead${i}`,
          email: `filter${i}@example.com`,
          status: STATUSES[i % STATUSES.length],
          score: i,
          source: i % 3 === 0 ? 'referral' : 'web',
          ownerId: i % 4 === 0 ? tenant.users.sales.id : tenant.users.admin.id,
        })),
      );
    });
    const list = (query: Record<string, string | number>) => walkList(world, tenant.users.admin.auth, 'leads', { limit: 500, ...query });
    const expected = (predicate: (i: number) => boolean) => new Set(ids.filter((_, i) => predicate(i)));

    it('when filtered by status, source, owner or email, then exactly the matching leads come back', async () => {
      expect(new Set((await list({ status: 'qualified' })).ids)).toEqual(expected((i) => i % 5 === 2));
      expect(new Set((await list({ source: 'referral' })).ids)).toEqual(expected((i) => i % 3 === 0));
      expect(new Set((await list({ ownerId: tenant.users.sales.id })).ids)).toEqual(expected((i) => i % 4 === 0));
      expect((await list({ email: 'filter17@example.com' })).ids).toEqual([ids[17]]);
      expect(new Set((await list({ status: 'lost', source: 'referral' })).ids)).toEqual(expected((i) => i % 5 === 4 && i % 3 === 0));
    });

    it('when filtered by a score range, then the bounds are included', async () => {
      const range = await list({ scoreMin: 10, scoreMax: 19 });
      expect(new Set(range.ids)).toEqual(expected((i) => i >= 10 && i <= 19));
      expect(range.ids).toHaveLength(10);
      expect((await list({ scoreMin: 59 })).ids).toEqual([ids[59]]);
    });

    it('when a filter value is malformed, then 400 names it', async () => {
      for (const [query, field] of [
        [{ status: 'warm' }, 'query.status'],
        [{ scoreMin: -1 }, 'query.scoreMin'],
        [{ scoreMax: 'high' }, 'query.scoreMax'],
        [{ ownerId: 'me' }, 'query.ownerId'],
        [{ email: 'nope' }, 'query.email'],
      ] as const) {
        const res = await api().get('/api/v1/leads').query(query).set(tenant.users.admin.auth);
        expect({ query, status: res.status, fields: errorFields(res) }).toEqual({ query, status: 400, fields: [field] });
      }
    });

    it('when an email is given in capitals, then it is stored lowercase and found by the email filter and q', async () => {
      const res = await api().post('/api/v1/leads').set(tenant.users.admin.auth).send({ email: 'Mixed.Case@Example.COM', company: 'Wombat Works' });
      expect(res.status).toBe(201);
      expect(res.body.data.email).toBe('mixed.case@example.com');
      expect((await list({ email: 'mixed.case@example.com' })).ids).toEqual([res.body.data.id]);
      expect((await list({ q: 'wombat' })).ids).toEqual([res.body.data.id]);
    });
  });

  describe('POST /leads/:id/convert', () => {
    const convert = (id: string, body: Record<string, unknown>, auth = world.a.users.admin.auth) =>
      api().post(`/api/v1/leads/${id}/convert`).set(auth).send(body);
    const newLead = async (body: Record<string, unknown> = {}, auth = world.a.users.admin.auth) => {
      const res = await api().post('/api/v1/leads').set(auth).send({ ...leadBody(), ...body });
      expect(res.status).toBe(201);
      return res.body.data as Record<string, unknown> & { id: string };
    };
    const counts = async () => ({
      accounts: await countRows(world.owner, world.a.tenantId, 'accounts'),
      contacts: await countRows(world.owner, world.a.tenantId, 'contacts'),
      deals: await countRows(world.owner, world.a.tenantId, 'deals'),
    });

    it('when a lead is converted with a deal, then an account, a contact and a deal are made from it and the lead is marked converted', async () => {
      const lead = await newLead({ company: 'Globex Corporation', ownerId: world.a.users.sales.id });
      const res = await convert(lead.id, { deal: { name: 'Globex rollout', amount: 50_000, stage: 'proposal' } });
      expect(res.status).toBe(200);
      const { lead: converted, account, contact, deal } = res.body.data;
      for (const record of [converted, account, contact, deal]) expectApiRecord(record);
      expect(account).toMatchObject({ name: 'Globex Corporation', ownerId: world.a.users.sales.id });
      expect(contact).toMatchObject({
        firstName: lead.firstName, lastName: lead.lastName, email: lead.email, phone: lead.phone, title: lead.title, accountId: account.id, ownerId: world.a.users.sales.id,
      });
      expect(deal).toMatchObject({ name: 'Globex rollout', amount: 50_000, stage: 'proposal', probability: 50, accountId: account.id, contactId: contact.id });
      expect(converted).toMatchObject({
        id: lead.id, status: 'converted', convertedAccountId: account.id, convertedContactId: contact.id, convertedDealId: deal.id, convertedAt: expect.any(String),
      });
      for (const [path, record] of [['leads', converted], ['accounts', account], ['contacts', contact], ['deals', deal]] as const) {
        const read = await api().get(`/api/v1/${path}/${record.id}`).set(world.a.users.admin.auth);
        expect(read.body.data).toEqual(record);
      }
    });

    it('when a converted lead is converted again, then 409 and nothing more is created', async () => {
      const lead = await newLead();
      expect((await convert(lead.id, { deal: { name: 'First' } })).status).toBe(200);
      const before = await counts();
      const again = await convert(lead.id, { deal: { name: 'Second' } });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('CONFLICT');
      expect(await counts()).toEqual(before);
    });

    it('when a converted lead is moved back to another status, then converting it again is still 409', async () => {
      const lead = await newLead();
      expect((await convert(lead.id, {})).status).toBe(200);
      const reopened = await api().patch(`/api/v1/leads/${lead.id}`).set(world.a.users.admin.auth).send({ status: 'qualified' });
      expect(reopened.status).toBe(200);
      const before = await counts();
      const again = await convert(lead.id, {});
      expect(again.status).toBe(409);
      expect(await counts()).toEqual(before);
    });

    it('when converted onto an existing account and contact, then they are linked and no new ones are made', async () => {
      const account = (await api().post('/api/v1/accounts').set(world.a.users.admin.auth).send({ name: 'Initech' })).body.data;
      const contact = (await api().post('/api/v1/contacts').set(world.a.users.admin.auth).send({ lastName: 'Lumbergh', accountId: account.id })).body.data;
      const lead = await newLead();
      const before = await counts();
      const res = await convert(lead.id, { accountId: account.id, contactId: contact.id });
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ account: { id: account.id }, contact: { id: contact.id }, deal: null, lead: { convertedAccountId: account.id, convertedDealId: null } });
      expect(await counts()).toEqual(before);
    });

    it('when the account to create is described, then it is made with those fields', async () => {
      const lead = await newLead();
      const res = await convert(lead.id, { account: { name: 'Umbrella', industry: 'Pharma', status: 'active' } });
      expect(res.status).toBe(200);
      expect(res.body.data.account).toMatchObject({ name: 'Umbrella', industry: 'Pharma', status: 'active' });
    });

    it('when the convert fails half-way (the deal names a foreign owner), then 400 and no account, contact or deal remains', async () => {
      const lead = await newLead();
      const before = await counts();
      const res = await convert(lead.id, { deal: { name: 'Doomed', ownerId: world.b.users.admin.id } });
      expect(res.status).toBe(400);
      expect(errorFields(res)).toEqual(['ownerId']);
      expect(await counts()).toEqual(before);
      expect(await storedRow(world.owner, world.a.tenantId, 'leads', lead.id)).toMatchObject({ status: 'contacted', convertedAt: null, convertedAccountId: null });
    });

    it.each([
      ['an unknown field', { opportunity: true }, ['opportunity']],
      // A stage is judged against the deal's pipeline by the service, as the owner above: the field is the deal's own.
      ['a deal with a bad stage', { deal: { name: 'X', stage: 'won' } }, ['stage']],
      ['a deal without a name', { deal: { amount: 5 } }, ['deal.name']],
      ['a deal naming its own account', { deal: { name: 'X', accountId: randomUUID() } }, ['deal.accountId']],
      ['both account and accountId', { account: { name: 'A' }, accountId: randomUUID() }, ['']],
      ['markup in the account', { account: { name: '<b>Bold</b>' } }, ['account.name']],
      ['an accountId that is no UUID', { accountId: '42' }, ['accountId']],
    ])('when the convert body has %s, then 400, nothing is created and the lead stays open', async (_label, body, fields) => {
      const lead = await newLead();
      const before = await counts();
      const res = await convert(lead.id, body);
      expect(res.status).toBe(400);
      expect(errorFields(res)).toEqual(fields);
      expect(await counts()).toEqual(before);
      expect((await storedRow(world.owner, world.a.tenantId, 'leads', lead.id))?.status).toBe('contacted');
    });

    it("when the accountId or contactId is tenant B's or unknown, then 400 names it and nothing is created", async () => {
      const foreignAccount = (await api().post('/api/v1/accounts').set(world.b.users.admin.auth).send({ name: 'Foreign' })).body.data;
      const foreignContact = (await api().post('/api/v1/contacts').set(world.b.users.admin.auth).send({ lastName: 'Foreign' })).body.data;
      for (const [body, field] of [
        [{ accountId: foreignAccount.id }, 'accountId'],
        [{ accountId: randomUUID() }, 'accountId'],
        [{ contactId: foreignContact.id }, 'contactId'],
      ] as const) {
        const lead = await newLead();
        const before = await counts();
        const res = await convert(lead.id, body);
        expect({ body, status: res.status, fields: errorFields(res) }).toEqual({ body, status: 400, fields: [field] });
        expect(await counts()).toEqual(before);
      }
    });

    it("when tenant A converts tenant B's lead or an unknown one, then 404 and B's lead stays open", async () => {
      const foreign = (await api().post('/api/v1/leads').set(world.b.users.admin.auth).send({ company: 'Foreign' })).body.data;
      expect((await convert(foreign.id, {})).status).toBe(404);
      expect((await convert(randomUUID(), {})).status).toBe(404);
      expect((await storedRow(world.owner, world.b.tenantId, 'leads', foreign.id))?.status).toBe('new');
    });

    it('when the caller has no token, or may not write leads, then 401 or 403 and the lead stays open', async () => {
      const lead = await newLead();
      expect((await api().post(`/api/v1/leads/${lead.id}/convert`).send({})).status).toBe(401);
      for (const persona of ['readOnly', 'support', 'reader'] as const) {
        const res = await convert(lead.id, {}, world.a.users[persona].auth);
        expect({ persona, status: res.status }).toEqual({ persona, status: 403 });
      }
      expect((await storedRow(world.owner, world.a.tenantId, 'leads', lead.id))?.status).toBe('contacted');
    });

    it("when a sales user converts a lead owned outside their team, then 403 and nothing changes, even onto existing records", async () => {
      const { sales, outsider, teammate } = world.a.users;
      const account = (await api().post('/api/v1/accounts').set(sales.auth).send({ name: 'Shared Account' })).body.data;
      const contact = (await api().post('/api/v1/contacts').set(sales.auth).send({ lastName: 'Shared' })).body.data;
      const lead = await newLead({ ownerId: outsider.id });
      const before = await counts();
      const res = await convert(lead.id, { accountId: account.id, contactId: contact.id }, sales.auth);
      expect(res.status).toBe(403);
      expect(await counts()).toEqual(before);
      expect((await storedRow(world.owner, world.a.tenantId, 'leads', lead.id))?.status).toBe('contacted');

      const teammates = await newLead({ ownerId: teammate.id });
      expect((await convert(teammates.id, {}, sales.auth)).status).toBe(200);
    });
  });

  describe('plan quota', () => {
    it('when a free tenant holds 1000 leads, then the next POST /leads is 402 PLAN_FEATURE_UNAVAILABLE and nothing is stored', async () => {
      const free = await registerTenant(world.t.app, { plan: 'free' });
      const rows = Array.from({ length: 999 }, (_, i) => ({ lastName: `Quota${i}` }));
      await insertRows(world.owner, free.tenantId, 'leads', rows);
      const last = await request(world.t.app).post('/api/v1/leads').set(free.auth).send({ lastName: 'Thousandth' });
      expect(last.status).toBe(201);

      const over = await request(world.t.app).post('/api/v1/leads').set(free.auth).send({ lastName: 'One too many' });
      expect(over.status).toBe(402);
      expect(over.body.error.code).toBe('PLAN_FEATURE_UNAVAILABLE');
      expect(await countRows(world.owner, free.tenantId, 'leads')).toBe(1000);

      // Deleted leads do not count against the quota.
      expect((await request(world.t.app).delete(`/api/v1/leads/${last.body.data.id}`).set(free.auth)).status).toBe(204);
      expect((await request(world.t.app).post('/api/v1/leads').set(free.auth).send({ lastName: 'Fits again' })).status).toBe(201);
      expect(await orderedIds(world.owner, free.tenantId, 'leads', 'id')).toHaveLength(1000);
    });
  });
});
