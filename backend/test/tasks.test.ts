import { createCrmTenant, crmWorld, CrmTenant, errorFields, insertRows, walkList } from './support/crm-fixtures';
import { describeRecordRoutes, describeRelatedRecord } from './support/crm-record-routes';

const STATUSES = ['open', 'in_progress', 'done', 'cancelled'] as const;
const PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;

describe('tasks', () => {
  const world = crmWorld();
  const api = () => world.api();
  let serial = 0;
  const taskBody = () => {
    serial += 1;
    return { title: `Call back ${serial}`, description: 'About the renewal', dueDate: '2027-01-15T09:30:00.000Z', priority: 'high', status: 'open' };
  };

  describeRecordRoutes(world, {
    resource: 'tasks',
    singular: 'task',
    ownerField: 'assigneeId',
    body: taskBody,
    patch: { priority: 'low', title: 'Call back later', dueDate: null },
    text: { field: 'title', max: 200 },
    invalid: [
      ['no title', { title: '' }, ['title']],
      ['an unknown status', { status: 'finished' }, ['status']],
      ['an unknown priority', { priority: 'critical' }, ['priority']],
      ['a due date in words', { dueDate: 'tomorrow' }, ['dueDate']],
      ['a description over 10,000 characters', { description: 'd'.repeat(10_001) }, ['description']],
    ],
    row: (i) => ({ title: `Task ${String(i % 31).padStart(2, '0')}`, status: STATUSES[i % 4], priority: PRIORITIES[i % 4] }),
    sort: { key: 'title', orderBy: (d) => `title ${d}, id ${d}` },
    searchColumn: 'title',
    relatable: false,
  });

  describeRelatedRecord(world, 'tasks', taskBody);

  it('when a task is done, then completedAt is set; when it is reopened, then it is cleared', async () => {
    const { auth } = world.a.users.admin;
    const task = (await api().post('/api/v1/tasks').set(auth).send({ title: 'Finish me' })).body.data;
    expect(task).toMatchObject({ status: 'open', priority: 'medium', completedAt: null });
    const done = await api().patch(`/api/v1/tasks/${task.id}`).set(auth).send({ status: 'done' });
    expect(done.body.data.completedAt).toEqual(expect.any(String));
    expect(Math.abs(Date.parse(done.body.data.completedAt) - Date.now())).toBeLessThan(60_000);
    const renamed = await api().patch(`/api/v1/tasks/${task.id}`).set(auth).send({ title: 'Finished' });
    expect(renamed.body.data.completedAt).toBe(done.body.data.completedAt);
    const reopened = await api().patch(`/api/v1/tasks/${task.id}`).set(auth).send({ status: 'in_progress' });
    expect(reopened.body.data.completedAt).toBeNull();
  });

  it('when a task is created done, then completedAt is set at once', async () => {
    const res = await api().post('/api/v1/tasks').set(world.a.users.admin.auth).send({ title: 'Already done', status: 'done' });
    expect(res.body.data.completedAt).toEqual(expect.any(String));
  });

  describe('task filters', () => {
    let tenant: CrmTenant;
    let ids: string[];
    const due = (i: number) => new Date(Date.UTC(2027, 0, 1 + i));
    beforeAll(async () => {
      tenant = await createCrmTenant(world.t, ['admin', 'sales']);
      ids = await insertRows(
        world.owner,
        tenant.tenantId,
        'tasks',
        Array.from({ length: 40 }, (_, i) => ({
          title: `Filtered ${i}`,
          status: STATUSES[i % 4],
          priority: PRIORITIES[(i >> 2) % 4],
          dueDate: due(i),
          assigneeId: i % 5 === 0 ? tenant.users.sales.id : tenant.users.admin.id,
        })),
      );
    });
    const list = (query: Record<string, string | number>) => walkList(world, tenant.users.admin.auth, 'tasks', { limit: 500, ...query });
    const expected = (predicate: (i: number) => boolean) => new Set(ids.filter((_, i) => predicate(i)));

    it('when filtered by status, priority, assignee or a due range, then exactly the matching tasks come back', async () => {
      expect(new Set((await list({ status: 'done' })).ids)).toEqual(expected((i) => i % 4 === 2));
      expect(new Set((await list({ priority: 'urgent' })).ids)).toEqual(expected((i) => (i >> 2) % 4 === 3));
      expect(new Set((await list({ assigneeId: tenant.users.sales.id })).ids)).toEqual(expected((i) => i % 5 === 0));
      const range = await list({ dueAfter: due(10).toISOString(), dueBefore: due(14).toISOString() });
      expect(new Set(range.ids)).toEqual(expected((i) => i >= 10 && i <= 14));
    });

    it('when a filter value is malformed, then 400 names it', async () => {
      for (const [query, field] of [
        [{ status: 'finished' }, 'query.status'],
        [{ dueBefore: 'someday' }, 'query.dueBefore'],
        [{ assigneeId: 'me' }, 'query.assigneeId'],
        [{ relatedId: 'x' }, 'query.relatedId'],
      ] as const) {
        const res = await api().get('/api/v1/tasks').query(query).set(tenant.users.admin.auth);
        expect({ query, status: res.status, fields: errorFields(res) }).toEqual({ query, status: 400, fields: [field] });
      }
    });
  });
});
