import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { withTenant } from '../src/infra/tenant-scope';
import { countRows, createCrmTenant, crmWorld, CrmTenant, errorFields, insertRows, walkList } from './support/crm-fixtures';
import { describeRecordRoutes } from './support/crm-record-routes';
import { runtimeKnex } from './support/test-app';

const STAGES = ['qualification', 'needs_analysis', 'proposal', 'negotiation', 'closed_won', 'closed_lost'] as const;
const DEFAULT_PROBABILITY = { qualification: 10, needs_analysis: 25, proposal: 50, negotiation: 75, closed_won: 100, closed_lost: 0 };

describe('deals', () => {
  const world = crmWorld();
  const api = () => world.api();
  const admin = () => world.a.users.admin;
  let serial = 0;

  describeRecordRoutes(world, {
    resource: 'deals',
    singular: 'deal',
    ownerField: 'ownerId',
    body: () => {
      serial += 1;
      return { name: `Deal ${serial}`, amount: 12_500.5, currency: 'EUR', stage: 'proposal', expectedCloseDate: '2027-03-31' };
    },
    patch: { name: 'Renamed deal', amount: 99_000, expectedCloseDate: '2027-06-30' },
    text: { field: 'name', max: 200 },
    invalid: [
      ['no name', { name: '   ' }, ['name']],
      ['an unknown stage', { stage: 'won' }, ['stage']],
      ['a negative amount', { amount: -1 }, ['amount']],
      ['an amount in words', { amount: 'lots' }, ['amount']],
      ['a probability over 100', { probability: 101 }, ['probability']],
      ['a currency in words', { currency: 'euro' }, ['currency']],
      ['a close date that does not exist', { expectedCloseDate: '2027-02-30' }, ['expectedCloseDate']],
      ['a close date in another format', { expectedCloseDate: '31/03/2027' }, ['expectedCloseDate']],
      ['a contactId that is no UUID', { contactId: 'bob' }, ['contactId']],
    ],
    row: (i) => ({ name: `Deal ${i % 29}`, amount: (i * 137) % 5000, stage: STAGES[i % STAGES.length] }),
    sort: { key: 'amount', orderBy: (d) => `amount ${d}, id ${d}` },
    searchColumn: 'name',
    relatable: true,
  });

  describe('probability and stages', () => {
    let runtime: Knex;
    beforeAll(() => {
      runtime = runtimeKnex();
    });
    afterAll(() => runtime.destroy());
    /** The stage history as the API's own database role sees it in tenant A's scope. */
    const history = (dealId: string) =>
      withTenant(runtime, world.a.tenantId, (trx) =>
        trx('dealStageChanges').where({ dealId }).orderBy('changedAt').select('fromStage', 'toStage', 'changedBy', 'changedAt'),
      );
    const createDeal = async (body: Record<string, unknown>) => {
      const res = await api().post('/api/v1/deals').set(admin().auth).send({ name: 'Staged', ...body });
      expect(res.status).toBe(201);
      return res.body.data as Record<string, unknown> & { id: string };
    };
    const patchDeal = (id: string, body: Record<string, unknown>, auth = admin().auth) => api().patch(`/api/v1/deals/${id}`).set(auth).send(body);

    it.each(STAGES)('when a deal is created in %s without a probability, then it gets that stage default', async (stage) => {
      const deal = await createDeal({ stage });
      expect(deal).toMatchObject({ stage, probability: DEFAULT_PROBABILITY[stage] });
      expect(deal.closedAt === null).toBe(!stage.startsWith('closed'));
    });

    it('when a deal is created without a stage, then it is in qualification at 10% with amount 0 in USD', async () => {
      expect(await createDeal({})).toMatchObject({ stage: 'qualification', probability: 10, amount: 0, currency: 'USD', closedAt: null });
    });

    it('when a probability is given, then it wins over the default, and survives patches that keep the stage', async () => {
      const deal = await createDeal({ stage: 'proposal', probability: 65 });
      expect(deal.probability).toBe(65);
      expect((await patchDeal(deal.id, { amount: 10 })).body.data.probability).toBe(65);
      expect((await patchDeal(deal.id, { stage: 'negotiation', probability: 90 })).body.data.probability).toBe(90);
      expect((await patchDeal(deal.id, { stage: 'needs_analysis' })).body.data.probability).toBe(25);
    });

    it('when a deal closes and reopens, then closedAt is set and cleared', async () => {
      const deal = await createDeal({ stage: 'negotiation' });
      const won = await patchDeal(deal.id, { stage: 'closed_won' });
      expect(won.body.data).toMatchObject({ stage: 'closed_won', probability: 100, closedAt: expect.any(String) });
      const reopened = await patchDeal(deal.id, { stage: 'proposal' });
      expect(reopened.body.data).toMatchObject({ stage: 'proposal', probability: 50, closedAt: null });
    });

    it('when the stage changes, then each entry is recorded with its actor and time; other changes and refused patches record nothing', async () => {
      const { manager } = world.a.users;
      const deal = await createDeal({});
      expect((await patchDeal(deal.id, { stage: 'proposal' })).status).toBe(200);
      expect((await patchDeal(deal.id, { name: 'Same stage', stage: 'proposal' })).status).toBe(200);
      expect((await patchDeal(deal.id, { stage: 'nowhere' })).status).toBe(400);
      expect((await patchDeal(deal.id, { stage: 'closed_won' }, manager.auth)).status).toBe(200);

      const changes = await history(deal.id);
      expect(changes.map(({ fromStage, toStage, changedBy }) => ({ fromStage, toStage, changedBy }))).toEqual([
        { fromStage: null, toStage: 'qualification', changedBy: admin().id },
        { fromStage: 'qualification', toStage: 'proposal', changedBy: admin().id },
        { fromStage: 'proposal', toStage: 'closed_won', changedBy: manager.id },
      ]);
      const times = changes.map((change) => (change.changedAt as Date).getTime());
      expect(times).toEqual([...times].sort((x, y) => x - y));
      expect(times[2]! - times[0]!).toBeLessThan(60_000);
    });

    it("when tenant B's deal changes stage, then tenant A's scope does not see that history", async () => {
      const foreign = (await api().post('/api/v1/deals').set(world.b.users.admin.auth).send({ name: 'Foreign' })).body.data;
      await api().patch(`/api/v1/deals/${foreign.id}`).set(world.b.users.admin.auth).send({ stage: 'proposal' });
      expect(await history(foreign.id)).toEqual([]);
      const inB = await withTenant(runtime, world.b.tenantId, (trx) => trx('dealStageChanges').where({ dealId: foreign.id }));
      expect(inB).toHaveLength(2);
    });
  });

  describe('deal references', () => {
    const create = (tenant: CrmTenant, path: string, body: Record<string, unknown>) =>
      api().post(`/api/v1/${path}`).set(tenant.users.admin.auth).send(body).then((res) => res.body.data.id as string);

    it('when a deal names an account and a contact of the tenant, then both are linked and the accountId filter finds it', async () => {
      const accountId = await create(world.a, 'accounts', { name: 'Buyer' });
      const contactId = await create(world.a, 'contacts', { lastName: 'Buyer', accountId });
      const res = await api().post('/api/v1/deals').set(admin().auth).send({ name: 'Linked', accountId, contactId });
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ accountId, contactId });
      expect((await walkList(world, admin().auth, 'deals', { accountId })).ids).toEqual([res.body.data.id]);
    });

    it("when a deal names tenant B's account or contact, or a deleted contact, then 400 names each and nothing is stored", async () => {
      const deletedContact = await create(world.a, 'contacts', { lastName: 'Gone' });
      await api().delete(`/api/v1/contacts/${deletedContact}`).set(admin().auth);
      const before = await countRows(world.owner, world.a.tenantId, 'deals');
      const both = await api()
        .post('/api/v1/deals')
        .set(admin().auth)
        .send({ name: 'Foreign', accountId: await create(world.b, 'accounts', { name: 'B' }), contactId: await create(world.b, 'contacts', { lastName: 'B' }) });
      expect(both.status).toBe(400);
      expect(errorFields(both)).toEqual(['accountId', 'contactId']);
      const deleted = await api().post('/api/v1/deals').set(admin().auth).send({ name: 'Deleted', contactId: deletedContact });
      expect(errorFields(deleted)).toEqual(['contactId']);
      expect(await countRows(world.owner, world.a.tenantId, 'deals')).toBe(before);
    });
  });

  describe('deal filters', () => {
    let tenant: CrmTenant;
    let ids: string[];
    beforeAll(async () => {
      tenant = await createCrmTenant(world.t, ['admin']);
      ids = await insertRows(
        world.owner,
        tenant.tenantId,
        'deals',
        Array.from({ length: 40 }, (_, i) => ({
          name: `Filtered ${i}`,
          amount: i * 250,
          stage: STAGES[i % STAGES.length],
          expectedCloseDate: `2027-${String((i % 12) + 1).padStart(2, '0')}-15`,
        })),
      );
    });
    const list = (query: Record<string, string | number>) => walkList(world, tenant.users.admin.auth, 'deals', { limit: 500, ...query });
    const expected = (predicate: (i: number) => boolean) => new Set(ids.filter((_, i) => predicate(i)));

    it('when filtered by an amount range, then exactly the deals within it come back, bounds included', async () => {
      expect(new Set((await list({ amountMin: 1000, amountMax: 2500 })).ids)).toEqual(expected((i) => i * 250 >= 1000 && i * 250 <= 2500));
      expect(new Set((await list({ amountMin: 9500 })).ids)).toEqual(expected((i) => i * 250 >= 9500));
    });

    it('when filtered by stage and expected close dates, then exactly the matching deals come back', async () => {
      expect(new Set((await list({ stage: 'negotiation' })).ids)).toEqual(expected((i) => i % 6 === 3));
      const spring = await list({ expectedCloseAfter: '2027-03-15', expectedCloseBefore: '2027-05-01' });
      expect(new Set(spring.ids)).toEqual(expected((i) => [2, 3].includes(i % 12)));
    });

    it('when a filter value is malformed, then 400 names it', async () => {
      for (const [query, field] of [
        [{ amountMin: 'cheap' }, 'query.amountMin'],
        [{ amountMax: -5 }, 'query.amountMax'],
        // Stage keys are each pipeline's own: a filter value is malformed when it cannot be a key at all.
        [{ stage: 'Won!' }, 'query.stage'],
        [{ expectedCloseAfter: 'soon' }, 'query.expectedCloseAfter'],
      ] as const) {
        const res = await api().get('/api/v1/deals').query(query).set(tenant.users.admin.auth);
        expect({ query, status: res.status, fields: errorFields(res) }).toEqual({ query, status: 400, fields: [field] });
      }
    });
  });

  describe('GET /deals/forecast and /deals/pipeline', () => {
    let tenant: CrmTenant;
    beforeAll(async () => {
      tenant = await createCrmTenant(world.t, ['admin', 'sales', 'readOnly', 'support']);
      const owner = tenant.users.admin.id;
      const deal = (name: string, stage: string, amount: number, probability: number, expectedCloseDate: string | null, extra: Record<string, unknown> = {}) => ({
        name, stage, amount, probability, expectedCloseDate, currency: 'USD', ownerId: owner, ...extra,
      });
      await insertRows(world.owner, tenant.tenantId, 'deals', [
        deal('Q1', 'qualification', 1000, 10, '2027-01-15'),
        deal('Q2', 'qualification', 3000, 20, '2027-01-20'),
        deal('P1', 'proposal', 5000.5, 50, '2027-02-01'),
        deal('P2', 'proposal', 100, 50, null),
        deal('L1', 'closed_lost', 7000, 0, '2027-01-10'),
        deal('N1', 'negotiation', 2000, 75, '2027-02-28', { currency: 'EUR' }),
        deal('W1', 'closed_won', 400, 100, '2027-03-05', { ownerId: tenant.users.sales.id }),
        deal('Deleted', 'proposal', 1_000_000, 50, '2027-01-01', { deletedAt: new Date() }),
      ]);
      // Another tenant's deals never count.
      await insertRows(world.owner, world.b.tenantId, 'deals', [deal('Foreign', 'proposal', 999_999, 50, '2027-01-01', { ownerId: world.b.users.admin.id })]);
    });

    it('when the forecast is asked, then amount and weighted amount are summed by stage and by close month, without deleted or lost deals in months', async () => {
      const res = await api().get('/api/v1/deals/forecast').set(tenant.users.admin.auth);
      expect(res.status).toBe(200);
      expect(res.body.data.byStage).toEqual([
        { stage: 'closed_lost', currency: 'USD', count: 1, amount: 7000, weightedAmount: 0 },
        { stage: 'closed_won', currency: 'USD', count: 1, amount: 400, weightedAmount: 400 },
        { stage: 'negotiation', currency: 'EUR', count: 1, amount: 2000, weightedAmount: 1500 },
        { stage: 'proposal', currency: 'USD', count: 2, amount: 5100.5, weightedAmount: 2550.25 },
        { stage: 'qualification', currency: 'USD', count: 2, amount: 4000, weightedAmount: 700 },
      ]);
      expect(res.body.data.byCloseMonth).toEqual([
        { month: '2027-01', currency: 'USD', count: 2, amount: 4000, weightedAmount: 700 },
        { month: '2027-02', currency: 'EUR', count: 1, amount: 2000, weightedAmount: 1500 },
        { month: '2027-02', currency: 'USD', count: 1, amount: 5000.5, weightedAmount: 2500.25 },
        { month: '2027-03', currency: 'USD', count: 1, amount: 400, weightedAmount: 400 },
      ]);
    });

    it('when the forecast is asked by owner, then each owner gets their own rows', async () => {
      const res = await api().get('/api/v1/deals/forecast?byOwner=true').set(tenant.users.readOnly.auth);
      expect(res.status).toBe(200);
      const { admin: adminUser, sales } = tenant.users;
      expect(res.body.data.byStage).toContainEqual({ stage: 'closed_won', currency: 'USD', ownerId: sales.id, count: 1, amount: 400, weightedAmount: 400 });
      expect(res.body.data.byStage.filter((row: { ownerId: string }) => row.ownerId === adminUser.id)).toHaveLength(4);
      expect(res.body.data.byCloseMonth).toContainEqual({ month: '2027-03', currency: 'USD', ownerId: sales.id, count: 1, amount: 400, weightedAmount: 400 });
      expect(res.body.data.byCloseMonth).toHaveLength(4);
    });

    it('when the pipeline is asked, then each stage shows its count and amount', async () => {
      const res = await api().get('/api/v1/deals/pipeline').set(tenant.users.sales.auth);
      expect(res.status).toBe(200);
      expect(res.body.data.stages).toEqual([
        { stage: 'closed_lost', currency: 'USD', count: 1, amount: 7000 },
        { stage: 'closed_won', currency: 'USD', count: 1, amount: 400 },
        { stage: 'negotiation', currency: 'EUR', count: 1, amount: 2000 },
        { stage: 'proposal', currency: 'USD', count: 2, amount: 5100.5 },
        { stage: 'qualification', currency: 'USD', count: 2, amount: 4000 },
      ]);
    });

    it('when a deal is added through the API, then the forecast moves by exactly its amount', async () => {
      const before = await api().get('/api/v1/deals/forecast').set(tenant.users.admin.auth);
      await api().post('/api/v1/deals').set(tenant.users.admin.auth).send({ name: 'Late', amount: 1234.56, stage: 'negotiation', currency: 'EUR', expectedCloseDate: '2027-02-03' });
      const after = await api().get('/api/v1/deals/forecast').set(tenant.users.admin.auth);
      const eurFebruary = (res: typeof before) => res.body.data.byCloseMonth.find((row: { month: string; currency: string }) => row.month === '2027-02' && row.currency === 'EUR');
      expect(eurFebruary(before)).toMatchObject({ count: 1, amount: 2000 });
      expect(eurFebruary(after)).toEqual({ month: '2027-02', currency: 'EUR', count: 2, amount: 3234.56, weightedAmount: 2425.92 });
    });

    it('when the caller has no token, may not read deals, or sends an unknown parameter, then 401, 403 and 400', async () => {
      for (const path of ['/api/v1/deals/forecast', '/api/v1/deals/pipeline']) {
        expect((await api().get(path)).status).toBe(401);
        const forbidden = await api().get(path).set(tenant.users.support.auth);
        expect(forbidden.status).toBe(403);
        expect(forbidden.body.error.code).toBe('FORBIDDEN');
        expect(errorFields(await api().get(`${path}?currency=USD`).set(tenant.users.admin.auth))).toEqual(['query.currency']);
      }
      expect((await api().get('/api/v1/deals/forecast?byOwner=maybe').set(tenant.users.admin.auth)).status).toBe(400);
    });

    it('when a tenant has no deals, then the forecast and pipeline are empty', async () => {
      const empty = await createCrmTenant(world.t, ['admin']);
      const forecast = await api().get('/api/v1/deals/forecast').set(empty.users.admin.auth);
      expect(forecast.body.data).toEqual({ byStage: [], byCloseMonth: [] });
      expect((await api().get('/api/v1/deals/pipeline').set(empty.users.admin.auth)).body.data).toEqual({ stages: [] });
    });
  });

  it('when an amount has more than two decimals, then it is rounded to cents', async () => {
    const res = await api().post('/api/v1/deals').set(admin().auth).send({ name: `Precise ${randomUUID()}`, amount: 19.999 });
    expect(res.status).toBe(201);
    expect(res.body.data.amount).toBe(20);
  });
});
