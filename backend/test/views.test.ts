import { CrmUser, crmWorld, errorFields } from './support/crm-fixtures';

describe('saved views', () => {
  const world = crmWorld();
  const api = () => world.api();
  const users = () => world.a.users;
  const save = async (user: CrmUser, body: Record<string, unknown>) => {
    const res = await api().post('/api/v1/views').set(user.auth).send({ resource: 'leads', name: 'A view', ...body });
    expect(res.status).toBe(201);
    return res.body.data as { id: string };
  };
  const seen = async (user: CrmUser) => ((await api().get('/api/v1/views?resource=leads').set(user.auth)).body.data as Array<{ id: string }>).map((view) => view.id);

  beforeAll(async () => {
    const field = await api().post('/api/v1/custom-fields').set(world.a.users.admin.auth).send({ resource: 'leads', key: 'budget', label: 'Budget', type: 'number' });
    expect(field.status).toBe(201);
    for (const [lastName, status, budget] of [['Alpha', 'new', 10], ['Bravo', 'contacted', 500], ['Charlie', 'new', 900], ['Delta', 'qualified', 5000]] as const) {
      expect((await api().post('/api/v1/leads').set(users().admin.auth).send({ lastName, status, source: 'views-test', customFields: { budget } })).status).toBe(201);
    }
  });

  it('when views are private, team or tenant, then each is seen by exactly its owner, their team, or everyone', async () => {
    const mine = await save(users().sales, { name: 'Mine', visibility: 'private' });
    const team = await save(users().sales, { name: 'Team', visibility: 'team' });
    const everyone = await save(users().sales, { name: 'Everyone', visibility: 'tenant' });
    expect(await seen(users().sales)).toEqual(expect.arrayContaining([mine.id, team.id, everyone.id]));
    const teammate = await seen(users().teammate);
    expect(teammate).toEqual(expect.arrayContaining([team.id, everyone.id]));
    expect(teammate).not.toContain(mine.id);
    const outsider = await seen(users().outsider);
    expect(outsider).toContain(everyone.id);
    expect(outsider).not.toContain(team.id);
    expect((await api().get(`/api/v1/views/${mine.id}`).set(users().outsider.auth)).status).toBe(404);
    // A view of a resource the caller may not read is as absent as any other.
    expect(await seen(users().support)).not.toContain(everyone.id);
    expect((await api().get(`/api/v1/views/${everyone.id}`).set(users().support.auth)).status).toBe(404);
  });

  it('when a list names a view, then its filters and sort apply and explicit parameters override them', async () => {
    const view = await save(users().sales, { name: 'New by budget', filters: { status: 'new', source: 'views-test' }, sort: '-customFields.budget', visibility: 'tenant' });
    const names = async (query: string, user = users().readOnly) => {
      const res = await api().get(`/api/v1/leads?view=${view.id}${query}`).set(user.auth);
      expect(res.status).toBe(200);
      return res.body.data.map((lead: { lastName: string }) => lead.lastName);
    };
    expect(await names('')).toEqual(['Charlie', 'Alpha']);
    expect(await names('&sort=customFields.budget')).toEqual(['Alpha', 'Charlie']);
    expect(await names('&status=qualified')).toEqual(['Delta']);
    const csv = await api().get(`/api/v1/leads/export/csv?view=${view.id}`).set(users().admin.auth);
    expect(csv.text.trim().split('\r\n')).toHaveLength(3);
  });

  it('when a view filters by a custom field, then the list honours it', async () => {
    const view = await save(users().manager, { name: 'Big budgets', filters: { source: 'views-test', customFields: { budget: { gte: 800 } } }, sort: 'customFields.budget' });
    const res = await api().get(`/api/v1/leads?view=${view.id}`).set(users().manager.auth);
    expect(res.body.data.map((lead: { lastName: string }) => lead.lastName)).toEqual(['Charlie', 'Delta']);
  });

  it('when someone else changes or deletes a view, then 403 unless a tenant admin', async () => {
    const view = await save(users().sales, { name: 'Shared', visibility: 'tenant' });
    expect((await api().patch(`/api/v1/views/${view.id}`).set(users().manager.auth).send({ name: 'Taken over' })).status).toBe(403);
    expect((await api().delete(`/api/v1/views/${view.id}`).set(users().teammate.auth)).status).toBe(403);
    const renamed = await api().patch(`/api/v1/views/${view.id}`).set(users().admin.auth).send({ name: 'Renamed by admin' });
    expect(renamed.status).toBe(200);
    expect(renamed.body.data.name).toBe('Renamed by admin');
    expect((await api().delete(`/api/v1/views/${view.id}`).set(users().sales.auth)).status).toBe(204);
    const audit = await api().get(`/api/v1/audit-logs?resourceType=view&resourceId=${view.id}`).set(users().admin.auth);
    // The two refused attempts are audited too.
    expect(audit.body.data.map((entry: { action: string }) => entry.action).sort()).toEqual(['request.failed', 'request.failed', 'view.create', 'view.delete', 'view.update']);
  });

  it('when a view does not fit its list, then 400 names the part', async () => {
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ filters: { colour: 'red' } }, ['filters.colour']],
      [{ filters: { status: 'sleeping' } }, ['filters.status']],
      [{ sort: 'shoeSize' }, ['sort']],
      [{ filters: { customFields: { nope: 1 } } }, ['query.customFields.nope']],
      [{ columns: ['lastName', 'shoeSize'] }, ['columns']],
      [{ resource: 'planets' }, ['resource']],
      [{ visibility: 'galaxy' }, ['visibility']],
    ];
    for (const [body, fields] of cases) {
      const res = await api().post('/api/v1/views').set(users().sales.auth).send({ resource: 'leads', name: 'Bad', ...body });
      expect(res.status).toBe(400);
      expect(errorFields(res)).toEqual(fields);
    }
    const noTeam = await api().post('/api/v1/views').set(users().manager.auth).send({ resource: 'leads', name: 'No team', visibility: 'team' });
    expect(errorFields(noTeam)).toEqual(['visibility']);
    const forbidden = await api().post('/api/v1/views').set(users().support.auth).send({ resource: 'leads', name: 'Cannot read' });
    expect(forbidden.status).toBe(403);
  });

  it('when a view filters by an id, then it must be a record of this organization', async () => {
    const foreign = await api().post('/api/v1/views').set(users().sales.auth).send({ resource: 'leads', name: 'Foreign owner', filters: { ownerId: world.b.users.admin.id } });
    expect(foreign.status).toBe(400);
    expect(errorFields(foreign)).toEqual(['filters.ownerId']);
    await save(users().sales, { name: 'Own owner', filters: { ownerId: users().sales.id } });
  });

  it('when another tenant names a view, then it is unknown there', async () => {
    const view = await save(users().admin, { name: 'Tenant wide', visibility: 'tenant' });
    const b = world.b.users.admin.auth;
    expect((await api().get(`/api/v1/views/${view.id}`).set(b)).status).toBe(404);
    expect((await api().patch(`/api/v1/views/${view.id}`).set(b).send({ name: 'Mine' })).status).toBe(404);
    expect((await api().delete(`/api/v1/views/${view.id}`).set(b)).status).toBe(404);
    const list = await api().get(`/api/v1/leads?view=${view.id}`).set(b);
    expect(list.status).toBe(400);
    expect(errorFields(list)).toEqual(['query.view']);
    expect((await api().get('/api/v1/views')).status).toBe(401);
  });
});
