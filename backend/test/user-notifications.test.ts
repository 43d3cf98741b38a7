import { randomUUID } from 'node:crypto';
import { crmWorld, inTenant } from './support/crm-fixtures';
import { listen, openSse, SseConnection } from './support/sse-client';

interface Notification {
  id: string;
  userId: string;
  type: string;
  resourceType: string;
  resourceId: string;
  data: Record<string, unknown>;
  readAt: string | null;
  createdAt: string;
}

/** GET /me/notifications, POST /me/notifications/read, and their push on GET /events/stream. */
describe('notification feed', () => {
  const world = crmWorld();
  const api = () => world.api();
  const a = () => world.a.users;
  let served: { url: string; close(): Promise<void> };
  const streams: SseConnection[] = [];

  beforeAll(async () => {
    served = await listen(world.t.app);
  });
  afterEach(() => {
    for (const connection of streams.splice(0)) connection.close();
  });
  afterAll(async () => {
    await served?.close();
  });

  const notificationsOf = async (auth: Record<string, string>, query = '?limit=100') => {
    const res = await api().get(`/api/v1/me/notifications${query}`).set(auth);
    expect(res.status).toBe(200);
    return res.body as { data: Notification[]; pagination: { nextCursor: string | null; hasMore: boolean } };
  };
  const about = async (auth: Record<string, string>, resourceId: string) => (await notificationsOf(auth)).data.filter((n) => n.resourceId === resourceId);

  it('when a manager assigns a task to a sales user, on create and by a later change, then the sales user is notified each time; assigning oneself notifies nobody', async () => {
    const created = await api().post('/api/v1/tasks').set(a().manager.auth).send({ title: 'Call back Ann', assigneeId: a().sales.id });
    expect(created.status).toBe(201);
    const [first] = await about(a().sales.auth, created.body.data.id);
    expect(first).toMatchObject({ userId: a().sales.id, type: 'task.assigned', resourceType: 'task', data: { title: 'Call back Ann', by: a().manager.id }, readAt: null });

    const other = await api().post('/api/v1/tasks').set(a().sales.auth).send({ title: 'My own', assigneeId: a().sales.id });
    expect(other.status).toBe(201);
    expect(await about(a().sales.auth, other.body.data.id)).toEqual([]);
    expect((await api().patch(`/api/v1/tasks/${other.body.data.id}`).set(a().manager.auth).send({ assigneeId: a().teammate.id })).status).toBe(200);
    expect((await about(a().teammate.auth, other.body.data.id)).map((n) => n.type)).toEqual(['task.assigned']);
    // A change that leaves the assignee as it was tells nobody again.
    expect((await api().patch(`/api/v1/tasks/${other.body.data.id}`).set(a().manager.auth).send({ title: 'Renamed' })).status).toBe(200);
    expect(await about(a().teammate.auth, other.body.data.id)).toHaveLength(1);
    expect(await about(a().manager.auth, other.body.data.id)).toEqual([]);
  });

  it("when someone moves a deal the sales user owns to another stage, then its owner is notified with the stages; the owner's own move notifies nobody", async () => {
    const deal = await api().post('/api/v1/deals').set(a().sales.auth).send({ name: `Deal ${randomUUID().slice(0, 6)}` });
    expect(deal.status).toBe(201);
    expect((await api().patch(`/api/v1/deals/${deal.body.data.id}`).set(a().manager.auth).send({ stage: 'proposal' })).status).toBe(200);
    expect((await api().patch(`/api/v1/deals/${deal.body.data.id}`).set(a().sales.auth).send({ stage: 'negotiation' })).status).toBe(200);
    const notes = await about(a().sales.auth, deal.body.data.id);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ type: 'deal.stage_changed', resourceType: 'deal', data: { from: 'qualification', to: 'proposal', kind: 'open', title: deal.body.data.name, by: a().manager.id } });
  });

  it('when a ticket is assigned to a support user, then they are notified', async () => {
    const ticket = await api().post('/api/v1/tickets').set(a().manager.auth).send({ subject: 'Printer on fire', assigneeId: a().support.id });
    expect(ticket.status).toBe(201);
    expect((await about(a().support.auth, ticket.body.data.id)).map((n) => [n.type, n.data.title])).toEqual([['ticket.assigned', 'Printer on fire']]);
  });

  it('when notifications are paged one at a time, then the walk is newest first with no repeats; unread and read ids/all mark them', async () => {
    const ids: string[] = [];
    for (const title of ['one', 'two', 'three']) {
      const task = await api().post('/api/v1/tasks').set(a().admin.auth).send({ title, assigneeId: a().outsider.id });
      ids.push(task.body.data.id);
    }
    const walked: Notification[] = [];
    let cursor: string | null = null;
    do {
      const page = await notificationsOf(a().outsider.auth, `?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      walked.push(...page.data);
      cursor = page.pagination.nextCursor;
    } while (cursor);
    expect(walked.map((n) => n.resourceId)).toEqual([...ids].reverse());

    const marked = await api().post('/api/v1/me/notifications/read').set(a().outsider.auth).send({ ids: [walked[0]!.id] });
    expect(marked.status).toBe(200);
    expect(marked.body.data).toEqual({ read: 1, unread: 2 });
    expect((await notificationsOf(a().outsider.auth, '?unread=true')).data.map((n) => n.resourceId)).toEqual([ids[1], ids[0]]);
    expect((await api().post('/api/v1/me/notifications/read').set(a().outsider.auth).send({ all: true })).body.data).toEqual({ read: 2, unread: 0 });
    expect((await notificationsOf(a().outsider.auth, '?unread=true')).data).toEqual([]);
    expect((await notificationsOf(a().outsider.auth)).data.every((n) => n.readAt !== null)).toBe(true);
  });

  it("when a user or another tenant names someone else's notification, then it is not marked; each user lists only their own", async () => {
    const task = await api().post('/api/v1/tasks').set(a().admin.auth).send({ title: 'Private', assigneeId: a().teammate.id });
    const [note] = await about(a().teammate.auth, task.body.data.id);
    const byOther = await api().post('/api/v1/me/notifications/read').set(a().sales.auth).send({ ids: [note!.id] });
    expect([byOther.status, byOther.body.error.code]).toEqual([404, 'NOT_FOUND']);
    const byOtherTenant = await api().post('/api/v1/me/notifications/read').set(world.b.users.admin.auth).send({ ids: [note!.id] });
    expect([byOtherTenant.status, byOtherTenant.body.error.code]).toEqual([404, 'NOT_FOUND']);
    // One foreign id among the caller's own marks none of them.
    const own = await api().post('/api/v1/me/notifications/read').set(a().teammate.auth).send({ ids: [note!.id, randomUUID()] });
    expect(own.status).toBe(404);
    expect((await notificationsOf(world.b.users.admin.auth)).data).toEqual([]);
    expect((await notificationsOf(a().sales.auth)).data.map((n) => n.id)).not.toContain(note!.id);
    const stored = await inTenant(world.owner, world.a.tenantId, async (trx) => trx('user_notifications').where({ id: note!.id }).first());
    expect(stored.read_at).toBeNull();
  });

  it('when the request is malformed, unauthenticated or made with an API key, then 400, 401 or 403', async () => {
    expect((await api().post('/api/v1/me/notifications/read').set(a().sales.auth).send({ ids: [randomUUID()], all: true })).status).toBe(400);
    expect((await api().post('/api/v1/me/notifications/read').set(a().sales.auth).send({})).status).toBe(400);
    expect((await api().get('/api/v1/me/notifications?cursor=nonsense').set(a().sales.auth)).status).toBe(400);
    expect((await api().get('/api/v1/me/notifications')).status).toBe(401);
    const key = await api().post('/api/v1/api-keys').set(a().admin.auth).send({ name: 'Feed key', role: 'manager' });
    expect(key.status).toBe(201);
    expect((await api().get('/api/v1/me/notifications').set({ Authorization: `Bearer ${key.body.data.key}` })).status).toBe(403);
  });

  it("when a task is assigned, then the assignee's live stream receives notification.created, and a teammate's and a manager's streams, the manager's feed and an admin API key's feed do not; the assignee's feed lists it", async () => {
    const mine = await openSse(`${served.url}/api/v1/events/stream?types=notification.*,task.*`, a().sales.auth);
    const teammates = await openSse(`${served.url}/api/v1/events/stream?types=notification.*,task.*`, a().teammate.auth);
    const managers = await openSse(`${served.url}/api/v1/events/stream`, a().manager.auth);
    streams.push(mine, teammates, managers);
    expect(mine.status).toBe(200);
    const task = await api().post('/api/v1/tasks').set(a().manager.auth).send({ title: 'Pushed', assigneeId: a().sales.id });
    expect(task.status).toBe(201);
    const [pushed] = await mine.waitFor(1, 'notification.created');
    const event = JSON.parse(pushed!.data) as { resourceType: string; data: { object: Notification } };
    expect(event.resourceType).toBe('notification');
    expect(event.data.object).toMatchObject({ userId: a().sales.id, type: 'task.assigned', resourceId: task.body.data.id });
    // The task's own event reaches the teammate (a record of their team) and the manager; the notification does not.
    await teammates.waitFor(1, 'task.created');
    await managers.waitFor(1, 'task.created');
    expect(teammates.messages.filter((message) => message.event === 'notification.created')).toEqual([]);
    expect(managers.messages.filter((message) => message.event === 'notification.created')).toEqual([]);
    const feed = await api().get('/api/v1/events?types=notification.*&limit=1000').set(a().manager.auth);
    expect(feed.status).toBe(200);
    expect(feed.body.data).toEqual([]);
    const key = await api().post('/api/v1/api-keys').set(a().admin.auth).send({ name: 'Stream key', role: 'tenant_admin' });
    expect(key.status).toBe(201);
    expect((await api().get('/api/v1/events?types=notification.*&limit=1000').set({ Authorization: `Bearer ${key.body.data.key}` })).body.data).toEqual([]);
    const own = await api().get('/api/v1/events?types=notification.*&limit=1000').set(a().sales.auth);
    expect(own.body.data.map((entry: { resourceId: string }) => entry.resourceId)).toContain(event.data.object.id);
  });
});
