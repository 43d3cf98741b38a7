import { countRows, crmWorld, inTenant, UUID } from './support/crm-fixtures';
import { eventually } from './support/eventually';

interface Item {
  index: number;
  status: number;
  id?: string;
  error?: { code: string; message: string; details?: Array<{ field?: string; message: string }> };
}

describe('batch writes and external ids', () => {
  const world = crmWorld();
  const api = () => world.api();
  const a = () => world.a.users;
  const batch = async (resource: string, body: object, auth = a().admin.auth, headers: Record<string, string> = {}) =>
    api().post(`/api/v1/${resource}/batch`).set(auth).set(headers).send(body);
  const items = (res: { status: number; body: { data: Item[] } }): Item[] => {
    expect(res.status).toBe(200);
    return res.body.data;
  };
  const leadsWith = async (externalId: string) =>
    (await api().get(`/api/v1/leads?externalId=${encodeURIComponent(externalId)}`).set(a().admin.auth)).body.data as Array<Record<string, unknown>>;
  const liveLeadsNamed = (lastName: string) =>
    inTenant(world.owner, world.a.tenantId, async (trx) =>
      Number((await trx('leads').where({ tenant_id: world.a.tenantId, last_name: lastName }).whereNull('deleted_at').count({ n: '*' }))[0]!.n),
    );
  const auditOf = async (id: string) =>
    (await api().get(`/api/v1/audit-logs?resourceType=lead&resourceId=${id}`).set(a().admin.auth)).body.data as Array<{ action: string }>;

  describe('externalId', () => {
    it('when a record is created with an externalId, then lists filter by it, and a second live record with the same one is a 409 until the first is deleted', async () => {
      const made = await api().post('/api/v1/contacts').set(a().admin.auth).send({ lastName: 'Synced', externalId: 'crm-42' });
      expect(made.status).toBe(201);
      expect(made.body.data.externalId).toBe('crm-42');
      const listed = await api().get('/api/v1/contacts?externalId=crm-42').set(a().admin.auth);
      expect(listed.body.data.map((contact: { id: string }) => contact.id)).toEqual([made.body.data.id]);

      const twin = await api().post('/api/v1/contacts').set(a().admin.auth).send({ lastName: 'Twin', externalId: 'crm-42' });
      expect(twin.status).toBe(409);
      expect(twin.body.error.details).toEqual([expect.objectContaining({ field: 'externalId' })]);
      // Another organization may use the same external id.
      expect((await api().post('/api/v1/contacts').set(world.b.users.admin.auth).send({ lastName: 'Elsewhere', externalId: 'crm-42' })).status).toBe(201);

      expect((await api().delete(`/api/v1/contacts/${made.body.data.id}`).set(a().admin.auth)).status).toBe(204);
      expect((await api().post('/api/v1/contacts').set(a().admin.auth).send({ lastName: 'Successor', externalId: 'crm-42' })).status).toBe(201);
    });

    it('when an externalId is empty or too long, then 400 naming it', async () => {
      for (const externalId of ['', 'x'.repeat(256)]) {
        const res = await api().post('/api/v1/tickets').set(a().admin.auth).send({ subject: 'Bad id', externalId });
        expect(res.status).toBe(400);
        expect(res.body.error.details.map((detail: { field: string }) => detail.field)).toContain('externalId');
      }
    });
  });

  describe('POST /{resource}/batch', () => {
    it('when some operations fail, then each item has its own status, the failed ones leave no trace, and every stored one is audited and in the change feed', async () => {
      const existing = (await api().post('/api/v1/leads').set(a().admin.auth).send({ lastName: 'To update' })).body.data.id as string;
      const doomed = (await api().post('/api/v1/leads').set(a().admin.auth).send({ lastName: 'To delete' })).body.data.id as string;
      const foreign = (await api().post('/api/v1/leads').set(world.b.users.admin.auth).send({ lastName: 'Foreign' })).body.data.id as string;
      const res = await batch('leads', {
        operations: [
          { op: 'create', data: { lastName: 'Batch made', externalId: 'partial-1' } },
          { op: 'create', data: { lastName: 'Batch made', email: 'not-an-email' } },
          { op: 'update', id: existing, data: { status: 'contacted' } },
          { op: 'update', id: foreign, data: { status: 'contacted' } },
          { op: 'upsert', match: { externalId: 'partial-2' }, data: { lastName: 'Batch made' } },
          { op: 'delete', id: doomed },
          { op: 'create', id: existing, data: { lastName: 'Batch made' } },
        ],
      });
      const result = items(res);
      expect(result.map((item) => [item.index, item.status])).toEqual([
        [0, 201],
        [1, 400],
        [2, 200],
        [3, 404],
        [4, 201],
        [5, 204],
        [6, 400],
      ]);
      expect(result[0]!.id).toMatch(UUID);
      expect(result[1]!.error).toMatchObject({ code: 'VALIDATION_ERROR', details: [expect.objectContaining({ field: 'data.email' })] });
      expect(result[3]!.error?.code).toBe('NOT_FOUND');
      expect(result[3]!.id).toBeUndefined();
      expect(await liveLeadsNamed('Batch made')).toBe(2);
      expect((await api().get(`/api/v1/leads/${existing}`).set(a().admin.auth)).body.data.status).toBe('contacted');
      expect((await api().get(`/api/v1/leads/${doomed}`).set(a().admin.auth)).status).toBe(404);
      // The other organization's lead is untouched.
      expect((await api().get(`/api/v1/leads/${foreign}`).set(world.b.users.admin.auth)).body.data.status).toBe('new');

      expect((await auditOf(result[0]!.id!)).map((entry) => entry.action)).toEqual(['lead.create']);
      expect((await auditOf(existing)).map((entry) => entry.action)).toContain('lead.update');
      expect((await auditOf(doomed)).map((entry) => entry.action)).toContain('lead.delete');
      await eventually(async () => {
        const feed = (await api().get('/api/v1/events?types=lead.*&limit=1000').set(a().admin.auth)).body.data as Array<{ type: string; resourceId: string }>;
        const of = (id: string) => feed.filter((event) => event.resourceId === id).map((event) => event.type);
        return (
          of(result[0]!.id!).join() === 'lead.created' &&
          of(result[4]!.id!).join() === 'lead.created' &&
          of(existing).join() === 'lead.created,lead.updated' &&
          of(doomed).join() === 'lead.created,lead.deleted'
        );
      });
    });

    it('when an atomic batch has one failing operation, then nothing is stored, the failed item has its error and the others 424 BATCH_ROLLED_BACK', async () => {
      const existing = (await api().post('/api/v1/leads').set(a().admin.auth).send({ lastName: 'Atomic target' })).body.data.id as string;
      const res = await batch('leads', {
        atomic: true,
        operations: [
          { op: 'create', data: { lastName: 'Atomic made', externalId: 'atomic-1' } },
          { op: 'update', id: existing, data: { status: 'qualified' } },
          { op: 'update', id: '00000000-0000-4000-8000-000000000000', data: { status: 'qualified' } },
          { op: 'create', data: { lastName: 'Atomic made' } },
        ],
      });
      const result = items(res);
      expect(result.map((item) => [item.status, item.error?.code])).toEqual([
        [424, 'BATCH_ROLLED_BACK'],
        [424, 'BATCH_ROLLED_BACK'],
        [404, 'NOT_FOUND'],
        [424, 'BATCH_ROLLED_BACK'],
      ]);
      expect(await liveLeadsNamed('Atomic made')).toBe(0);
      expect(await leadsWith('atomic-1')).toEqual([]);
      expect((await api().get(`/api/v1/leads/${existing}`).set(a().admin.auth)).body.data.status).toBe('new');
      expect((await auditOf(existing)).map((entry) => entry.action)).toEqual(['lead.create']);

      const fine = items(await batch('leads', { atomic: true, operations: [{ op: 'create', data: { lastName: 'Atomic made' } }, { op: 'update', id: existing, data: { status: 'qualified' } }] }));
      expect(fine.map((item) => item.status)).toEqual([201, 200]);
      expect(await liveLeadsNamed('Atomic made')).toBe(1);
    });

    it('when a record is upserted by externalId, by email and by domain, then the first creates it and the next update it, matched without case', async () => {
      const first = items(await batch('leads', { operations: [{ op: 'upsert', match: { externalId: 'up-1' }, data: { lastName: 'Upserted', score: 10 } }] }));
      const again = items(await batch('leads', { operations: [{ op: 'upsert', match: { externalId: 'up-1' }, data: { score: 20 } }] }));
      expect([first[0]!.status, again[0]!.status]).toEqual([201, 200]);
      expect(again[0]!.id).toBe(first[0]!.id);
      expect(await leadsWith('up-1')).toEqual([expect.objectContaining({ id: first[0]!.id, score: 20, lastName: 'Upserted', externalId: 'up-1' })]);

      const byEmail = items(
        await batch('contacts', {
          operations: [
            { op: 'upsert', match: { email: 'Ada@Example.com' }, data: { lastName: 'Lovelace' } },
            { op: 'upsert', match: { email: 'ada@example.com' }, data: { title: 'Countess' } },
          ],
        }),
      );
      expect(byEmail.map((item) => item.status)).toEqual([201, 200]);
      expect(byEmail[1]!.id).toBe(byEmail[0]!.id);
      const byDomain = items(
        await batch('accounts', {
          operations: [
            { op: 'upsert', match: { domain: 'example.org' }, data: { name: 'Example' } },
            { op: 'upsert', match: { domain: 'EXAMPLE.org' }, data: { industry: 'Software' } },
            { op: 'delete', match: { domain: 'example.org' } },
          ],
        }),
      );
      expect(byDomain.map((item) => item.status)).toEqual([201, 200, 204]);
      // email is not a key of accounts; a match names one key.
      expect((await batch('accounts', { operations: [{ op: 'upsert', match: { email: 'a@b.co' }, data: { name: 'X' } }] })).status).toBe(400);
      expect((await batch('leads', { operations: [{ op: 'upsert', match: { externalId: 'a', email: 'a@b.co' }, data: {} }] })).status).toBe(400);
    });

    it('when two batches upsert the same external ids at the same time, then each key has exactly one record, created by one batch and updated by the other', async () => {
      const keys = Array.from({ length: 40 }, (_, n) => `race-${n}`);
      const send = (label: string) => batch('leads', { operations: keys.map((externalId) => ({ op: 'upsert', match: { externalId }, data: { lastName: 'Racer', title: label } })) });
      const [one, two] = await Promise.all([send('one'), send('two')]);
      const [first, second] = [items(one), items(two)];
      for (const [n, externalId] of keys.entries()) {
        expect([first[n]!.status, second[n]!.status].sort()).toEqual([200, 201]);
        expect(first[n]!.id).toBe(second[n]!.id);
        expect(await leadsWith(externalId)).toHaveLength(1);
      }
      expect(await liveLeadsNamed('Racer')).toBe(keys.length);
    });

    it('when a batch is sent again with the same Idempotency-Key, then the first answer is replayed and nothing is written twice', async () => {
      const body = { operations: [{ op: 'create', data: { lastName: 'Once only' } }, { op: 'create', data: { lastName: 'Once only' } }] };
      const headers = { 'Idempotency-Key': `batch-${Date.now()}` };
      const first = await batch('leads', body, a().admin.auth, headers);
      const replay = await batch('leads', body, a().admin.auth, headers);
      expect(replay.status).toBe(200);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(first.body);
      expect(await liveLeadsNamed('Once only')).toBe(2);
      // A run of creates is stored in one INSERT, and each record is still audited as its own create.
      for (const item of first.body.data as Item[]) expect((await auditOf(item.id!)).map((entry) => entry.action)).toEqual(['lead.create']);
    });

    it('when a batch has more than 100 operations, none, or a malformed one, then 400 and nothing is stored', async () => {
      const create = { op: 'create', data: { lastName: 'Too many' } };
      const tooMany = await batch('leads', { operations: Array.from({ length: 101 }, () => create) });
      expect(tooMany.status).toBe(400);
      expect(tooMany.body.error.details[0].field).toBe('operations');
      expect((await batch('leads', { operations: [] })).status).toBe(400);
      expect((await batch('leads', { operations: [{ op: 'merge', data: {} }] })).status).toBe(400);
      expect((await batch('leads', { operations: [{ op: 'update', id: 'not-a-uuid', data: {} }] })).status).toBe(400);
      expect(await liveLeadsNamed('Too many')).toBe(0);
      const hundred = items(await batch('leads', { operations: Array.from({ length: 100 }, () => create) }));
      expect(hundred.every((item) => item.status === 201)).toBe(true);
      expect(await liveLeadsNamed('Too many')).toBe(100);
    });

    it("when the caller lacks the resource's write permission, then 403; without its delete permission, then each delete item is 403 and the rest stand", async () => {
      const operations = [{ op: 'create', data: { subject: 'Denied?' } }];
      expect((await batch('tickets', { operations }, a().sales.auth)).status).toBe(403);
      expect((await batch('leads', { operations: [{ op: 'create', data: { lastName: 'Nope' } }] }, a().readOnly.auth)).status).toBe(403);
      expect((await api().post('/api/v1/leads/batch').send({ operations })).status).toBe(401);

      const activity = (await api().post('/api/v1/activities').set(a().support.auth).send({ type: 'note', subject: 'Keep me' })).body.data.id as string;
      const result = items(
        await batch(
          'activities',
          {
            operations: [
              { op: 'delete', id: activity },
              { op: 'create', data: { type: 'note', subject: 'Made by support' } },
            ],
          },
          a().support.auth,
        ),
      );
      expect(result.map((item) => [item.status, item.error?.code])).toEqual([
        [403, 'FORBIDDEN'],
        [201, undefined],
      ]);
      expect((await api().get(`/api/v1/activities/${activity}`).set(a().support.auth)).status).toBe(200);
    });

    it('when ids of another organization are named, then their items are 404 and nothing of theirs changes', async () => {
      const theirs = (await api().post('/api/v1/accounts').set(world.b.users.admin.auth).send({ name: 'Theirs', externalId: 'shared-key' })).body.data.id as string;
      const before = await countRows(world.owner, world.b.tenantId, 'accounts');
      const result = items(
        await batch('accounts', {
          operations: [
            { op: 'update', id: theirs, data: { name: 'Mine now' } },
            { op: 'delete', id: theirs },
            { op: 'update', match: { externalId: 'shared-key' }, data: { name: 'Mine now' } },
            { op: 'upsert', match: { externalId: 'shared-key' }, data: { name: 'Ours' } },
          ],
        }),
      );
      expect(result.map((item) => item.status)).toEqual([404, 404, 404, 201]);
      expect(result[3]!.id).not.toBe(theirs);
      expect((await api().get(`/api/v1/accounts/${theirs}`).set(world.b.users.admin.auth)).body.data).toMatchObject({ name: 'Theirs', externalId: 'shared-key' });
      expect(await countRows(world.owner, world.b.tenantId, 'accounts')).toBe(before);
    });
  });
});
