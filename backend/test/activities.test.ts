import { createCrmTenant, crmWorld, CrmTenant, errorFields, insertRows, walkList } from './support/crm-fixtures';
import { describeRecordRoutes, describeRelatedRecord } from './support/crm-record-routes';

const TYPES = ['call', 'email', 'meeting', 'note'] as const;

describe('activities', () => {
  const world = crmWorld();
  const api = () => world.api();
  let serial = 0;
  const activityBody = () => {
    serial += 1;
    return { type: 'call', subject: `Discovery call ${serial}`, body: 'Talked about pricing', occurredAt: '2026-10-01T10:00:00.000Z', durationMinutes: 30 };
  };
  const origin = Date.UTC(2026, 5, 1);

  describeRecordRoutes(world, {
    resource: 'activities',
    singular: 'activity',
    ownerField: 'ownerId',
    body: activityBody,
    patch: { subject: 'Follow-up call', durationMinutes: 45, type: 'meeting' },
    text: { field: 'subject', max: 300 },
    invalid: [
      ['no type', { type: null }, ['type']],
      ['an unknown type', { type: 'fax' }, ['type']],
      ['a negative duration', { durationMinutes: -5 }, ['durationMinutes']],
      ['a fractional duration', { durationMinutes: 1.5 }, ['durationMinutes']],
      ['an occurredAt in words', { occurredAt: 'yesterday' }, ['occurredAt']],
      ['a body over 20,000 characters', { body: 'b'.repeat(20_001) }, ['body']],
    ],
    // Every third activity shares its minute with the previous one: ties the keyset must break by id.
    row: (i) => ({ type: TYPES[i % 4], subject: `Activity ${i}`, occurredAt: new Date(origin - Math.floor((i * 2) / 3) * 60_000) }),
    sort: { key: 'occurredAt', orderBy: (d) => `occurred_at ${d}, id ${d}` },
    searchColumn: 'subject',
    relatable: false,
  });

  describeRelatedRecord(world, 'activities', activityBody);

  it('when occurredAt is left out, then it is the time of creation', async () => {
    const res = await api().post('/api/v1/activities').set(world.a.users.admin.auth).send({ type: 'note', subject: 'Just now' });
    expect(res.status).toBe(201);
    expect(Math.abs(Date.parse(res.body.data.occurredAt) - Date.now())).toBeLessThan(60_000);
  });

  it("when a support user logs a call on a ticket, then it is stored and shows on the ticket's timeline", async () => {
    const { support } = world.a.users;
    const ticket = (await api().post('/api/v1/tickets').set(support.auth).send({ subject: 'Cannot log in' })).body.data;
    const call = await api()
      .post('/api/v1/activities')
      .set(support.auth)
      .send({ type: 'call', subject: 'Walked them through it', relatedType: 'ticket', relatedId: ticket.id });
    expect(call.status).toBe(201);
    expect(call.body.data.ownerId).toBe(support.id);
    const timeline = await api().get(`/api/v1/tickets/${ticket.id}/timeline`).set(support.auth);
    expect(timeline.body.data.filter((event: { kind: string }) => event.kind === 'activity')).toEqual([
      { kind: 'activity', at: call.body.data.occurredAt, activity: expect.objectContaining({ id: call.body.data.id, type: 'call', subject: 'Walked them through it' }) },
    ]);
  });

  describe('activity filters', () => {
    let tenant: CrmTenant;
    let ids: string[];
    const at = (i: number) => new Date(origin + i * 3_600_000);
    beforeAll(async () => {
      tenant = await createCrmTenant(world.t, ['admin']);
      ids = await insertRows(
        world.owner,
        tenant.tenantId,
        'activities',
        Array.from({ length: 24 }, (_, i) => ({ type: TYPES[i % 4], subject: `Filtered ${i}`, occurredAt: at(i) })),
      );
    });
    const list = (query: Record<string, string | number>) => walkList(world, tenant.users.admin.auth, 'activities', { limit: 500, ...query });

    it('when filtered by type or an occurredAt range, then exactly the matching activities come back', async () => {
      expect(new Set((await list({ type: 'meeting' })).ids)).toEqual(new Set(ids.filter((_, i) => i % 4 === 2)));
      const range = await list({ occurredAfter: at(5).toISOString(), occurredBefore: at(9).toISOString(), sort: 'occurredAt' });
      expect(range.ids).toEqual(ids.slice(5, 10));
    });

    it('when a filter value is malformed, then 400 names it', async () => {
      for (const [query, field] of [
        [{ type: 'fax' }, 'query.type'],
        [{ occurredAfter: 'noon' }, 'query.occurredAfter'],
        [{ sort: '-subject' }, 'query.sort'],
      ] as const) {
        const res = await api().get('/api/v1/activities').query(query).set(tenant.users.admin.auth);
        expect({ query, status: res.status, fields: errorFields(res) }).toEqual({ query, status: 400, fields: [field] });
      }
    });
  });
});
