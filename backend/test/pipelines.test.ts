import { createCrmTenant, CrmTenant, crmWorld, errorFields, inTenant, insertRows } from './support/crm-fixtures';

const DEFAULT_STAGES = [
  { key: 'qualification', name: 'Qualification', probability: 10, kind: 'open' },
  { key: 'needs_analysis', name: 'Needs analysis', probability: 25, kind: 'open' },
  { key: 'proposal', name: 'Proposal', probability: 50, kind: 'open' },
  { key: 'negotiation', name: 'Negotiation', probability: 75, kind: 'open' },
  { key: 'closed_won', name: 'Closed won', probability: 100, kind: 'won' },
  { key: 'closed_lost', name: 'Closed lost', probability: 0, kind: 'lost' },
];
const RENEWAL = {
  name: 'Renewals',
  stages: [
    { key: 'due', name: 'Due', probability: 60, kind: 'open' },
    { key: 'talking', name: 'Talking', probability: 80, kind: 'open' },
    { key: 'renewed', name: 'Renewed', probability: 100, kind: 'won' },
    { key: 'churned', name: 'Churned', probability: 0, kind: 'lost' },
  ],
};

describe('deal pipelines', () => {
  const world = crmWorld();
  const api = () => world.api();
  let tenant: CrmTenant;
  const admin = () => tenant.users.admin.auth;
  beforeAll(async () => {
    tenant = await createCrmTenant(world.t, ['admin', 'manager', 'sales', 'readOnly', 'support']);
  });
  const createPipeline = async (body: Record<string, unknown> = RENEWAL) => {
    const res = await api().post('/api/v1/pipelines').set(admin()).send(body);
    expect(res.status).toBe(201);
    return res.body.data as { id: string; stages: Array<{ key: string }> };
  };

  it('when an organization starts, then it has one default pipeline with the six built-in stages, and deals without one go there', async () => {
    const list = await api().get('/api/v1/pipelines').set(tenant.users.readOnly.auth);
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).toMatchObject({ name: 'Sales pipeline', isDefault: true, stages: DEFAULT_STAGES });
    const deal = await api().post('/api/v1/deals').set(admin()).send({ name: 'Plain' });
    expect(deal.status).toBe(201);
    expect(deal.body.data).toMatchObject({ pipelineId: list.body.data[0].id, stage: 'qualification', probability: 10 });
    // A row written without the API (an import, a script) joins the default pipeline too.
    const [raw] = await insertRows(world.owner, tenant.tenantId, 'deals', [{ name: 'Raw' }]);
    expect((await api().get(`/api/v1/deals/${raw}`).set(admin())).body.data).toMatchObject({ pipelineId: list.body.data[0].id, stage: 'qualification' });
  });

  it('when a deal names a pipeline, then its stage must be one of that pipeline and entering it takes its probability', async () => {
    const renewal = await createPipeline({ ...RENEWAL, name: 'Renewals A' });
    const ok = await api().post('/api/v1/deals').set(admin()).send({ name: 'Renew', pipelineId: renewal.id, stage: 'talking' });
    expect(ok.status).toBe(201);
    expect(ok.body.data).toMatchObject({ pipelineId: renewal.id, stage: 'talking', probability: 80, closedAt: null });
    const first = await api().post('/api/v1/deals').set(admin()).send({ name: 'First', pipelineId: renewal.id });
    expect(first.body.data.stage).toBe('due');
    const foreignStage = await api().post('/api/v1/deals').set(admin()).send({ name: 'Wrong', pipelineId: renewal.id, stage: 'proposal' });
    expect(foreignStage.status).toBe(400);
    expect(errorFields(foreignStage)).toEqual(['stage']);
    const won = await api().patch(`/api/v1/deals/${ok.body.data.id}`).set(admin()).send({ stage: 'renewed' });
    expect(won.status).toBe(200);
    expect(won.body.data.probability).toBe(100);
    expect(won.body.data.closedAt).not.toBeNull();
    const history = await inTenant(world.owner, tenant.tenantId, (trx) => trx('deal_stage_changes').where({ deal_id: ok.body.data.id }).orderBy('changed_at'));
    expect(history.map((row: { to_stage: string }) => row.to_stage)).toEqual(['talking', 'renewed']);
  });

  it('when a deal names another tenant\'s pipeline or an unknown one, then 400 names pipelineId', async () => {
    const foreign = (await api().get('/api/v1/pipelines').set(world.b.users.admin.auth)).body.data[0].id;
    const res = await api().post('/api/v1/deals').set(admin()).send({ name: 'Foreign', pipelineId: foreign });
    expect(res.status).toBe(400);
    expect(errorFields(res)).toEqual(['pipelineId']);
    expect((await api().get(`/api/v1/pipelines/${foreign}`).set(admin())).status).toBe(404);
    expect((await api().patch(`/api/v1/pipelines/${foreign}`).set(admin()).send({ name: 'Mine' })).status).toBe(404);
    expect((await api().delete(`/api/v1/pipelines/${foreign}`).set(admin())).status).toBe(404);
  });

  it('when the stages are given reordered, renamed and with a new one, then the pipeline keeps them in that order', async () => {
    const pipeline = await createPipeline({ ...RENEWAL, name: 'Renewals B' });
    const [due, talking, renewed, churned] = RENEWAL.stages;
    const stages = [due, { ...talking!, name: 'In talks', probability: 70 }, { key: 'signed', name: 'Signed', probability: 95, kind: 'open' }, churned, renewed];
    const res = await api().patch(`/api/v1/pipelines/${pipeline.id}`).set(admin()).send({ name: 'Renewals B2', stages });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ name: 'Renewals B2', stages });
  });

  it('when a stage in use is removed, then moveTo is required and the deals move with their history', async () => {
    const pipeline = await createPipeline({ ...RENEWAL, name: 'Renewals C' });
    const deal = (await api().post('/api/v1/deals').set(admin()).send({ name: 'Mover', pipelineId: pipeline.id, stage: 'talking' })).body.data;
    const without = RENEWAL.stages.filter((stage) => stage.key !== 'talking');
    const refused = await api().patch(`/api/v1/pipelines/${pipeline.id}`).set(admin()).send({ stages: without });
    expect(refused.status).toBe(409);
    expect(errorFields(refused)).toEqual(['moveTo.talking']);
    expect((await api().get(`/api/v1/pipelines/${pipeline.id}`).set(admin())).body.data.stages).toHaveLength(4);
    const moved = await api().patch(`/api/v1/pipelines/${pipeline.id}`).set(admin()).send({ stages: without, moveTo: { talking: 'renewed' } });
    expect(moved.status).toBe(200);
    expect(moved.body.data.stages.map((stage: { key: string }) => stage.key)).toEqual(['due', 'renewed', 'churned']);
    expect((await api().get(`/api/v1/deals/${deal.id}`).set(admin())).body.data).toMatchObject({ stage: 'renewed', probability: 100 });
    const history = await inTenant(world.owner, tenant.tenantId, (trx) => trx('deal_stage_changes').where({ deal_id: deal.id }).orderBy('changed_at'));
    expect(history.map((row: { from_stage: string | null; to_stage: string }) => [row.from_stage, row.to_stage])).toEqual([[null, 'talking'], ['talking', 'renewed']]);
    const audit = await api().get(`/api/v1/audit-logs?resourceType=pipeline&resourceId=${pipeline.id}`).set(admin());
    expect(audit.body.data.find((entry: { action: string }) => entry.action === 'pipeline.update').changes.dealsMoved).toEqual({ before: null, after: 1 });
  });

  it('when the forecast names a pipeline, then it sums only its deals, weighted by their stages', async () => {
    const pipeline = await createPipeline({ ...RENEWAL, name: 'Renewals D' });
    await api().post('/api/v1/deals').set(admin()).send({ name: 'D1', pipelineId: pipeline.id, stage: 'due', amount: 1000, expectedCloseDate: '2027-05-01' });
    await api().post('/api/v1/deals').set(admin()).send({ name: 'D2', pipelineId: pipeline.id, stage: 'talking', amount: 500, expectedCloseDate: '2027-05-20' });
    await insertRows(world.owner, tenant.tenantId, 'deals', [{ name: 'D3', pipelineId: pipeline.id, stage: 'due', amount: 100, currency: 'USD' }]);
    const res = await api().get(`/api/v1/deals/forecast?pipelineId=${pipeline.id}`).set(tenant.users.readOnly.auth);
    expect(res.status).toBe(200);
    expect(res.body.data.byStage).toEqual([
      { stage: 'due', currency: 'USD', count: 2, amount: 1100, weightedAmount: 660 },
      { stage: 'talking', currency: 'USD', count: 1, amount: 500, weightedAmount: 400 },
    ]);
    expect(res.body.data.byCloseMonth).toEqual([{ month: '2027-05', currency: 'USD', count: 2, amount: 1500, weightedAmount: 1000 }]);
    expect((await api().get('/api/v1/deals/forecast?pipelineId=nope').set(admin())).status).toBe(400);
  });

  it('when deals are imported, then each row joins its pipeline, and a stage not of it is that row\'s error', async () => {
    const pipeline = await createPipeline({ ...RENEWAL, name: 'Renewals Import' });
    const rows = [
      { name: 'Imported default' },
      { name: 'Imported renewal', pipelineId: pipeline.id, stage: 'talking' },
      { name: 'Imported wrong', pipelineId: pipeline.id, stage: 'proposal' },
    ];
    const res = await api().post('/api/v1/deals/import/bulk?mode=valid-only').set(admin()).send(rows);
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ created: 2, failed: 1, errors: [{ row: 3, field: 'stage' }] });
    const renewal = await api().get(`/api/v1/deals?pipelineId=${pipeline.id}`).set(admin());
    expect(renewal.body.data.map((deal: { name: string; stage: string; probability: number }) => [deal.name, deal.stage, deal.probability])).toEqual([['Imported renewal', 'talking', 80]]);
  });

  it('when a pipeline is deleted, then only an unused, non-default one goes', async () => {
    const used = await createPipeline({ ...RENEWAL, name: 'Renewals E' });
    await api().post('/api/v1/deals').set(admin()).send({ name: 'Keeps it', pipelineId: used.id });
    expect((await api().delete(`/api/v1/pipelines/${used.id}`).set(admin())).status).toBe(409);
    const defaultId = (await api().get('/api/v1/pipelines').set(admin())).body.data[0].id;
    expect((await api().delete(`/api/v1/pipelines/${defaultId}`).set(admin())).status).toBe(409);
    const unused = await createPipeline({ ...RENEWAL, name: 'Renewals F' });
    expect((await api().delete(`/api/v1/pipelines/${unused.id}`).set(admin())).status).toBe(204);
    expect((await api().get(`/api/v1/pipelines/${unused.id}`).set(admin())).status).toBe(404);
  });

  it('when the body is malformed, then 400 names each problem, and a taken name is a 409', async () => {
    const bad = await api().post('/api/v1/pipelines').set(admin()).send({ name: '', stages: [{ key: 'Bad Key', name: 'x', probability: 101, kind: 'maybe' }] });
    expect(bad.status).toBe(400);
    expect(errorFields(bad)).toEqual(['name', 'stages.0.key', 'stages.0.kind', 'stages.0.probability']);
    const wonFirst = await api().post('/api/v1/pipelines').set(admin()).send({ name: 'Won first', stages: [{ key: 'w', name: 'W', probability: 100, kind: 'won' }] });
    expect(errorFields(wonFirst)).toEqual(['stages.0.kind']);
    const dupKeys = await api().post('/api/v1/pipelines').set(admin()).send({ name: 'Dups', stages: [RENEWAL.stages[0], RENEWAL.stages[0]] });
    expect(dupKeys.status).toBe(400);
    await createPipeline({ ...RENEWAL, name: 'Taken' });
    const taken = await api().post('/api/v1/pipelines').set(admin()).send({ ...RENEWAL, name: 'Taken' });
    expect(taken.status).toBe(409);
    expect(errorFields(taken)).toEqual(['name']);
  });

  it('when a caller without pipelines:manage writes, or one without deals:read reads, then 403; without a token 401', async () => {
    for (const persona of ['sales', 'readOnly'] as const) {
      expect((await api().post('/api/v1/pipelines').set(tenant.users[persona].auth).send({ ...RENEWAL, name: `By ${persona}` })).status).toBe(403);
    }
    expect((await api().post('/api/v1/pipelines').set(tenant.users.manager.auth).send({ ...RENEWAL, name: 'By manager' })).status).toBe(201);
    expect((await api().get('/api/v1/pipelines').set(tenant.users.support.auth)).status).toBe(403);
    expect((await api().get('/api/v1/pipelines')).status).toBe(401);
  });
});
