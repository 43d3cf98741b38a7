import { Knex } from 'knex';
import { withTenant } from '../src/infra/tenant-scope';
import { compactLeadRollups, leadRollupCompactionJob } from '../src/modules/reports/lead-rollup-compaction.job';
import { createCrmTenant, CrmTenant, CrmUser, crmWorld, errorFields, insertRows, inTenant } from './support/crm-fixtures';
import { runtimeKnex } from './support/test-app';
import { TestJobRunner } from './support/jobs';
import { mailsOf, runJobsUntil } from './support/mail-log';

/**
 * Reports over records seeded straight into the tables (with the dates a report is about), every number
 * below worked out by hand from those rows.
 */
describe('reports', () => {
  const world = crmWorld();
  const api = () => world.api();
  const users = () => world.a.users;

  const seed = async (tenant: CrmTenant) => {
    const { sales, teammate, outsider, manager, support } = tenant.users;
    const at = (iso: string) => new Date(iso);
    const deals = await insertRows(world.owner, tenant.tenantId, 'deals', [
      // Open: weighted = amount x (own probability, else the stage's: qualification 10, proposal 50).
      { name: 'D1', stage: 'qualification', amount: 1000, probability: 20, ownerId: sales.id },
      { name: 'D2', stage: 'qualification', amount: 3000, probability: null, ownerId: outsider.id },
      { name: 'D3', stage: 'proposal', amount: 5000, probability: 50, ownerId: teammate.id },
      // Closed: sales won 2 (10 and 20 days) and lost 1 in January; outsider won 1 (3 days) in February.
      { name: 'D4', stage: 'closed_won', amount: 2000, ownerId: sales.id, createdAt: at('2026-01-01T00:00:00Z'), closedAt: at('2026-01-11T00:00:00Z') },
      { name: 'D5', stage: 'closed_won', amount: 4000, ownerId: sales.id, createdAt: at('2026-01-05T00:00:00Z'), closedAt: at('2026-01-25T00:00:00Z') },
      { name: 'D6', stage: 'closed_lost', amount: 1000, ownerId: sales.id, createdAt: at('2026-01-10T00:00:00Z'), closedAt: at('2026-01-20T00:00:00Z') },
      { name: 'D7', stage: 'closed_won', amount: 6000, ownerId: outsider.id, createdAt: at('2026-02-01T00:00:00Z'), closedAt: at('2026-02-04T00:00:00Z') },
    ]);
    const contacts = await insertRows(world.owner, tenant.tenantId, 'contacts', [{ lastName: 'C1' }, { lastName: 'C2' }, { lastName: 'C3' }]);
    const converted = (contact: number, dealId: string | null, createdAt: string, convertedAt: string) => ({
      status: 'converted',
      convertedContactId: contacts[contact],
      convertedDealId: dealId,
      createdAt: at(createdAt),
      convertedAt: at(convertedAt),
    });
    await insertRows(world.owner, tenant.tenantId, 'leads', [
      { lastName: 'L1', source: 'web', ownerId: sales.id, ...converted(0, deals[3]!, '2026-03-01T00:00:00Z', '2026-03-03T00:00:00Z') },
      { lastName: 'L2', source: 'web', ownerId: sales.id, ...converted(1, null, '2026-03-02T00:00:00Z', '2026-03-06T00:00:00Z') },
      { lastName: 'L3', source: 'web', ownerId: sales.id, createdAt: at('2026-03-03T00:00:00Z') },
      { lastName: 'L4', source: 'web', ownerId: sales.id, createdAt: at('2026-03-04T00:00:00Z') },
      { lastName: 'L5', source: 'referral', ownerId: outsider.id, ...converted(2, deals[0]!, '2026-03-05T00:00:00Z', '2026-03-06T00:00:00Z') },
      { lastName: 'L6', source: 'referral', ownerId: outsider.id, createdAt: at('2025-12-01T00:00:00Z') },
    ]);
    await insertRows(world.owner, tenant.tenantId, 'activities', [
      { type: 'call', subject: 'a', ownerId: sales.id, occurredAt: at('2026-03-02T10:00:00Z') },
      { type: 'call', subject: 'b', ownerId: sales.id, occurredAt: at('2026-03-03T10:00:00Z') },
      { type: 'email', subject: 'c', ownerId: sales.id, occurredAt: at('2026-03-04T10:00:00Z') },
      { type: 'meeting', subject: 'd', ownerId: sales.id, occurredAt: at('2026-03-10T10:00:00Z') },
      { type: 'note', subject: 'e', ownerId: teammate.id, occurredAt: at('2026-03-02T10:00:00Z') },
      // Sunday night in UTC, Monday of the next week in Berlin.
      { type: 'note', subject: 'f', ownerId: manager.id, occurredAt: at('2026-03-08T23:30:00Z') },
    ]);
    await insertRows(world.owner, tenant.tenantId, 'tickets', [
      // 1 h to respond (within high's 4 h), resolved after 24 h.
      { number: 1, subject: 'T1', priority: 'high', assigneeId: support.id, createdAt: at('2026-03-02T09:00:00Z'), firstResponseAt: at('2026-03-02T10:00:00Z'), resolvedAt: at('2026-03-03T09:00:00Z') },
      // 6 h to respond: a breach; resolved the next week after 168 h.
      { number: 2, subject: 'T2', priority: 'high', assigneeId: support.id, createdAt: at('2026-03-03T09:00:00Z'), firstResponseAt: at('2026-03-03T15:00:00Z'), resolvedAt: at('2026-03-10T09:00:00Z') },
      // Never answered: a breach of urgent's 1 h.
      { number: 3, subject: 'T3', priority: 'urgent', assigneeId: support.id, createdAt: at('2026-03-04T00:00:00Z') },
    ]);
  };

  const get = (path: string, user: CrmUser = users().manager) => api().get(`/api/v1${path}`).set(user.auth);
  const run = (body: Record<string, unknown>, user: CrmUser = users().manager) => api().post('/api/v1/reports/run').set(user.auth).send(body);

  beforeAll(async () => {
    await seed(world.a);
  });

  describe('built-in reports', () => {
    it('when a manager asks for the pipeline, then open deals by stage with count, amount and weighted amount', async () => {
      const res = await get('/reports/pipeline');
      expect(res.status).toBe(200);
      expect(res.body.data.map((row: Record<string, unknown>) => [row.stage, row.count, row.amount, row.weightedAmount])).toEqual([
        ['qualification', 2, 4000, 500],
        ['proposal', 1, 5000, 2500],
      ]);
      expect(res.body.data[0]).toMatchObject({ stageName: 'Qualification', pipelineName: 'Sales pipeline', currency: 'USD' });
    });

    it('when a sales user asks for the pipeline, then only their own and their team\'s deals count', async () => {
      const res = await get('/reports/pipeline', users().sales);
      expect(res.status).toBe(200);
      expect(res.body.data.map((row: Record<string, unknown>) => [row.stage, row.count, row.amount, row.weightedAmount])).toEqual([
        ['qualification', 1, 1000, 200],
        ['proposal', 1, 5000, 2500],
      ]);
      const narrowed = await get(`/reports/pipeline?ownerId=${users().teammate.id}`, users().sales);
      expect(narrowed.body.data.map((row: Record<string, unknown>) => row.stage)).toEqual(['proposal']);
    });

    it('when sales performance is asked for January and February, then wins, losses, win rate and sales cycle per owner and month', async () => {
      const res = await get('/reports/sales-performance?from=2026-01-01&to=2026-02-28');
      expect(res.status).toBe(200);
      const byOwner = Object.fromEntries(res.body.data.map((row: Record<string, unknown>) => [`${row.ownerId as string}/${row.month as string}`, row]));
      expect(byOwner[`${users().sales.id}/2026-01`]).toMatchObject({ wonCount: 2, wonAmount: 6000, lostCount: 1, lostAmount: 1000, winRate: 0.6667, avgSalesCycleDays: 15 });
      expect(byOwner[`${users().outsider.id}/2026-02`]).toMatchObject({ wonCount: 1, wonAmount: 6000, lostCount: 0, lostAmount: 0, winRate: 1, avgSalesCycleDays: 3 });
      expect(res.body.data).toHaveLength(2);
      const january = await get('/reports/sales-performance?from=2026-01-01&to=2026-01-31', users().outsider);
      expect(january.body.data).toEqual([]);
    });

    it('when the lead funnel is asked for March, then conversions by source with their rates and median days', async () => {
      const res = await get('/reports/lead-funnel?from=2026-03-01&to=2026-03-31');
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual([
        { source: 'web', leads: 4, contacts: 2, deals: 1, won: 1, contactRate: 0.5, dealRate: 0.25, wonRate: 0.25, medianDaysToConvert: 3 },
        { source: 'referral', leads: 1, contacts: 1, deals: 1, won: 0, contactRate: 1, dealRate: 1, wonRate: 0, medianDaysToConvert: 1 },
      ]);
    });

    it('when activity is asked by week, then each owner\'s calls, emails, meetings and notes, weeks read in the time zone given', async () => {
      const cells = (rows: Array<Record<string, unknown>>) => rows.map((row) => [row.ownerId, row.week, row.calls, row.emails, row.meetings, row.notes, row.total]);
      const { sales, teammate, manager } = users();
      const utc = await get('/reports/activity?from=2026-03-02&to=2026-03-15');
      expect(utc.status).toBe(200);
      expect(cells(utc.body.data)).toEqual(
        expect.arrayContaining([
          [sales.id, '2026-03-02', 2, 1, 0, 0, 3],
          [teammate.id, '2026-03-02', 0, 0, 0, 1, 1],
          [manager.id, '2026-03-02', 0, 0, 0, 1, 1],
          [sales.id, '2026-03-09', 0, 0, 1, 0, 1],
        ]),
      );
      expect(utc.body.data).toHaveLength(4);
      const berlin = await get('/reports/activity?from=2026-03-02&to=2026-03-15&timeZone=Europe/Berlin');
      expect(cells(berlin.body.data)).toContainEqual([manager.id, '2026-03-09', 0, 0, 0, 1, 1]);
    });

    it('when tickets are asked by week, then opened, resolved, median response and resolution hours and SLA breaches per priority', async () => {
      // Support users hold no reports:read by default: a manager reads it.
      expect((await get('/reports/tickets?from=2026-03-02&to=2026-03-15', users().support)).status).toBe(403);
      const tickets = await get('/reports/tickets?from=2026-03-02&to=2026-03-15');
      expect(tickets.status).toBe(200);
      expect(tickets.body.data).toEqual([
        { priority: 'urgent', week: '2026-03-02', opened: 1, resolved: 0, medianFirstResponseHours: null, medianResolutionHours: null, slaBreaches: 1 },
        { priority: 'high', week: '2026-03-02', opened: 2, resolved: 1, medianFirstResponseHours: 3.5, medianResolutionHours: 24, slaBreaches: 1 },
        { priority: 'high', week: '2026-03-09', opened: 0, resolved: 1, medianFirstResponseHours: null, medianResolutionHours: 168, slaBreaches: 0 },
      ]);
    });

    it('when a range is reversed, too long, or a parameter unknown, then 400 names it', async () => {
      expect(errorFields(await get('/reports/activity?from=2026-03-02&to=2026-01-01'))).toEqual(['query']);
      expect(errorFields(await get('/reports/activity?from=2020-01-01&to=2026-01-01'))).toEqual(['query']);
      expect(errorFields(await get('/reports/activity?from=yesterday'))).toEqual(['query.from']);
      expect(errorFields(await get('/reports/lead-funnel?pipelineId=00000000-0000-4000-8000-000000000000'))).toEqual(['query.pipelineId']);
      expect(errorFields(await get('/reports/pipeline?timeZone=Mars/Olympus'))).toEqual(['query.timeZone']);
    });

    it('when the caller lacks reports:read or the resource\'s read permission, then 403; without a token, 401', async () => {
      expect((await get('/reports/pipeline', users().readOnly)).status).toBe(403);
      expect((await get('/reports/tickets', users().sales)).status).toBe(403);
      expect((await run({ resource: 'tickets' }, users().sales)).status).toBe(403);
      expect((await api().get('/api/v1/reports/pipeline')).status).toBe(401);
    });
  });

  describe('report builder', () => {
    it('when deals are grouped by owner, then count and sum per owner, sorted by the sum', async () => {
      const res = await run({ resource: 'deals', filters: { stage: ['closed_won'] }, groupBy: ['ownerId'], measures: [{ fn: 'count' }, { fn: 'sum', field: 'amount' }, { fn: 'avg', field: 'amount' }], sort: '-sumAmount' });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual(
        expect.arrayContaining([
          { ownerId: users().sales.id, count: 2, sumAmount: 6000, avgAmount: 3000 },
          { ownerId: users().outsider.id, count: 1, sumAmount: 6000, avgAmount: 6000 },
        ]),
      );
      expect(res.body.data).toHaveLength(2);
    });

    it('when grouped on two levels with a date interval and a date range, then a row per stage and month', async () => {
      const res = await run({
        resource: 'deals',
        filters: { closedAt: { gte: '2026-01-01', lte: '2026-01-31' } },
        groupBy: ['stage', { field: 'closedAt', interval: 'month' }],
        measures: [{ fn: 'count' }, { fn: 'max', field: 'amount' }],
      });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual([
        { stage: 'closed_lost', closedAt: '2026-01-01', count: 1, maxAmount: 1000 },
        { stage: 'closed_won', closedAt: '2026-01-01', count: 2, maxAmount: 4000 },
      ]);
    });

    it('when a sales user runs it, then only their own and their team\'s records are counted', async () => {
      const res = await run({ resource: 'deals', groupBy: ['ownerId'], sort: 'ownerId' }, users().sales);
      expect(res.status).toBe(200);
      const counts = Object.fromEntries(res.body.data.map((row: { ownerId: string; count: number }) => [row.ownerId, row.count]));
      expect(counts).toEqual({ [users().sales.id]: 4, [users().teammate.id]: 1 });
    });

    it('when it names unknown or unfit fields, injection attempts or oversized values, then 400 names each and nothing runs', async () => {
      const cases: Array<[Record<string, unknown>, string[]]> = [
        [{ resource: 'users' }, ['resource']],
        [{ resource: 'deals', groupBy: ['passwordHash'] }, ['groupBy.0']],
        [{ resource: 'deals', groupBy: ['stage; drop table deals'] }, ['groupBy.0']],
        [{ resource: 'deals', groupBy: ['closedAt'] }, ['groupBy.0']],
        [{ resource: 'deals', groupBy: ['amount'] }, ['groupBy.0']],
        [{ resource: 'deals', groupBy: [{ field: 'closedAt', interval: 'century' }] }, ['groupBy.0']],
        [{ resource: 'deals', measures: [{ fn: 'sum', field: 'stage' }] }, ['measures.0.field']],
        [{ resource: 'deals', measures: [{ fn: 'sum' }] }, ['measures.0.field']],
        [{ resource: 'deals', measures: [{ fn: 'pg_sleep', field: 'amount' }] }, ['measures.0.fn']],
        [{ resource: 'deals', filters: { 'stage" or 1=1 --': 'x' } }, ['filters.stage" or 1=1 --']],
        [{ resource: 'deals', filters: { ownerId: "x' or '1'='1" } }, ['filters.ownerId']],
        [{ resource: 'deals', filters: { stage: { gte: 'a' } } }, ['filters.stage']],
        [{ resource: 'deals', filters: { closedAt: { gte: 'tomorrow' } } }, ['filters.closedAt.gte']],
        [{ resource: 'deals', sort: 'amount desc; select 1' }, ['sort']],
        [{ resource: 'deals', sort: '-sumAmount' }, ['sort']],
        [{ resource: 'deals', limit: 5000 }, ['limit']],
        [{ resource: 'deals', groupBy: ['stage', 'ownerId', 'currency', 'pipelineId'] }, ['groupBy']],
        [{ resource: 'deals', timeZone: "UTC'; drop table deals; --" }, ['timeZone']],
      ];
      for (const [body, fields] of cases) {
        const res = await run(body);
        expect({ body, status: res.status, code: res.body.error?.code }).toEqual({ body, status: 400, code: 'VALIDATION_ERROR' });
        expect({ body, fields: errorFields(res) }).toEqual({ body, fields });
      }
      // A quote in a value is a value: bound, matching nothing.
      const quoted = await run({ resource: 'deals', filters: { stage: "closed_won' or '1'='1" } });
      expect(quoted.status).toBe(200);
      expect(quoted.body.data).toEqual([{ count: 0 }]);
      expect((await run({ resource: 'deals' })).body.data).toEqual([{ count: 7 }]);
    });
  });

  /**
   * lead_rollups answers the lead funnel and the builder's leads by status, source, owner and creation day
   * in a time zone of whole hours (UTC here); in Asia/Tehran (+03:30) the same reports read the leads. With
   * ranges that hold the same leads in both zones, the two must agree.
   */
  describe('the lead rollup', () => {
    let c: CrmTenant;
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const aroundToday = () => `from=${day(-1)}&to=${day(1)}`;
    const funnel = (query: string, user: CrmUser) => get(`/reports/lead-funnel?${query}`, user);
    const BY_SOURCE = { resource: 'leads', groupBy: ['source', 'status'], measures: [{ fn: 'count' }, { fn: 'count', field: 'score' }, { fn: 'sum', field: 'score' }, { fn: 'avg', field: 'score' }] };
    const BY_OWNER_AND_DAY = { resource: 'leads', groupBy: ['ownerId', { field: 'createdAt', interval: 'day' }], measures: [{ fn: 'count' }, { fn: 'avg', field: 'score' }] };
    /** The definition with max(score) added, which the rollup cannot answer (the leads are read), then left out of the rows. */
    const live = async (definition: Record<string, unknown> & { measures: unknown[] }, user: CrmUser) => {
      const res = await run({ ...definition, measures: [...definition.measures, { fn: 'max', field: 'score' }] }, user);
      expect(res.status).toBe(200);
      return (res.body.data as Array<Record<string, unknown>>).map(({ maxScore: _max, ...row }) => row);
    };
    /** Each report the rollup answers, against the same one read from the leads; answers the rollup's rows. */
    const expectSameAsLeads = async (user: CrmUser, funnelQuery: string, filters: Record<string, unknown>) => {
      const rolled = await funnel(funnelQuery, user);
      expect(rolled.status).toBe(200);
      expect(rolled.body.data).toEqual((await funnel(`${funnelQuery}&timeZone=Asia/Tehran`, user)).body.data);
      const builder: Array<Array<Record<string, unknown>>> = [];
      for (const definition of [BY_SOURCE, BY_OWNER_AND_DAY]) {
        const res = await run({ ...definition, filters }, user);
        expect(res.status).toBe(200);
        expect(res.body.data).toEqual(await live({ ...definition, filters }, user));
        builder.push(res.body.data);
      }
      return { funnel: rolled.body.data as Array<Record<string, unknown>>, bySource: builder[0]!, byOwnerAndDay: builder[1]! };
    };
    const today = () => ({ createdAt: { gte: day(-1), lte: day(1) } });

    beforeAll(async () => {
      c = await createCrmTenant(world.t, ['admin', 'sales', 'teammate', 'outsider']);
    });

    it('when leads are created, changed, soft-deleted, merged and restored, converted, imported and an import undone, then the rollup gives the rows the leads give', async () => {
      const { admin, sales } = c.users;
      const create = async (body: Record<string, unknown>) => {
        const res = await api().post('/api/v1/leads').set(admin.auth).send(body);
        expect(res.status).toBe(201);
        return res.body.data.id as string;
      };
      const [a, b, cc, d] = [
        await create({ lastName: 'Alpha', email: 'alpha@example.com', source: 'web', score: 10 }),
        await create({ lastName: 'Bravo', email: 'bravo@example.com', source: 'web', score: 20 }),
        await create({ lastName: 'Charlie', email: 'charlie@example.com', source: 'ads', score: 30 }),
        await create({ lastName: 'Delta', email: 'delta@example.com', source: 'ads' }),
      ];
      await expectSameAsLeads(admin, aroundToday(), today());

      expect((await api().patch(`/api/v1/leads/${a}`).set(admin.auth).send({ source: 'ads', score: 50, status: 'contacted', ownerId: sales.id })).status).toBe(200);
      expect((await api().delete(`/api/v1/leads/${b}`).set(admin.auth)).status).toBe(204);
      const merged = await api().post(`/api/v1/leads/${cc}/merge`).set(admin.auth).send({ duplicateIds: [d] });
      expect(merged.status).toBe(200);
      await expectSameAsLeads(admin, aroundToday(), today());
      expect((await api().post(`/api/v1/merges/${merged.body.data.mergeId as string}/undo`).set(admin.auth)).status).toBe(200);
      const converted = await api().post(`/api/v1/leads/${cc}/convert`).set(admin.auth).send({ account: { name: 'Charlie Co' }, deal: { name: 'Charlie deal', amount: 100 } });
      expect(converted.status).toBe(200);
      const importCsv = (csv: string) => api().post('/api/v1/leads/import/bulk').set(admin.auth).set('Content-Type', 'text/csv').send(csv);
      const kept = await importCsv('lastName,email,source,score\nEcho,echo@example.com,event,40\nFoxtrot,foxtrot@example.com,event,60\n');
      expect(kept.status).toBe(201);
      const undone = await importCsv('lastName,email,source,score\nGolf,golf@example.com,event,90\n');
      expect(undone.status).toBe(201);
      expect((await api().post(`/api/v1/imports/${undone.body.data.importId as string}/undo`).set(admin.auth)).status).toBe(200);

      const rows = await expectSameAsLeads(admin, aroundToday(), today());
      // By hand: ads holds Alpha (moved), Charlie (converted) and Delta (restored); Bravo is deleted, Golf undone.
      expect(rows.funnel).toEqual([
        { source: 'ads', leads: 3, contacts: 1, deals: 1, won: 0, contactRate: 0.3333, dealRate: 0.3333, wonRate: 0, medianDaysToConvert: 0 },
        { source: 'event', leads: 2, contacts: 0, deals: 0, won: 0, contactRate: 0, dealRate: 0, wonRate: 0, medianDaysToConvert: null },
      ]);
      expect(rows.bySource.map((row) => [row.source, row.status, row.count, row.countScore, row.sumScore, row.avgScore])).toEqual([
        ['ads', 'contacted', 1, 1, 50, 50],
        ['ads', 'converted', 1, 1, 30, 30],
        ['ads', 'new', 1, 0, null, null],
        ['event', 'new', 2, 2, 100, 50],
      ]);

      // The compaction job folds the deltas into one row per group and hour; the answers stay as they were.
      await leadRollupCompactionJob.run({} as never, { ...world.t.deps, jobsKnex: world.owner }, { id: '1', attempt: 1, maxAttempts: 1, logger: world.t.deps.logger });
      const stored = await inTenant(world.owner, c.tenantId, (trx) => trx('lead_rollups').where({ tenant_id: c.tenantId }).select('compacted', 'leads'));
      expect(stored.every((row) => row.compacted && row.leads > 0)).toBe(true);
      expect(await expectSameAsLeads(admin, aroundToday(), today())).toEqual(rows);
    });

    it('when a sales user runs the lead funnel or groups leads, then the rollup counts only their own and their team\'s leads, as the leads do', async () => {
      const march = { createdAt: { gte: '2026-03-01', lte: '2026-03-31' } };
      const rows = await expectSameAsLeads(users().sales, 'from=2026-03-01&to=2026-03-31', march);
      expect(rows.funnel).toEqual([{ source: 'web', leads: 4, contacts: 2, deals: 1, won: 1, contactRate: 0.5, dealRate: 0.25, wonRate: 0.25, medianDaysToConvert: 3 }]);
      expect(rows.byOwnerAndDay.map((row) => [row.ownerId, row.createdAt, row.count])).toEqual(
        ['2026-03-01', '2026-03-02', '2026-03-03', '2026-03-04'].map((date) => [users().sales.id, date, 1]),
      );
      await expectSameAsLeads(users().manager, 'from=2026-03-01&to=2026-03-31', march);
    });

    it('when a rollup row is there that no lead stands for, then a whole-hour time zone shows it and a half-hour one does not: which reports read the rollup', async () => {
      const [phantom] = await insertRows(world.owner, c.tenantId, 'lead_rollups', [
        { hour: new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000), source: 'phantom', status: 'new', leads: 1, contacts: 0, deals: 0, scoreSum: 0, scoreCount: 0 },
      ]);
      try {
        const sources = async (query: string) => ((await funnel(query, c.users.admin)).body.data as Array<{ source: string }>).map((row) => row.source);
        expect(await sources(aroundToday())).toContain('phantom');
        expect(await sources(`${aroundToday()}&timeZone=Europe/Berlin`)).toContain('phantom');
        expect(await sources(`${aroundToday()}&timeZone=Asia/Tehran`)).not.toContain('phantom');
        const grouped = await run({ resource: 'leads', groupBy: ['source'], filters: today() }, c.users.admin);
        expect(grouped.body.data).toContainEqual({ source: 'phantom', count: 1 });
      } finally {
        await inTenant(world.owner, c.tenantId, (trx) => trx('lead_rollups').where({ tenant_id: c.tenantId, id: phantom }).delete());
      }
    });

    it('when two transactions of one tenant create leads of the same hour, owner and source, then neither waits for the other nor for compaction, and both count once committed', async () => {
      const knex = runtimeKnex(3);
      const { admin } = c.users;
      const lead = (lastName: string) => ({ tenant_id: c.tenantId, last_name: lastName, source: 'race', owner_id: admin.id });
      // A writer or the compaction that waited on the held transaction's locks would fail after 2 s instead of finishing.
      const withoutWaiting = <T>(fn: (trx: Knex.Transaction) => Promise<T>) =>
        withTenant(knex, c.tenantId, async (trx) => {
          await trx.raw("set local lock_timeout = '2s'");
          return fn(trx);
        });
      const raced = async () => {
        const rows = (await funnel(aroundToday(), admin)).body.data as Array<{ source: string; leads: number }>;
        return rows.find((row) => row.source === 'race')?.leads;
      };
      let release: () => void = () => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      let held: Promise<void> | undefined;
      const inserted = new Promise<void>((resolve, reject) => {
        held = withTenant(knex, c.tenantId, async (trx) => {
          await trx('leads').insert(lead('Held'));
          resolve();
          await released;
        }).catch(reject);
      });
      try {
        await inserted;
        await withoutWaiting((trx) => trx('leads').insert(lead('Committed')));
        await withoutWaiting((trx) => compactLeadRollups(trx, c.tenantId));
        expect(await raced()).toBe(1);
      } finally {
        release();
        await held;
      }
      expect(await raced()).toBe(2);
      await expectSameAsLeads(admin, aroundToday(), today());
      await knex.destroy();
    });
  });

  describe('saved reports', () => {
    const definition = { resource: 'deals', filters: { stage: 'closed_won' }, groupBy: ['ownerId'], measures: [{ fn: 'count' }, { fn: 'sum', field: 'amount' }], sort: 'count' };

    it('when a manager saves a report, then it is listed, run as each caller, exported as CSV, changed, deleted and audited', async () => {
      const made = await api().post('/api/v1/reports').set(users().manager.auth).send({ name: 'Won by owner', definition });
      expect(made.status).toBe(201);
      const id = made.body.data.id as string;
      expect(made.body.data).toMatchObject({ name: 'Won by owner', ownerId: users().manager.id, definition: { resource: 'deals', limit: 100, timeZone: 'UTC' } });
      expect((await get('/reports', users().sales)).body.data.map((report: { id: string }) => report.id)).toContain(id);

      const ran = await get(`/reports/${id}/run`);
      expect(ran.status).toBe(200);
      expect(ran.body.data.rows).toEqual([
        { ownerId: users().outsider.id, count: 1, sumAmount: 6000 },
        { ownerId: users().sales.id, count: 2, sumAmount: 6000 },
      ]);
      // The same report run by a sales user counts their team's records only.
      expect((await get(`/reports/${id}/run`, users().sales)).body.data.rows).toEqual([{ ownerId: users().sales.id, count: 2, sumAmount: 6000 }]);

      const csv = await get(`/reports/${id}/export?format=csv`);
      expect(csv.status).toBe(200);
      expect(csv.headers['content-type']).toMatch(/^text\/csv/);
      expect(csv.text.split('\r\n')).toEqual(['ownerId,count,sumAmount', `${users().outsider.id},1,6000`, `${users().sales.id},2,6000`, '']);

      const renamed = await api().patch(`/api/v1/reports/${id}`).set(users().manager.auth).send({ name: 'Wins' });
      expect(renamed.status).toBe(200);
      expect(renamed.body.data.name).toBe('Wins');
      expect((await api().delete(`/api/v1/reports/${id}`).set(users().manager.auth)).status).toBe(204);
      expect((await get(`/reports/${id}`)).status).toBe(404);
      const audit = await get(`/audit-logs?resourceType=report&resourceId=${id}`, users().admin);
      expect(audit.body.data.map((entry: { action: string }) => entry.action).sort()).toEqual(['report.create', 'report.delete', 'report.update']);
    });

    it('when a sales user saves a report or a definition does not fit, then 403 and 400; nothing is kept', async () => {
      expect((await api().post('/api/v1/reports').set(users().sales.auth).send({ name: 'Mine', definition })).status).toBe(403);
      const unfit = await api().post('/api/v1/reports').set(users().manager.auth).send({ name: 'Bad', definition: { ...definition, groupBy: ['salary'] } });
      expect(unfit.status).toBe(400);
      expect(errorFields(unfit)).toEqual(['groupBy.0']);
      const names = (await get('/reports')).body.data.map((report: { name: string }) => report.name);
      expect(names).not.toContain('Mine');
      expect(names).not.toContain('Bad');
    });

    it('when another organization names a report or runs its reports, then 404 and none of this one\'s records', async () => {
      const made = await api().post('/api/v1/reports').set(users().manager.auth).send({ name: 'Private to A', definition });
      const id = made.body.data.id as string;
      const foreign = world.b.users.admin;
      expect((await get(`/reports/${id}`, foreign)).status).toBe(404);
      expect((await get(`/reports/${id}/run`, foreign)).status).toBe(404);
      expect((await get(`/reports/${id}/export`, foreign)).status).toBe(404);
      expect((await api().patch(`/api/v1/reports/${id}`).set(foreign.auth).send({ name: 'Taken' })).status).toBe(404);
      expect((await api().delete(`/api/v1/reports/${id}`).set(foreign.auth)).status).toBe(404);
      expect((await get('/reports', foreign)).body.data.map((report: { id: string }) => report.id)).not.toContain(id);
      expect((await get('/reports/pipeline', foreign)).body.data).toEqual([]);
      const counted = await run({ resource: 'deals', filters: { ownerId: users().sales.id } }, foreign);
      expect(counted.body.data).toEqual([{ count: 0 }]);
      expect((await get(`/reports/${id}`)).body.data.name).toBe('Private to A');
    });
  });

  describe('scheduled reports', () => {
    const definition = { resource: 'deals', filters: { stage: 'closed_won' }, groupBy: ['ownerId'], measures: [{ fn: 'count' }, { fn: 'sum', field: 'amount' }], sort: 'ownerId' };
    let jobs: TestJobRunner;
    const TASK = 'reports.scheduled';
    const scheduledMails = () => mailsOf(world.owner, world.a.tenantId, 'scheduled_report');
    const save = (body: Record<string, unknown>, user: CrmUser = users().manager) => api().post('/api/v1/reports').set(user.auth).send(body);

    beforeAll(() => {
      jobs = new TestJobRunner(world.t);
    });
    afterAll(async () => {
      await jobs.close();
    });

    it('when a scheduled report\'s tick comes, then each recipient is mailed the CSV of what they may read, once, and the run is listed and audited', async () => {
      const { manager, sales, support } = users();
      const made = await save({ name: 'Weekly wins', definition, schedule: { cron: '0 7 * * 1', recipients: [manager.id, sales.id, support.id] } });
      expect(made.status).toBe(201);
      const id = made.body.data.id as string;
      const due = new Date(made.body.data.nextRunAt as string);
      // The next Monday, 07:00 in the report's time zone (UTC), within the coming week.
      expect([due.getUTCDay(), due.getUTCHours(), due.getUTCMinutes()]).toEqual([1, 7, 0]);
      expect(due.getTime() - Date.now()).toBeLessThanOrEqual(7 * 86_400_000);

      // A minute before the tick: nothing is due.
      await jobs.enqueueScheduled(TASK, new Date(due.getTime() - 60_000));
      await jobs.runUntilIdle(world.a.tenantId);
      expect(await scheduledMails()).toEqual([]);

      await jobs.enqueueScheduled(TASK, due);
      await runJobsUntil(jobs, world.a.tenantId, async () => {
        const mails = await scheduledMails();
        return mails.length === 2 && mails.every((mail) => mail.status === 'sent');
      });
      const byRecipient = Object.fromEntries((await scheduledMails()).map((mail) => [mail.recipient, mail.message]));
      expect(Object.keys(byRecipient).sort()).toEqual([manager.email, sales.email].sort());
      const csvOf = (email: string) => byRecipient[email]!.attachments!.map((file) => [file.contentType, file.content.split('\r\n')]);
      const ownerIds = [users().outsider.id, sales.id].sort();
      expect(csvOf(manager.email)).toEqual([['text/csv; charset=utf-8', ['ownerId,count,sumAmount', ...ownerIds.map((owner) => `${owner},${owner === sales.id ? 2 : 1},6000`), '']]]);
      // The sales user's copy counts their own and their team's deals only, as the API would show them.
      expect(csvOf(sales.email)).toEqual([['text/csv; charset=utf-8', ['ownerId,count,sumAmount', `${sales.id},2,6000`, '']]]);
      expect(byRecipient[manager.email]!.subject).toContain('Weekly wins');

      const runs = await get(`/reports/${id}/runs`);
      expect(runs.status).toBe(200);
      expect(runs.body.data).toEqual([
        expect.objectContaining({
          scheduledFor: due.toISOString(),
          status: 'sent',
          error: null,
          recipients: [
            { userId: manager.id, rows: 2 },
            { userId: sales.id, rows: 1 },
            { userId: support.id, skipped: 'may not read deals' },
          ],
        }),
      ]);
      const after = await get(`/reports/${id}`);
      expect(after.body.data.nextRunAt).toBe(new Date(due.getTime() + 7 * 86_400_000).toISOString());

      // The same tick again (a retried sweep, a second instance): nothing more is sent.
      await jobs.enqueueScheduled(TASK, due);
      await jobs.runUntilIdle(world.a.tenantId);
      expect(await scheduledMails()).toHaveLength(2);
      expect((await get(`/reports/${id}/runs`)).body.data).toHaveLength(1);

      const audit = await get(`/audit-logs?resourceType=report&resourceId=${id}`, users().admin);
      const run = audit.body.data.find((entry: { action: string }) => entry.action === 'report.scheduled_run');
      expect(run).toMatchObject({
        actor: { type: 'system', id: null },
        result: 'success',
        changes: { status: { after: 'sent' }, mailed: { after: 2 }, skipped: { after: 1 }, scheduledFor: { after: due.toISOString() } },
      });

      // Unscheduled: no next tick; deleted: its runs go with it.
      const unscheduled = await api().patch(`/api/v1/reports/${id}`).set(manager.auth).send({ schedule: null });
      expect(unscheduled.body.data).toMatchObject({ schedule: null, nextRunAt: null });
      expect((await api().delete(`/api/v1/reports/${id}`).set(manager.auth)).status).toBe(204);
      expect((await get(`/reports/${id}/runs`)).status).toBe(404);
    });

    it('when a scheduled report cannot be run, then the run is recorded as failed with the report\'s own message, audited, and the report moves to its next tick', async () => {
      const made = await save({ name: 'Breaks later', definition, schedule: { cron: '30 6 * * *', recipients: [users().manager.id] } });
      const id = made.body.data.id as string;
      const due = new Date(made.body.data.nextRunAt as string);
      // A definition a later release no longer accepts (here a field that is not reportable), as stored.
      await inTenant(world.owner, world.a.tenantId, (trx) =>
        trx('saved_reports').where({ tenant_id: world.a.tenantId, id }).update({ definition: JSON.stringify({ ...made.body.data.definition, groupBy: ['salary'] }) }),
      );
      await jobs.enqueueScheduled(TASK, due);
      await jobs.runUntilIdle(world.a.tenantId);
      const runs = (await get(`/reports/${id}/runs`)).body.data;
      expect(runs).toEqual([expect.objectContaining({ scheduledFor: due.toISOString(), status: 'failed', error: 'The report names what it cannot use', recipients: [] })]);
      expect((await get(`/reports/${id}`)).body.data.nextRunAt).toBe(new Date(due.getTime() + 86_400_000).toISOString());
      expect((await scheduledMails()).filter((mail) => mail.message.subject.includes('Breaks later'))).toEqual([]);
      const audit = await get(`/audit-logs?resourceType=report&resourceId=${id}`, users().admin);
      expect(audit.body.data.find((entry: { action: string }) => entry.action === 'report.scheduled_run')).toMatchObject({ changes: { status: { after: 'failed' }, mailed: { after: 0 } } });
    });

    it('when a schedule has a bad cron expression or a recipient outside the organization, then 400 names each; a sales user gets 403', async () => {
      const { manager } = users();
      const bad = await save({ name: 'Bad', definition, schedule: { cron: '61 * * * *', recipients: [manager.id, world.b.users.admin.id] } });
      expect(bad.status).toBe(400);
      expect(errorFields(bad).sort()).toEqual(['schedule.cron', 'schedule.recipients.1']);
      const seconds = await save({ name: 'Bad', definition, schedule: { cron: '*/5 * * * * *', recipients: [manager.id] } });
      expect(errorFields(seconds)).toEqual(['schedule.cron']);
      expect((await save({ name: 'Bad', definition, schedule: { cron: '0 7 * * 1', recipients: [] } })).status).toBe(400);
      expect((await save({ name: 'Mine', definition, schedule: { cron: '0 7 * * 1', recipients: [users().sales.id] } }, users().sales)).status).toBe(403);

      const plain = await save({ name: 'Later scheduled', definition });
      expect(plain.body.data).toMatchObject({ schedule: null, nextRunAt: null });
      const id = plain.body.data.id as string;
      expect((await api().patch(`/api/v1/reports/${id}`).set(users().sales.auth).send({ schedule: { cron: '0 7 * * 1', recipients: [users().sales.id] } })).status).toBe(403);
      // In Berlin's time zone, 07:00 local is 05:00 or 06:00 UTC.
      const zoned = await api().patch(`/api/v1/reports/${id}`).set(manager.auth).send({ definition: { ...definition, timeZone: 'Europe/Berlin' }, schedule: { cron: '0 7 * * *', recipients: [manager.id] } });
      expect(zoned.status).toBe(200);
      expect([5, 6]).toContain(new Date(zoned.body.data.nextRunAt as string).getUTCHours());
      const names = (await get('/reports')).body.data.map((report: { name: string }) => report.name);
      expect(names).not.toContain('Bad');
      expect(names).not.toContain('Mine');
    });

    it('when another organization or no one asks for a report\'s runs, then 404 and 401', async () => {
      const made = await save({ name: 'Runs private to A', definition });
      const id = made.body.data.id as string;
      expect((await get(`/reports/${id}/runs`, world.b.users.admin)).status).toBe(404);
      expect((await api().get(`/api/v1/reports/${id}/runs`)).status).toBe(401);
      expect((await get(`/reports/${id}/runs?limit=0`)).status).toBe(400);
      expect((await get(`/reports/${id}/runs`)).body.data).toEqual([]);
    });
  });

  describe('custom fields in the builder', () => {
    // Tenant B's own fields and deals (closed, so no open pipeline of B's shows elsewhere in this file).
    const admin = () => world.b.users.admin;
    const runB = (body: Record<string, unknown>) => run(body, admin());

    beforeAll(async () => {
      const fields = [
        { resource: 'deals', key: 'region', label: 'Region', type: 'select', options: ['north', 'south'] },
        { resource: 'deals', key: 'tier', label: 'Tier', type: 'number' },
        { resource: 'deals', key: 'signed_on', label: 'Signed on', type: 'date' },
        { resource: 'deals', key: 'tags', label: 'Tags', type: 'multiselect', options: ['a', 'b'] },
      ];
      for (const field of fields) expect((await api().post('/api/v1/custom-fields').set(admin().auth).send(field)).status).toBe(201);
      const closed = { stage: 'closed_won', ownerId: admin().id, closedAt: new Date('2026-03-01T00:00:00Z') };
      await insertRows(world.owner, world.b.tenantId, 'deals', [
        { name: 'R1', amount: 100, ...closed, customFields: { region: 'north', tier: 1, signed_on: '2026-01-15', tags: ['a'] } },
        { name: 'R2', amount: 200, ...closed, customFields: { region: 'north', tier: 3, signed_on: '2026-02-01' } },
        { name: 'R3', amount: 400, ...closed, customFields: { region: 'south', tier: 2, signed_on: '2026-01-20' } },
        { name: 'R4', amount: 800, ...closed, customFields: {} },
      ]);
    });

    it('when deals are grouped by a select custom field, then a row per value (no value last) with its measures', async () => {
      const res = await runB({ resource: 'deals', groupBy: ['customFields.region'], measures: [{ fn: 'count' }, { fn: 'sum', field: 'amount' }] });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual([
        { 'customFields.region': 'north', count: 2, sumAmount: 300 },
        { 'customFields.region': 'south', count: 1, sumAmount: 400 },
        { 'customFields.region': null, count: 1, sumAmount: 800 },
      ]);
    });

    it('when grouped on two levels, a custom date by month, and filtered on a custom number range and a value list, then a row per value and month', async () => {
      const res = await runB({
        resource: 'deals',
        filters: { customFields: { tier: { gte: 2 } }, stage: 'closed_won' },
        groupBy: ['customFields.region', { field: 'customFields.signed_on', interval: 'month' }],
        sort: 'customFields.region',
      });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual([
        { 'customFields.region': 'north', 'customFields.signed_on': '2026-02-01', count: 1 },
        { 'customFields.region': 'south', 'customFields.signed_on': '2026-01-01', count: 1 },
      ]);
      const listed = await runB({ resource: 'deals', filters: { customFields: { region: ['north', 'south'], signed_on: { lte: '2026-01-31' } } } });
      expect(listed.body.data).toEqual([{ count: 2 }]);
      const saved = await api().post('/api/v1/reports').set(admin().auth).send({ name: 'By region', definition: { resource: 'deals', groupBy: ['customFields.region'] } });
      expect(saved.status).toBe(201);
      const csv = await api().get(`/api/v1/reports/${saved.body.data.id as string}/export`).set(admin().auth);
      expect(csv.text.split('\r\n')).toEqual(['customFields.region,count', 'north,2', 'south,1', ',1', '']);
    });

    it('when a custom field is unknown, another organization\'s, of a type that cannot group, or a value not of its type, then 400 names each', async () => {
      const cases: Array<[Record<string, unknown>, string[]]> = [
        [{ resource: 'deals', groupBy: ['customFields.nope'] }, ['groupBy.0']],
        [{ resource: 'deals', groupBy: ['customFields.tier'] }, ['groupBy.0']],
        [{ resource: 'deals', groupBy: ['customFields.tags'] }, ['groupBy.0']],
        [{ resource: 'deals', groupBy: ['customFields.signed_on'] }, ['groupBy.0']],
        [{ resource: 'deals', groupBy: [{ field: 'customFields.region', interval: 'month' }] }, ['groupBy.0.field']],
        [{ resource: 'leads', groupBy: ['customFields.region'] }, ['groupBy.0']],
        [{ resource: 'deals', filters: { customFields: { tier: 'many' } } }, ['filters.customFields.tier']],
        [{ resource: 'deals', filters: { customFields: { region: 'west' } } }, ['filters.customFields.region']],
        [{ resource: 'deals', filters: { customFields: { nope: 'x' } } }, ['filters.customFields.nope']],
        [{ resource: 'deals', filters: { customFields: { region: { gte: 'a' } } } }, ['filters.customFields.region']],
        [{ resource: 'deals', groupBy: ["customFields.region'); drop table deals; --"] }, ['groupBy.0']],
      ];
      for (const [body, fields] of cases) {
        const res = await runB(body);
        expect({ body, status: res.status, fields: errorFields(res) }).toEqual({ body, status: 400, fields });
      }
      // Tenant A has no such field: B's field names nothing in A.
      const foreign = await run({ resource: 'deals', groupBy: ['customFields.region'] });
      expect(foreign.status).toBe(400);
      expect(errorFields(foreign)).toEqual(['groupBy.0']);
    });
  });
});
