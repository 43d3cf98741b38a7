import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { bearer } from './support/api-fixtures';
import { createCrmTenant, CrmTenant, crmWorld, inTenant } from './support/crm-fixtures';
import { listen, openSse, SseConnection } from './support/sse-client';
import { eventually } from './support/eventually';
import { TestJobRunner } from './support/jobs';
import { buildTestApp } from './support/test-app';

interface FeedEvent {
  cursor: string;
  id: string;
  type: string;
  resourceType: string;
  resourceId: string;
  data: { object: Record<string, unknown>; previousAttributes?: Record<string, unknown> };
}

describe('change feed and live events', () => {
  const world = crmWorld();
  const api = () => world.api();
  const a = () => world.a.users;
  let served: { url: string; close(): Promise<void> };
  const streams: SseConnection[] = [];
  const stream = async (query: string, auth: Record<string, string>, url = served.url) => {
    const connection = await openSse(`${url}/api/v1/events/stream${query}`, auth);
    streams.push(connection);
    return connection;
  };
  const feed = async (query: string, auth = a().admin.auth) => {
    const res = await api().get(`/api/v1/events${query}`).set(auth);
    expect(res.status).toBe(200);
    return res.body as { data: FeedEvent[]; pagination: { nextCursor: string | null; hasMore: boolean } };
  };
  const parsed = (connection: SseConnection) => connection.messages.map((message) => JSON.parse(message.data) as FeedEvent);

  beforeAll(async () => {
    served = await listen(world.t.app);
  });
  afterEach(() => {
    for (const connection of streams.splice(0)) connection.close();
  });
  afterAll(async () => {
    await served?.close();
  });

  describe('GET /events', () => {
    let start: string | null;
    let leadId: string;
    beforeAll(async () => {
      start = (await feed('?limit=1000')).pagination.nextCursor;
      leadId = (await api().post('/api/v1/leads').set(a().admin.auth).send({ lastName: 'Feedling', email: 'feedling@example.com' })).body.data.id;
      expect((await api().patch(`/api/v1/leads/${leadId}`).set(a().admin.auth).send({ status: 'contacted' })).status).toBe(200);
      expect((await api().delete(`/api/v1/leads/${leadId}`).set(a().admin.auth)).status).toBe(204);
    });

    it('when a record is created, changed and deleted, then the feed lists the three webhook events in commit order, and paging one at a time walks the same sequence', async () => {
      const all = await feed(`?types=lead.*&limit=1000${start ? `&after=${start}` : ''}`);
      const mine = all.data.filter((event) => event.resourceId === leadId);
      expect(mine.map((event) => event.type)).toEqual(['lead.created', 'lead.updated', 'lead.deleted']);
      expect(mine[0]!.data.object).toMatchObject({ id: leadId, lastName: 'Feedling' });
      expect(mine[1]!.data.previousAttributes).toMatchObject({ status: 'new' });

      const walked: string[] = [];
      let cursor = start;
      for (let page = 0; page < 50; page++) {
        const one = await feed(`?types=lead.*&limit=1${cursor ? `&after=${cursor}` : ''}`);
        walked.push(...one.data.map((event) => event.id));
        cursor = one.pagination.nextCursor;
        if (!one.pagination.hasMore) break;
      }
      expect(walked).toEqual(all.data.map((event) => event.id));
    });

    it('when another API instance starts (a restart), then the saved cursor resumes where the feed left off', async () => {
      const before = await feed(`?types=lead.*${start ? `&after=${start}` : ''}`);
      const other = buildTestApp();
      try {
        const lead = (await api().post('/api/v1/leads').set(a().admin.auth).send({ lastName: 'After restart' })).body.data;
        const res = await request(other.app).get(`/api/v1/events?types=lead.*&after=${before.pagination.nextCursor}`).set(a().admin.auth);
        expect(res.status).toBe(200);
        expect(res.body.data.map((event: FeedEvent) => [event.type, event.resourceId])).toEqual([['lead.created', lead.id]]);
      } finally {
        await other.close();
      }
    });

    it('when the caller may not read a resource, or is a sales user outside the owner\'s team, then its events are left out', async () => {
      const task = (await api().post('/api/v1/tasks').set(a().admin.auth).send({ title: 'Feed task', assigneeId: a().sales.id })).body.data;
      const outsiders = (await api().post('/api/v1/leads').set(a().outsider.auth).send({ lastName: 'Outsider lead' })).body.data;
      const ids = async (auth: { Authorization: string }) => (await feed(`?limit=1000${start ? `&after=${start}` : ''}`, auth)).data.map((event) => event.resourceId);
      expect(await ids(a().manager.auth)).toEqual(expect.arrayContaining([task.id, outsiders.id]));
      // read_only holds no tasks:read.
      expect(await ids(a().readOnly.auth)).not.toContain(task.id);
      expect(await ids(a().readOnly.auth)).toContain(outsiders.id);
      // The teammate shares the sales user's team (the task's assignee), not the outsider's.
      expect(await ids(a().teammate.auth)).toContain(task.id);
      expect(await ids(a().teammate.auth)).not.toContain(outsiders.id);
    });

    it('when the cursor, types or limit are malformed, or no one signs in, then 400 or 401 and nothing is listed', async () => {
      for (const query of ['?after=not-a-cursor', '?types=deal.everything', '?types=', '?limit=5000', `?after=${'x'.repeat(100)}`]) {
        const res = await api().get(`/api/v1/events${query}`).set(a().admin.auth);
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('VALIDATION_ERROR');
      }
      expect((await api().get('/api/v1/events')).status).toBe(401);
    });

    it("when another organization reads the feed, even with this one's cursor, then it sees none of this organization's events", async () => {
      const foreign = await api().get(`/api/v1/events?limit=1000`).set(world.b.users.admin.auth);
      expect(foreign.status).toBe(200);
      expect(foreign.body.data.map((event: FeedEvent) => event.resourceId)).not.toContain(leadId);
      const ours = await feed('?types=lead.*&limit=1');
      const withOurs = await api().get(`/api/v1/events?after=${ours.pagination.nextCursor}`).set(world.b.users.admin.auth);
      expect([200, 410]).toContain(withOurs.status);
      expect(JSON.stringify(withOurs.body)).not.toContain(leadId);
    });

    it('when the retention job has pruned events older than 30 days, then 410 CURSOR_EXPIRED names the oldest cursor still available', async () => {
      const tenant = await createCrmTenant(world.t, ['admin']);
      const auth = tenant.users.admin.auth;
      for (const lastName of ['One', 'Two', 'Three']) expect((await api().post('/api/v1/leads').set(auth).send({ lastName })).status).toBe(201);
      const events = (await feed('', auth)).data;
      expect(events).toHaveLength(3);
      // The first two are 31 days old: the retention job prunes them.
      await inTenant(world.owner, tenant.tenantId, (trx) =>
        trx('change_events').where({ tenant_id: tenant.tenantId }).whereIn('id', [events[0]!.id, events[1]!.id]).update({ occurred_at: trx.raw("now() - interval '31 days'") }),
      );
      const jobs = new TestJobRunner(world.t);
      try {
        await jobs.enqueueScheduled('change-feed.retention');
        await jobs.runUntilIdle();
      } finally {
        await jobs.close();
      }
      const gone = await api().get(`/api/v1/events?after=${events[0]!.cursor}`).set(auth);
      expect(gone.status).toBe(410);
      expect(gone.body.error.code).toBe('CURSOR_EXPIRED');
      expect(gone.body.error.details).toEqual([{ field: 'oldestCursor', message: events[2]!.cursor }]);
      // Starting over without a cursor reads from the oldest event kept.
      const restarted = await feed('', auth);
      expect(restarted.data.map((event) => event.cursor)).toEqual([events[2]!.cursor]);
    });
  });

  describe('concurrent writers', () => {
    const contactsCreated = async (after: string | null, limit = 1000) => feed(`?types=contact.created&limit=${limit}${after ? `&after=${after}` : ''}`);

    it('when many writers commit at once while a reader pages through the feed, then the reader sees every change once, in the order a full read gives', async () => {
      const start = (await contactsCreated(null)).pagination.nextCursor;
      const seen: string[] = [];
      let cursor = start;
      const readPage = async () => {
        const page = await contactsCreated(cursor, 3);
        seen.push(...page.data.map((event) => event.resourceId));
        cursor = page.pagination.nextCursor;
      };
      let writing = true;
      const reader = (async () => {
        while (writing) await readPage();
      })();
      const made = await Promise.all(
        Array.from({ length: 24 }, async (_, n) => (await api().post('/api/v1/contacts').set(a().admin.auth).send({ lastName: `Concurrent ${n}` })).body.data.id as string),
      );
      writing = false;
      await reader;
      await eventually(async () => {
        await readPage();
        return made.every((id) => seen.includes(id));
      });
      expect(new Set(seen).size).toBe(seen.length);
      expect([...seen].sort()).toEqual([...made].sort());
      expect(seen).toEqual((await contactsCreated(start)).data.map((event) => event.resourceId));
    });

    it('when a writer keeps its change uncommitted, then another writer of the organization still commits, and a reader waits for the first rather than passing its change', async () => {
      const tenantId = world.a.tenantId;
      const start = (await contactsCreated(null)).pagination.nextCursor;
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let stored!: () => void;
      const heldStored = new Promise<void>((resolve) => (stored = resolve));
      const heldId = randomUUID();
      // A writer as the change-feed store makes one: the feed lock shared, then its row, then a long wait before commit.
      const held = inTenant(world.owner, tenantId, async (trx) => {
        await trx.raw("select pg_advisory_xact_lock_shared(hashtextextended('change-feed:' || ?, 0))", [tenantId]);
        await trx('change_events').insert({ tenant_id: tenantId, id: randomUUID(), type: 'contact.created', resource_type: 'contact', resource_id: heldId, data: JSON.stringify({ object: { id: heldId } }) });
        stored();
        await released;
      });
      await heldStored;
      const later = await api().post('/api/v1/contacts').set(a().admin.auth).send({ lastName: 'Committed meanwhile' });
      expect(later.status).toBe(201);
      const reading = contactsCreated(start);
      // The reader is waiting on the feed lock, behind the writer still in flight.
      await eventually(async () => {
        const { rows } = await world.owner.raw(
          `select count(*)::int as waiting from pg_locks, (select hashtextextended('change-feed:' || ?, 0) as k) key
            where locktype = 'advisory' and not granted and classid::bigint = (key.k >> 32) & 4294967295 and objid::bigint = key.k & 4294967295`,
          [tenantId],
        );
        return rows[0].waiting > 0;
      });
      release();
      await held;
      expect((await reading).data.map((event) => event.resourceId)).toEqual([heldId, later.body.data.id]);
    });
  });

  describe('GET /events/stream', () => {
    it("when a deal's stage changes, then a sales user's open stream receives deal.stage_changed within a second, as SSE with the cursor as id", async () => {
      const deal = (await api().post('/api/v1/deals').set(a().sales.auth).send({ name: 'Streamed deal' })).body.data;
      const connection = await stream('?types=deal.*', a().sales.auth);
      expect(connection.status).toBe(200);
      expect(connection.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(connection.headers.get('cache-control')).toMatch(/no-cache/);
      expect((await api().patch(`/api/v1/deals/${deal.id}`).set(a().admin.auth).send({ stage: 'proposal' })).status).toBe(200);
      const answeredAt = Date.now();
      const [message] = await connection.waitFor(1, 'deal.stage_changed', 5_000);
      expect(message!.at - answeredAt).toBeLessThan(1_000);
      const event = JSON.parse(message!.data) as FeedEvent;
      expect(event).toMatchObject({ type: 'deal.stage_changed', resourceId: deal.id, data: { object: { stage: 'proposal' }, previousAttributes: { stage: 'qualification' } } });
      expect(message!.id).toBe(event.cursor);
    });

    it('when a stream reconnects with Last-Event-ID, then it receives exactly the events it missed, in order', async () => {
      const first = await stream('?types=lead.*', a().admin.auth);
      const made = async (lastName: string) => (await api().post('/api/v1/leads').set(a().admin.auth).send({ lastName })).body.data.id as string;
      const seen = await made('Seen');
      await first.waitFor(1, 'lead.created');
      const lastEventId = first.messages.at(-1)!.id!;
      first.close();
      const missed = [await made('Missed one'), await made('Missed two')];
      const resumed = await stream('?types=lead.*', { ...a().admin.auth, 'Last-Event-ID': lastEventId });
      await resumed.waitFor(2, 'lead.created');
      expect(parsed(resumed).map((event) => event.resourceId)).toEqual(missed);
      expect(parsed(resumed).map((event) => event.resourceId)).not.toContain(seen);
    });

    it("when changes commit that the caller may not read, then its stream shows only the rest (permissions and sales users' team scope)", async () => {
      const teammate = await stream('', a().teammate.auth);
      const readOnly = await stream('', a().readOnly.auth);
      const outsiderLead = (await api().post('/api/v1/leads').set(a().outsider.auth).send({ lastName: 'Not for the team' })).body.data.id;
      const task = (await api().post('/api/v1/tasks').set(a().admin.auth).send({ title: 'For the team', assigneeId: a().sales.id })).body.data.id;
      const teamLead = (await api().post('/api/v1/leads').set(a().sales.auth).send({ lastName: 'For the team' })).body.data.id;
      await teammate.waitFor(2);
      await readOnly.waitFor(2);
      expect(parsed(teammate).map((event) => event.resourceId)).toEqual([task, teamLead]);
      expect(parsed(readOnly).map((event) => event.resourceId)).toEqual([outsiderLead, teamLead]);
    });

    it('when the stream is idle, then it sends heartbeat comments', async () => {
      const quick = buildTestApp({ env: { LIVE_EVENTS_HEARTBEAT_SECONDS: '1' } });
      const quickServed = await listen(quick.app);
      try {
        const connection = await stream('', a().admin.auth, quickServed.url);
        expect(connection.status).toBe(200);
        await waitUntil(() => connection.comments.filter((comment) => comment === 'heartbeat').length >= 2);
      } finally {
        for (const connection of streams.splice(0)) connection.close();
        await quickServed.close();
        await quick.close();
      }
    });

    it('when a change commits through another API instance, then a stream on this one receives it at once (over the change bus)', async () => {
      // The same deployment: the same REDIS_KEY_PREFIX, so the same bus channel.
      const other = buildTestApp({ env: { REDIS_KEY_PREFIX: world.t.deps.config.redisKeyPrefix } });
      try {
        const connection = await stream('?types=account.created', a().admin.auth);
        const account = (await request(other.app).post('/api/v1/accounts').set(a().admin.auth).send({ name: 'Across instances' })).body.data;
        const answeredAt = Date.now();
        const [message] = await connection.waitFor(1, 'account.created', 5_000);
        expect(JSON.parse(message!.data)).toMatchObject({ resourceId: account.id });
        // Well within the 15 s heartbeat after which the stream would have read the feed anyway.
        expect(message!.at - answeredAt).toBeLessThan(2_000);
      } finally {
        await other.close();
      }
    });

    it("when the organization's plan allows no more open streams, then 429 until one closes", async () => {
      const free: CrmTenant = await createCrmTenant(world.t, ['admin'], 'free');
      const auth = free.users.admin.auth;
      const open = [await stream('', auth), await stream('', auth)];
      expect(open.map((connection) => connection.status)).toEqual([200, 200]);
      const refused = await stream('', auth);
      expect(refused.status).toBe(429);
      expect(refused.error?.code).toBe('RATE_LIMITED');
      open[0]!.close();
      await waitUntil(async () => {
        const again = await stream('', auth);
        again.close();
        return again.status === 200;
      });
      // Another organization's streams are not counted against this one.
      expect((await stream('', world.b.users.admin.auth)).status).toBe(200);
    });

    it('when the caller is not signed in, or Last-Event-ID or types are malformed, then 401 or 400 and no stream', async () => {
      expect((await stream('', {})).status).toBe(401);
      const badId = await stream('', { ...a().admin.auth, 'Last-Event-ID': 'garbage' });
      expect(badId.status).toBe(400);
      expect(badId.error?.details?.[0]?.field).toBe('Last-Event-ID');
      expect((await stream('?types=nothing.here', a().admin.auth)).status).toBe(400);
      expect((await stream('', bearer('not-a-token'))).status).toBe(401);
    });
  });
});

const waitUntil = (check: () => boolean | Promise<boolean>): Promise<void> => eventually(check, 10_000);
