import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { eventually } from './eventually';
import {
  countRows,
  createCrmTenant,
  CrmResource,
  CrmTenant,
  CrmUser,
  CrmWorld,
  errorFields,
  expectApiRecord,
  insertAuditEntry,
  insertRows,
  ISO_TIMESTAMP,
  orderedIds,
  ROLE_MATRIX,
  storedRow,
  walkList,
} from './crm-fixtures';

/** What the shared contract needs to know about one resource. */
export interface RecordRoutesSpec {
  resource: CrmResource;
  /** The record type in timelines, audit entries and activities' relatedType. */
  singular: string;
  ownerField: 'ownerId' | 'assigneeId';
  /** A valid create body, different on every call, echoed as sent by the answer. */
  body(): Record<string, unknown>;
  /** A valid change, echoed as sent by the answer. */
  patch: Record<string, unknown>;
  /** A free-text field and its maximum length. */
  text: { field: string; max: number };
  /** Resource-specific bad bodies (merged over a valid one) and the fields their 400 names. */
  invalid: Array<[label: string, body: Record<string, unknown>, fields: string[]]>;
  /** A row for direct insertion (camelCase columns; created_at is set by the suite). */
  row(index: number): Record<string, unknown>;
  /** A whitelisted sort besides the timestamps, and the SQL order it must give (the oracle). */
  sort: { key: string; orderBy(direction: 'asc' | 'desc'): string };
  /** A text column of the full-text search, set on some inserted rows. */
  searchColumn: string;
  /** Whether activities may point at this kind of record (their timeline shows them). */
  relatable: boolean;
}

type Auth = { Authorization: string };

/** The routes every CRM resource shares: create, read, update, delete, timeline and the list. */
export function describeRecordRoutes(world: CrmWorld, spec: RecordRoutesSpec): void {
  const base = `/api/v1/${spec.resource}`;
  const api = () => world.api();
  const admin = () => world.a.users.admin;
  const create = async (auth: Auth, body: Record<string, unknown> = {}) => {
    const res = await api().post(base).set(auth).send({ ...spec.body(), ...body });
    if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.data as Record<string, unknown> & { id: string };
  };
  const ownedBy = (user: CrmUser) => create(admin().auth, { [spec.ownerField]: user.id });
  const stored = (id: string, tenant: CrmTenant = world.a) => storedRow(world.owner, tenant.tenantId, spec.resource, id);
  const count = (tenant: CrmTenant = world.a) => countRows(world.owner, tenant.tenantId, spec.resource);

  describe(`${spec.resource}: create, read, update, delete`, () => {
    it('when an admin creates a record, then 201 answers it in the API shape, owned by the caller, and GET reads the same', async () => {
      const body = spec.body();
      const res = await api().post(base).set(admin().auth).send(body);
      expect(res.status).toBe(201);
      const record = res.body.data;
      expectApiRecord(record);
      expect(record).toMatchObject({ ...body, [spec.ownerField]: admin().id, createdBy: admin().id, updatedBy: admin().id, deletedAt: null });

      const read = await api().get(`${base}/${record.id}`).set(admin().auth);
      expect(read.status).toBe(200);
      expect(read.body.data).toEqual(record);
      expect(await stored(record.id)).toMatchObject({ tenantId: world.a.tenantId, deletedAt: null });
    });

    const shared: Array<[string, Record<string, unknown>, string[]]> = [
      ['a tenantId', { tenantId: randomUUID() }, ['tenantId']],
      ['an id', { id: randomUUID() }, ['id']],
      ['audit fields', { createdBy: randomUUID(), createdAt: '2020-01-01T00:00:00Z', deletedAt: null }, ['createdAt', 'createdBy', 'deletedAt']],
      ['markup in text', { [spec.text.field]: '<script>alert(1)</script>' }, [spec.text.field]],
      ['an oversized string', { [spec.text.field]: 'x'.repeat(spec.text.max + 1) }, [spec.text.field]],
      ['a number for a string', { [spec.text.field]: 42 }, [spec.text.field]],
      ['an owner that is no UUID', { [spec.ownerField]: 'me' }, [spec.ownerField]],
    ];
    it.each([...shared, ...spec.invalid])('when the body has %s, then 400 names the fields and nothing is stored', async (_label, patch, fields) => {
      const before = await count();
      const res = await api()
        .post(base)
        .set(admin().auth)
        .send({ ...spec.body(), ...patch });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(errorFields(res)).toEqual([...fields].sort());
      expect(await count()).toBe(before);
    });

    it('when the body is malformed JSON, then 400 INVALID_JSON and nothing is stored', async () => {
      const before = await count();
      const res = await api().post(base).set(admin().auth).set('Content-Type', 'application/json').send('{"name": ');
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_JSON');
      expect(await count()).toBe(before);
    });

    it("when the owner is a user of another tenant, then 400 names the field and nothing is stored", async () => {
      const before = await count();
      const res = await api()
        .post(base)
        .set(admin().auth)
        .send({ ...spec.body(), [spec.ownerField]: world.b.users.admin.id });
      expect(res.status).toBe(400);
      expect(errorFields(res)).toEqual([spec.ownerField]);
      expect(await count()).toBe(before);
    });

    it('when GET names an unknown id, no UUID, or an unknown query parameter, then 404, 400 and 400', async () => {
      const record = await create(admin().auth);
      const unknown = await api().get(`${base}/${randomUUID()}`).set(admin().auth);
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('NOT_FOUND');
      const notUuid = await api().get(`${base}/12345`).set(admin().auth);
      expect(notUuid.status).toBe(400);
      expect(errorFields(notUuid)).toEqual(['params.id']);
      const extra = await api().get(`${base}/${record.id}?expand=owner`).set(admin().auth);
      expect(extra.status).toBe(400);
      expect(errorFields(extra)).toEqual(['query.expand']);
    });

    it('when a record is patched, then the sent fields change, the others stay, and updatedAt and updatedBy move', async () => {
      const record = await ownedBy(world.a.users.manager);
      // Times have millisecond precision in answers: the patch must land after the clock has moved on.
      await eventually(() => Date.now() > Date.parse(record.updatedAt as string), 1_000, 'the clock passing updatedAt');
      const res = await api().patch(`${base}/${record.id}`).set(world.a.users.manager.auth).send(spec.patch);
      expect(res.status).toBe(200);
      expectApiRecord(res.body.data);
      const { updatedAt, updatedBy, ...unchanged } = record;
      expect(res.body.data).toMatchObject({ ...unchanged, ...spec.patch, updatedBy: world.a.users.manager.id });
      expect(updatedBy).toBe(admin().id);
      expect(Date.parse(res.body.data.updatedAt)).toBeGreaterThan(Date.parse(updatedAt as string));
      expect((await api().get(`${base}/${record.id}`).set(admin().auth)).body.data).toEqual(res.body.data);
    });

    it.each([
      ['empty', {}, ['']],
      ['an unknown field', { favouriteColour: 'teal' }, ['favouriteColour']],
      ['a tenantId', { tenantId: randomUUID() }, ['tenantId']],
      ['markup', { [spec.text.field]: '<img src=x onerror=alert(1)>' }, [spec.text.field]],
      ['a bad type', { [spec.text.field]: { nested: true } }, [spec.text.field]],
    ])('when a patch is %s, then 400 and the record is unchanged', async (_label, patch, fields) => {
      const record = await create(admin().auth);
      const res = await api().patch(`${base}/${record.id}`).set(admin().auth).send(patch);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(errorFields(res)).toEqual(fields);
      expect((await api().get(`${base}/${record.id}`).set(admin().auth)).body.data).toEqual(record);
    });

    it('when PATCH or DELETE names an unknown id, then 404', async () => {
      expect((await api().patch(`${base}/${randomUUID()}`).set(admin().auth).send(spec.patch)).status).toBe(404);
      expect((await api().delete(`${base}/${randomUUID()}`).set(admin().auth)).status).toBe(404);
    });

    it('when a record is soft-deleted, then GET is 404, lists omit it, includeDeleted shows it to an admin, and the row is kept', async () => {
      const record = await create(admin().auth);
      const res = await api().delete(`${base}/${record.id}`).set(admin().auth);
      expect(res.status).toBe(204);
      expect((await api().get(`${base}/${record.id}`).set(admin().auth)).status).toBe(404);
      expect((await api().get(`${base}/${record.id}/timeline`).set(admin().auth)).status).toBe(404);
      expect((await api().delete(`${base}/${record.id}`).set(admin().auth)).status).toBe(404);
      const listed = await walkList(world, admin().auth, spec.resource, { limit: 500 });
      expect(listed.ids).not.toContain(record.id);

      const withDeleted = await walkList(world, admin().auth, spec.resource, { limit: 500, includeDeleted: 'true' });
      expect(withDeleted.ids).toContain(record.id);
      const read = await api().get(`${base}/${record.id}?includeDeleted=true`).set(admin().auth);
      expect(read.status).toBe(200);
      expect(read.body.data.deletedAt).toMatch(ISO_TIMESTAMP);
      expect((await stored(record.id))?.deletedAt).toBeInstanceOf(Date);
    });

    it('when a caller without the delete permission asks for includeDeleted, then 403', async () => {
      const record = await create(admin().auth);
      const reader = world.a.users.reader.auth;
      expect((await api().get(base).set(reader)).status).toBe(200);
      for (const res of [
        await api().get(`${base}?includeDeleted=true`).set(reader),
        await api().get(`${base}/${record.id}?includeDeleted=true`).set(reader),
      ]) {
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      }
    });

    it('when a manager asks for ?hard=true, then 403 and the record stays; when the tenant admin does, then the row is erased', async () => {
      const record = await create(admin().auth);
      const byManager = await api().delete(`${base}/${record.id}?hard=true`).set(world.a.users.manager.auth);
      expect(byManager.status).toBe(403);
      expect(await stored(record.id)).toMatchObject({ deletedAt: null });

      expect((await api().delete(`${base}/${record.id}?hard=true`).set(admin().auth)).status).toBe(204);
      expect(await stored(record.id)).toBeUndefined();
      expect((await api().get(`${base}/${record.id}?includeDeleted=true`).set(admin().auth)).status).toBe(404);
    });

    it('when a soft-deleted record is erased by the tenant admin, then the row is gone', async () => {
      const record = await create(admin().auth);
      expect((await api().delete(`${base}/${record.id}`).set(admin().auth)).status).toBe(204);
      expect((await api().delete(`${base}/${record.id}?hard=true`).set(admin().auth)).status).toBe(204);
      expect(await stored(record.id)).toBeUndefined();
    });
  });

  describe(`${spec.resource}: who may call`, () => {
    it('when no token is sent, then every route answers 401', async () => {
      const id = randomUUID();
      for (const res of [
        await api().get(base),
        await api().post(base).send(spec.body()),
        await api().get(`${base}/${id}`),
        await api().patch(`${base}/${id}`).send(spec.patch),
        await api().delete(`${base}/${id}`),
        await api().get(`${base}/${id}/timeline`),
      ]) {
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('UNAUTHORIZED');
      }
    });

    it.each(Object.entries(ROLE_MATRIX[spec.resource]))(
      'when a %s user calls every route, then exactly the permitted ones (%j) succeed and the rest answer 403',
      async (persona, granted) => {
        const user = world.a.users[persona as keyof CrmTenant['users']];
        const record = await ownedBy(user);
        const expectAllowed = (res: request.Response, letter: string, status: number) => {
          expect({ letter, status: res.status }).toEqual({ letter, status: granted.includes(letter) ? status : 403 });
          if (res.status === 403) expect(res.body.error.code).toBe('FORBIDDEN');
        };
        const before = await count();
        expectAllowed(await api().get(base).set(user.auth), 'r', 200);
        expectAllowed(await api().get(`${base}/${record.id}`).set(user.auth), 'r', 200);
        expectAllowed(await api().get(`${base}/${record.id}/timeline`).set(user.auth), 'r', 200);
        expectAllowed(await api().post(base).set(user.auth).send(spec.body()), 'w', 201);
        expect(await count()).toBe(before + (granted.includes('w') ? 1 : 0));
        expectAllowed(await api().patch(`${base}/${record.id}`).set(user.auth).send(spec.patch), 'w', 200);
        expectAllowed(await api().delete(`${base}/${record.id}`).set(user.auth), 'd', 204);
        expect((await stored(record.id))?.deletedAt === null).toBe(!granted.includes('d'));
      },
    );

    if (ROLE_MATRIX[spec.resource].sales.includes('w')) {
      it("when a sales user changes and deletes their own and a teammate's records, then it succeeds", async () => {
        const { sales, teammate } = world.a.users;
        for (const owner of [sales, teammate]) {
          const record = await ownedBy(owner);
          const patched = await api().patch(`${base}/${record.id}`).set(sales.auth).send(spec.patch);
          expect(patched.status).toBe(200);
          expect(patched.body.data).toMatchObject(spec.patch);
          expect((await api().delete(`${base}/${record.id}`).set(sales.auth)).status).toBe(204);
          expect((await stored(record.id))?.deletedAt).toBeInstanceOf(Date);
        }
        const created = await api().post(base).set(sales.auth).send(spec.body());
        expect(created.status).toBe(201);
        expect(created.body.data[spec.ownerField]).toBe(sales.id);
      });

      it('when a sales user changes or deletes a record owned outside their team, then 403 and it is unchanged', async () => {
        const { sales, outsider } = world.a.users;
        for (const owner of [outsider, world.a.users.manager]) {
          const record = await ownedBy(owner);
          const before = await stored(record.id);
          const read = await api().get(`${base}/${record.id}`).set(sales.auth);
          expect(read.status).toBe(200);
          const patched = await api().patch(`${base}/${record.id}`).set(sales.auth).send(spec.patch);
          expect(patched.status).toBe(403);
          expect(patched.body.error.code).toBe('FORBIDDEN');
          expect((await api().delete(`${base}/${record.id}`).set(sales.auth)).status).toBe(403);
          expect(await stored(record.id)).toEqual(before);
        }
      });

      it('when a sales user creates a record for, or hands one to, someone outside their team, then 403 and nothing changes', async () => {
        const { sales, teammate, outsider } = world.a.users;
        const before = await count();
        const forOutsider = await api()
          .post(base)
          .set(sales.auth)
          .send({ ...spec.body(), [spec.ownerField]: outsider.id });
        expect(forOutsider.status).toBe(403);
        expect(await count()).toBe(before);

        const own = await ownedBy(sales);
        const handedOff = await api().patch(`${base}/${own.id}`).set(sales.auth).send({ [spec.ownerField]: outsider.id });
        expect(handedOff.status).toBe(403);
        expect((await stored(own.id))?.[spec.ownerField]).toBe(sales.id);
        const toTeammate = await api().patch(`${base}/${own.id}`).set(sales.auth).send({ [spec.ownerField]: teammate.id });
        expect(toTeammate.status).toBe(200);
        expect(toTeammate.body.data[spec.ownerField]).toBe(teammate.id);
      });
    }

    it("when tenant A names tenant B's record in GET, PATCH, DELETE or its timeline, then 404 and B's record is untouched", async () => {
      const foreign = await create(world.b.users.admin.auth);
      const before = await stored(foreign.id, world.b);
      const { auth } = admin();
      for (const res of [
        await api().get(`${base}/${foreign.id}`).set(auth),
        await api().get(`${base}/${foreign.id}?includeDeleted=true`).set(auth),
        await api().patch(`${base}/${foreign.id}`).set(auth).send(spec.patch),
        await api().delete(`${base}/${foreign.id}`).set(auth),
        await api().delete(`${base}/${foreign.id}?hard=true`).set(auth),
        await api().get(`${base}/${foreign.id}/timeline`).set(auth),
      ]) {
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe('NOT_FOUND');
      }
      expect(await stored(foreign.id, world.b)).toEqual(before);
      const listed = await walkList(world, auth, spec.resource, { limit: 500, includeDeleted: 'true' });
      expect(listed.ids).not.toContain(foreign.id);
    });
  });

  describe(`${spec.resource}: timeline`, () => {
    it("when a record has activities and audit events, then its timeline lists them newest first, and nothing of other records", async () => {
      const { auth, id: actorId } = admin();
      const record = await create(auth);
      const other = await create(auth);
      const hourAgo = Date.now() - 3_600_000;
      const audit = await insertAuditEntry(world.owner, world.a.tenantId, {
        resourceType: spec.singular, resourceId: record.id, action: `${spec.singular}.update`, occurredAt: new Date(hourAgo), actorId,
      });
      await insertAuditEntry(world.owner, world.a.tenantId, {
        resourceType: spec.singular, resourceId: other.id, action: `${spec.singular}.update`, occurredAt: new Date(hourAgo), actorId,
      });
      const expected = [audit];
      if (spec.relatable) {
        const activity = (at: number, relatedId: string) =>
          api()
            .post('/api/v1/activities')
            .set(auth)
            .send({ type: 'note', subject: 'Timeline note', occurredAt: new Date(at).toISOString(), relatedType: spec.singular, relatedId })
            .then((res) => res.body.data.id as string);
        const recent = await activity(hourAgo + 60_000, record.id);
        const older = await activity(hourAgo - 60_000, record.id);
        const deleted = await activity(hourAgo, record.id);
        await activity(hourAgo, other.id);
        expect((await api().delete(`/api/v1/activities/${deleted}`).set(auth)).status).toBe(204);
        expected.unshift(recent);
        expected.push(older);
      }

      const res = await api().get(`${base}/${record.id}/timeline`).set(auth);
      expect(res.status).toBe(200);
      const events = res.body.data as Array<{ kind: string; at: string; activity?: { id: string }; audit?: { id: string; action: string } }>;
      for (const event of events) expect(event.at).toMatch(ISO_TIMESTAMP);
      const times = events.map((event) => Date.parse(event.at));
      expect(times).toEqual([...times].sort((x, y) => y - x));
      const ids = events.map((event) => (event.kind === 'activity' ? event.activity!.id : event.audit!.id));
      // Entries the audit writer made for the creates may come too; ours must be there, in this order, and nothing else's.
      expect(ids.filter((id) => expected.includes(id))).toEqual(expected);
      expect(events.filter((event) => event.kind === 'activity')).toHaveLength(expected.length - 1);
      expect(events.find((event) => event.audit?.id === audit)?.audit).toMatchObject({ action: `${spec.singular}.update`, actorId });
    });
  });

  describe(`${spec.resource}: lists`, () => {
    let tenant: CrmTenant;
    let auth: Auth;
    const DAY = 86_400_000;
    const origin = Date.now() - DAY;
    const ROWS = 130;
    /** created_at falls back a second every three rows, so keyset paging must break ties by id. */
    const createdAt = (index: number) => new Date(origin - Math.floor(index / 3) * 1000);
    const searchWord = `quokka${randomUUID().slice(0, 6)}`;
    let searchIds: string[] = [];

    beforeAll(async () => {
      tenant = await createCrmTenant(world.t, ['admin', 'reader']);
      auth = tenant.users.admin.auth;
      const rows = Array.from({ length: ROWS }, (_, index) => ({
        ...spec.row(index),
        ...(index % 40 === 7 ? { [spec.searchColumn]: `The ${searchWord} company ${index}` } : {}),
        createdAt: createdAt(index),
        updatedAt: createdAt(index),
      }));
      const ids = await insertRows(world.owner, tenant.tenantId, spec.resource, rows);
      searchIds = ids.filter((_, index) => index % 40 === 7);
      // Deleted rows, in the middle of the order, that no list may show.
      await insertRows(world.owner, tenant.tenantId, spec.resource, [5, 55, 105].map((index) => ({ ...spec.row(index), createdAt: createdAt(index), deletedAt: new Date() })));
    });
    const oracle = (orderBy: string) => orderedIds(world.owner, tenant.tenantId, spec.resource, orderBy);

    it(`when ${ROWS} records are paged 50 at a time in the default order, then three pages give each live one once, newest first`, async () => {
      const walk = await walkList(world, auth, spec.resource, { limit: 50 });
      expect(walk.pages).toBe(3);
      expect(walk.ids).toHaveLength(ROWS);
      expect(walk.ids).toEqual(await oracle('created_at desc, id desc'));
      const first = await api().get(base).set(auth);
      expect(first.body.pagination).toMatchObject({ limit: 50, hasMore: true });
      for (const record of first.body.data) expectApiRecord(record);
    });

    it('when a page is listed, then every record in it reads exactly as GET /:id answers it', async () => {
      const listed = await api().get(base).query({ limit: 5 }).set(auth);
      expect(listed.status).toBe(200);
      for (const record of listed.body.data as Array<{ id: string }>) {
        expect(record).toEqual((await api().get(`${base}/${record.id}`).set(auth)).body.data);
      }
    });

    it.each(['asc', 'desc'] as const)(`when paged by ${spec.sort.key} (%s), then the pages concatenate into the full order`, async (direction) => {
      const sort = direction === 'asc' ? spec.sort.key : `-${spec.sort.key}`;
      const walk = await walkList(world, auth, spec.resource, { limit: 50, sort });
      expect(walk.pages).toBe(3);
      expect(walk.ids).toEqual(await oracle(spec.sort.orderBy(direction)));
    });

    it('when createdAfter and createdBefore bound the list, then exactly the rows in the range come back', async () => {
      const after = createdAt(60).toISOString();
      const before = createdAt(30).toISOString();
      const walk = await walkList(world, auth, spec.resource, { limit: 20, createdAfter: after, createdBefore: before });
      const expected = await orderedIds(world.owner, tenant.tenantId, spec.resource, 'created_at desc, id desc', (query) =>
        query.whereBetween('created_at', [after, before]),
      );
      // Rows 30..62, bounds included (the deleted row dated like row 55 stays out).
      expect(expected).toHaveLength(33);
      expect(walk.ids).toEqual(expected);
    });

    it('when q names a word of the text, then exactly the records containing it come back', async () => {
      const found = await walkList(world, auth, spec.resource, { q: searchWord.toUpperCase(), limit: 2 });
      expect(new Set(found.ids)).toEqual(new Set(searchIds));
      expect(found.ids).toHaveLength(searchIds.length);
      const none = await api().get(base).query({ q: 'nosuchwordanywhere' }).set(auth);
      expect(none.body).toMatchObject({ data: [], pagination: { hasMore: false, nextCursor: null } });
    });

    it('when the cursor is garbage, made for another sort, or forged, then 400 and never a server error', async () => {
      const page = await api().get(base).query({ limit: 2 }).set(auth);
      const cursor = page.body.pagination.nextCursor as string;
      const forge = (values: unknown) => Buffer.from(JSON.stringify(values)).toString('base64url');
      for (const query of [
        { cursor: 'not a cursor' },
        { cursor, sort: spec.sort.key },
        { cursor: forge(['-createdAt', 'yesterday', randomUUID()]) },
        { cursor: forge(['-createdAt', 'infinity', randomUUID()]) },
        { cursor: forge(['-createdAt', '2026-13-45T99:00:00.000000Z', randomUUID()]) },
        { cursor: forge(['-createdAt', '2026-01-01T00:00:00.000000Z', 'not-a-uuid']) },
        { cursor: forge(['-createdAt', randomUUID()]) },
        { cursor: forge({ sort: '-createdAt' }) },
      ]) {
        const res = await api().get(base).query(query).set(auth);
        expect({ query, status: res.status, fields: errorFields(res) }).toEqual({ query, status: 400, fields: ['query.cursor'] });
      }
    });

    it.each([
      ['an unknown parameter', { color: 'red' }, 'query.color'],
      ['limit 0', { limit: 0 }, 'query.limit'],
      ['limit 501', { limit: 501 }, 'query.limit'],
      ['a sort off the whitelist', { sort: 'tenantId' }, 'query.sort'],
      ['a bad date filter', { createdAfter: 'last tuesday' }, 'query.createdAfter'],
      ['a bad includeDeleted', { includeDeleted: 'perhaps' }, 'query.includeDeleted'],
      ['markup in q', { q: '<script>x</script>' }, 'query.q'],
    ])('when the list is asked with %s, then 400 names it', async (_label, query, field) => {
      const res = await api().get(base).query(query).set(auth);
      expect(res.status).toBe(400);
      expect(errorFields(res)).toEqual([field]);
    });

    it.each(['-createdAt', spec.sort.key])('when rows are inserted between pages (sort %s), then every earlier row appears exactly once and in order', async (sort) => {
      const order = sort === '-createdAt' ? 'created_at desc, id desc' : spec.sort.orderBy('asc');
      const before = new Set(await oracle(order));
      let inserted = 0;
      const walk = await walkList(world, auth, spec.resource, { limit: 50, sort }, async (pageNumber) => {
        // Newer than anything (behind a -createdAt cursor) and older than anything (ahead of it).
        const rows = [0, 1, 2].map((index) => ({ ...spec.row(2000 + pageNumber * 10 + index), createdAt: new Date() }));
        rows.push(...[3, 4].map((index) => ({ ...spec.row(2000 + pageNumber * 10 + index), createdAt: new Date(origin - 10 * DAY) })));
        inserted += (await insertRows(world.owner, tenant.tenantId, spec.resource, rows)).length;
      });
      expect(inserted).toBe(5 * (walk.pages - 1));
      expect(new Set(walk.ids).size).toBe(walk.ids.length);
      for (const id of before) expect(walk.ids).toContain(id);
      const final = await oracle(order);
      expect(walk.ids).toEqual(final.filter((id) => walk.ids.includes(id)));
      // By -createdAt the older rows come after the cursor, so the walk reaches them; the newer ones stay behind it.
      if (sort === '-createdAt') expect(walk.ids.length).toBe(before.size + 2 * (walk.pages - 1));
    });
  });
}

/** Minimal create bodies of the record kinds a task or an activity may point at. */
const RELATABLE: Record<string, [path: CrmResource, body: Record<string, unknown>]> = {
  lead: ['leads', { lastName: 'Related' }],
  contact: ['contacts', { lastName: 'Related' }],
  account: ['accounts', { name: 'Related' }],
  deal: ['deals', { name: 'Related' }],
  ticket: ['tickets', { subject: 'Related' }],
};

/** Tasks and activities point at any CRM record: type and id together, naming a live record of the tenant. */
export function describeRelatedRecord(world: CrmWorld, resource: CrmResource, body: () => Record<string, unknown>): void {
  const base = `/api/v1/${resource}`;
  const api = () => world.api();
  const admin = () => world.a.users.admin;
  const related = async (type: string, tenant: CrmTenant = world.a) => {
    const [path, minimal] = RELATABLE[type]!;
    const res = await api().post(`/api/v1/${path}`).set(tenant.users.admin.auth).send(minimal);
    if (res.status !== 201) throw new Error(`create ${type} failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.data.id as string;
  };
  const count = () => countRows(world.owner, world.a.tenantId, resource);

  describe(`${resource}: related record`, () => {
    it.each(Object.keys(RELATABLE))('when relatedType is %s and relatedId names one of the tenant, then the link is stored and filterable', async (type) => {
      const relatedId = await related(type);
      const res = await api()
        .post(base)
        .set(admin().auth)
        .send({ ...body(), relatedType: type, relatedId });
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ relatedType: type, relatedId });
      const listed = await walkList(world, admin().auth, resource, { relatedType: type, relatedId });
      expect(listed.ids).toEqual([res.body.data.id]);
    });

    it.each([
      ['a relatedType alone', async () => ({ relatedType: 'lead' }), ['relatedId']],
      ['a relatedId alone', async () => ({ relatedId: await related('lead') }), ['relatedType']],
      ['an unknown relatedType', async () => ({ relatedType: 'invoice', relatedId: await related('lead') }), ['relatedType']],
      ['a relatedId that is no UUID', async () => ({ relatedType: 'lead', relatedId: 'lead-1' }), ['relatedId']],
      ["tenant B's lead", async () => ({ relatedType: 'lead', relatedId: await related('lead', world.b) }), ['relatedId']],
      ['an unknown id', async () => ({ relatedType: 'deal', relatedId: randomUUID() }), ['relatedId']],
      ['a deal id called a lead', async () => ({ relatedType: 'lead', relatedId: await related('deal') }), ['relatedId']],
      [
        'a deleted lead',
        async () => {
          const id = await related('lead');
          await api().delete(`/api/v1/leads/${id}`).set(admin().auth);
          return { relatedType: 'lead', relatedId: id };
        },
        ['relatedId'],
      ],
    ] as const)('when the body has %s, then 400 names the field and nothing is stored', async (_label, link, fields) => {
      const extra = await link();
      const before = await count();
      const res = await api()
        .post(base)
        .set(admin().auth)
        .send({ ...body(), ...extra });
      expect(res.status).toBe(400);
      expect(errorFields(res)).toEqual(fields);
      expect(await count()).toBe(before);
    });

    it('when a patch moves, half-clears or fully clears the link, then only a valid whole link is accepted', async () => {
      const leadId = await related('lead');
      const created = await api()
        .post(base)
        .set(admin().auth)
        .send({ ...body(), relatedType: 'lead', relatedId: leadId });
      const { id } = created.body.data;
      const patch = (change: Record<string, unknown>) => api().patch(`${base}/${id}`).set(admin().auth).send(change);

      for (const [change, field] of [
        [{ relatedId: await related('lead', world.b) }, 'relatedId'],
        [{ relatedId: null }, 'relatedId'],
        [{ relatedType: null }, 'relatedType'],
        [{ relatedType: 'account' }, 'relatedId'],
      ] as const) {
        const res = await patch(change);
        expect({ change, status: res.status, fields: errorFields(res) }).toEqual({ change, status: 400, fields: [field] });
      }
      expect(await storedRow(world.owner, world.a.tenantId, resource, id)).toMatchObject({ relatedType: 'lead', relatedId: leadId });

      const dealId = await related('deal');
      expect((await patch({ relatedType: 'deal', relatedId: dealId })).body.data).toMatchObject({ relatedType: 'deal', relatedId: dealId });
      const cleared = await patch({ relatedType: null, relatedId: null });
      expect(cleared.status).toBe(200);
      expect(cleared.body.data).toMatchObject({ relatedType: null, relatedId: null });
    });
  });
}
