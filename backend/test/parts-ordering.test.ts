import request from 'supertest';
import { addMember, registerTenant, Registered } from './support/api-fixtures';
import { CapricornDouble } from './support/capricorn-double';
import { eventually } from './support/eventually';
import { TestJobRunner } from './support/jobs';
import { buildTestApp, TestApp } from './support/test-app';
import { WebhookReceiver } from './support/webhook-receiver';

describe('parts ordering through the supplier EDI connector (against the Capricorn simulator)', () => {
  let supplier: CapricornDouble;
  let receiver: WebhookReceiver;
  let t: TestApp;
  let jobs: TestJobRunner;
  let a: Registered;
  let b: Registered;
  const api = () => request(t.app);

  beforeAll(async () => {
    supplier = await new CapricornDouble().start();
    receiver = await new WebhookReceiver().start();
    t = buildTestApp({
      env: {
        SUPPLIER_TIMEOUT_MS: '400',
        OUTBOUND_BREAKER_VOLUME: '4',
        OUTBOUND_BREAKER_RESET_MS: '1500',
        OUTBOUND_RETRY_BASE_MS: '5',
        PARTS_ORDER_POLL_SECONDS: '60',
      },
    });
    jobs = new TestJobRunner(t);
    [a, b] = await Promise.all([registerTenant(t.app), registerTenant(t.app)]);
    await supplier.connect(t.app, a);
    await supplier.connect(t.app, b);
  });
  afterAll(async () => {
    await jobs.close();
    await t.close();
    await supplier.stop();
    await receiver.stop();
  });
  afterEach(() => supplier.reset());

  const order = (tenant: Registered, body: Record<string, unknown>, key?: string) => {
    const req = api().post('/api/v1/parts/orders').set(tenant.auth);
    return (key ? req.set('Idempotency-Key', key) : req).send(body);
  };
  /** Runs the tenant's poll jobs now, as the worker would when they fall due. */
  const poll = async (tenant: Registered) => {
    const queued = await jobs.queuedJobs({ task: 'parts.poll_order', tenantId: tenant.tenantId });
    await jobs.makeDue(queued.map((job) => job.id));
    await jobs.runUntilIdle(tenant.tenantId);
  };

  it('when a workshop searches, checks stock, quotes, orders for a deal, and the order ships and arrives, then each step shows and the deal’s timeline follows', async () => {
    const search = await api().get('/api/v1/parts/search').query({ make: 'Toyota', model: 'Corolla', year: 2010 }).set(a.auth);
    expect(search.status).toBe(200);
    expect(search.body.data.map((part: { partNumber: string }) => part.partNumber)).toEqual(['RYCO-Z411']);
    const details = await api().get('/api/v1/parts/RYCO-Z411').set(a.auth);
    expect(details.body.data).toMatchObject({ partNumber: 'RYCO-Z411', description: 'Oil filter', fitment: [{ make: 'Toyota', model: 'Corolla' }] });
    const stock = await api().get('/api/v1/parts/RYCO-Z411/stock').set(a.auth);
    expect(stock.body.data).toMatchObject({ partNumber: 'RYCO-Z411', available: 65 });
    const quote = await api().post('/api/v1/parts/quotes').set(a.auth).send({ items: [{ partNumber: 'RYCO-Z411', quantity: 2 }, { partNumber: 'NGK-BKR6E', quantity: 4 }] });
    expect(quote.status).toBe(200);
    expect(quote.body.data).toMatchObject({ totalCents: 2 * 1895 + 4 * 1250, currency: 'AUD' });

    const hook = await api().post('/api/v1/webhooks').set(a.auth).send({ url: receiver.url('/parts'), events: ['parts_order.*'] });
    expect(hook.status).toBe(201);
    const deal = (await api().post('/api/v1/deals').set(a.auth).send({ name: 'Service for fleet' })).body.data;
    const placed = await order(a, { items: [{ partNumber: 'RYCO-Z411', quantity: 2 }], dealId: deal.id }, 'order-life-1');
    expect(placed.status).toBe(201);
    expect(placed.body.data).toMatchObject({ status: 'confirmed', dealId: deal.id, totalCents: 3790, currency: 'AUD', tracking: null });
    expect(placed.body.data.supplierAnswers).toEqual([expect.objectContaining({ operation: 'createOrder' })]);
    const id = placed.body.data.id as string;
    const supplierOrderId = placed.body.data.supplierOrderId as string;

    // The warehouse ships it; the polling job finds out.
    supplier.advance(supplierOrderId, 'shipped');
    await poll(a);
    const shipped = await api().get(`/api/v1/parts/orders/${id}`).set(a.auth);
    expect(shipped.body.data).toMatchObject({ status: 'shipped', tracking: { carrier: 'StarTrack' } });
    expect(shipped.body.data.supplierAnswers.map((kept: { operation: string }) => kept.operation)).toEqual(['createOrder', 'getOrderStatus']);

    const invoice = await api().get(`/api/v1/parts/orders/${id}/invoice`).set(a.auth);
    expect(invoice.status).toBe(200);
    expect(invoice.body.data).toMatchObject({ orderId: supplierOrderId, subtotalCents: 3790, taxCents: 379, totalCents: 4169 });

    supplier.advance(supplierOrderId, 'delivered');
    await poll(a);
    expect((await api().get(`/api/v1/parts/orders/${id}`).set(a.auth)).body.data.status).toBe('delivered');
    // Delivered: polling stops.
    expect(await jobs.queuedJobs({ task: 'parts.poll_order', tenantId: a.tenantId })).toEqual([]);

    const timeline = await api().get(`/api/v1/deals/${deal.id}/timeline`).set(a.auth);
    const actions = timeline.body.data.filter((entry: { kind: string }) => entry.kind === 'audit').map((entry: { audit: { action: string } }) => entry.audit.action);
    expect(actions).toEqual(expect.arrayContaining(['parts_order.create', 'parts_order.status_change']));
    expect(actions.filter((action: string) => action === 'parts_order.status_change')).toHaveLength(2);

    // Webhooks: the order placed, then each status change with the status before.
    await jobs.runUntilIdle(a.tenantId);
    const sent = receiver.at('/parts').map((entry) => JSON.parse(entry.body));
    expect(sent.map((event) => [event.type, event.data.object.status, event.data.previousAttributes?.status])).toEqual([
      ['parts_order.created', 'confirmed', undefined],
      ['parts_order.status_changed', 'shipped', 'confirmed'],
      ['parts_order.status_changed', 'delivered', 'shipped'],
    ]);

    const list = await api().get('/api/v1/parts/orders').query({ status: 'delivered' }).set(a.auth);
    expect(list.body.data.map((row: { id: string }) => row.id)).toContain(id);
  });

  it('when an order is retried with the same Idempotency-Key, or its first answer is lost, then the supplier has it once', async () => {
    const first = await order(a, { items: [{ partNumber: 'BEN-DB1170', quantity: 1 }] }, 'same-order-key');
    const replay = await order(a, { items: [{ partNumber: 'BEN-DB1170', quantity: 1 }] }, 'same-order-key');
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.data.id).toBe(first.body.data.id);

    // The supplier places the order but its answer is lost: the retry carries the same reference and finds it.
    supplier.faults.loseOrderAnswers = 1;
    const before = supplier.orders.size;
    const lost = await order(a, { items: [{ partNumber: 'NGK-BKR6E', quantity: 3 }] }, 'lost-answer-key');
    expect(lost.status).toBe(201);
    expect(supplier.orders.size).toBe(before + 1);
    const attempts = supplier.received('POST', '/v1/orders').filter((entry) => entry.idempotencyKey === lost.body.data.clientReference);
    expect(attempts).toHaveLength(2);
  });

  it('when an order is cancelled, then the supplier cancels it once; a shipped order cannot be, and stays as it was', async () => {
    const placed = (await order(a, { items: [{ partNumber: 'BOSCH-0986AF', quantity: 1 }] })).body.data;
    const cancelled = await api().post(`/api/v1/parts/orders/${placed.id}/cancel`).set(a.auth);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.data.status).toBe('cancelled');
    const again = await api().post(`/api/v1/parts/orders/${placed.id}/cancel`).set(a.auth);
    expect(again.body.data).toEqual(cancelled.body.data);
    expect(supplier.received('POST', `/v1/orders/${placed.supplierOrderId}/cancel`)).toHaveLength(1);
    expect((await api().get(`/api/v1/parts/orders/${placed.id}/invoice`).set(a.auth)).status).toBe(409);

    const shipped = (await order(a, { items: [{ partNumber: 'BOSCH-0986AF', quantity: 1 }] })).body.data;
    supplier.advance(shipped.supplierOrderId, 'shipped');
    const refused = await api().post(`/api/v1/parts/orders/${shipped.id}/cancel`).set(a.auth);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('CONFLICT');
    expect((await api().get(`/api/v1/parts/orders/${shipped.id}`).set(a.auth)).body.data.status).toBe('confirmed');
  });

  it('when the inventory is synced on demand or by the schedule, then the cache holds the supplier’s stock with syncedAt', async () => {
    const queued = await api().post('/api/v1/parts/inventory/sync').set(a.auth);
    expect(queued.status).toBe(202);
    await jobs.runUntilIdle(a.tenantId);
    const inventory = await api().get('/api/v1/parts/inventory').set(a.auth);
    expect(inventory.status).toBe(200);
    expect(inventory.body.data).toHaveLength(5);
    expect(inventory.body.data[0]).toMatchObject({ supplier: 'capricorn', syncedAt: expect.any(String) });

    await jobs.enqueueScheduled('parts.sync_all');
    await jobs.runUntilIdle();
    expect((await api().get('/api/v1/parts/inventory').set(b.auth)).body.data).toHaveLength(5);
  });

  it.each([
    [{ items: [] }, 'items'],
    [{ items: [{ partNumber: 'RYCO-Z411', quantity: 0 }] }, 'items.0.quantity'],
    [{ items: [{ partNumber: '../etc', quantity: 1 }] }, 'items.0.partNumber'],
    [{ items: [{ partNumber: 'RYCO-Z411', quantity: 1 }], tenantId: 'x' }, 'tenantId'],
  ])('when an order body is %j, then 400 names %s and nothing is ordered', async (body, field) => {
    const before = supplier.orders.size;
    const res = await order(a, body);
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((detail: { field: string }) => detail.field)).toContain(field);
    expect(supplier.orders.size).toBe(before);
  });

  it('when an order names an unknown part or another organization’s deal, then 400, and nothing is ordered', async () => {
    const before = supplier.orders.size;
    const unknown = await order(a, { items: [{ partNumber: 'NO-SUCH-PART', quantity: 1 }] });
    expect(unknown.status).toBe(400);
    const theirDeal = (await api().post('/api/v1/deals').set(b.auth).send({ name: 'Theirs' })).body.data;
    const foreign = await order(a, { items: [{ partNumber: 'RYCO-Z411', quantity: 1 }], dealId: theirDeal.id });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error.details).toEqual([expect.objectContaining({ field: 'dealId' })]);
    expect(supplier.orders.size).toBe(before);
    expect((await api().get('/api/v1/parts/NO-SUCH-PART').set(a.auth)).status).toBe(404);
  });

  it('when the caller is anonymous, lacks the permission or the plan, has no supplier, or names another organization’s order, then 401 / 403 / 402 / 409 / 404', async () => {
    const theirs = (await order(b, { items: [{ partNumber: 'RYCO-Z411', quantity: 1 }] })).body.data;
    expect((await api().get('/api/v1/parts/orders')).status).toBe(401);
    const sales = await addMember(t.app, a, 'sales_user');
    expect((await api().get('/api/v1/parts/search').query({ q: 'filter' }).set(sales.auth)).status).toBe(200);
    expect((await order(a, { items: [{ partNumber: 'RYCO-Z411', quantity: 1 }] }).set(sales.auth)).status).toBe(403);
    const readOnly = await addMember(t.app, a, 'read_only');
    expect((await api().get('/api/v1/parts/orders').set(readOnly.auth)).status).toBe(403);

    const free = await registerTenant(t.app, { plan: 'free' });
    const gated = await api().get('/api/v1/parts/search').query({ q: 'filter' }).set(free.auth);
    expect(gated.status).toBe(402);
    expect(gated.body.error.code).toBe('PLAN_FEATURE_UNAVAILABLE');
    const unconnected = await registerTenant(t.app);
    const none = await api().get('/api/v1/parts/search').query({ q: 'filter' }).set(unconnected.auth);
    expect(none.status).toBe(409);
    expect(none.body.error.code).toBe('SUPPLIER_NOT_CONFIGURED');

    for (const path of [`/api/v1/parts/orders/${theirs.id}`, `/api/v1/parts/orders/${theirs.id}/invoice`]) expect((await api().get(path).set(a.auth)).status).toBe(404);
    expect((await api().post(`/api/v1/parts/orders/${theirs.id}/cancel`).set(a.auth)).status).toBe(404);
    expect((await api().get('/api/v1/parts/orders').set(a.auth)).body.data.map((row: { id: string }) => row.id)).not.toContain(theirs.id);
    expect((await api().get(`/api/v1/parts/orders/${theirs.id}`).set(b.auth)).body.data.status).toBe('confirmed');
  });

  it('when the supplier is down at a poll, then polling keeps its place; when the supplier cancels the order itself, then the poll records it and polling stops', async () => {
    // A workshop of its own: its one order is the only one polled.
    const c = await registerTenant(t.app);
    await supplier.connect(t.app, c);
    const placed = (await order(c, { items: [{ partNumber: 'NGK-BKR6E', quantity: 2 }] })).body.data;
    const pollJobs = () => jobs.queuedJobs({ task: 'parts.poll_order', tenantId: c.tenantId });
    const statusOf = async () => (await api().get(`/api/v1/parts/orders/${placed.id}`).set(c.auth)).body.data;
    expect(await pollJobs()).toHaveLength(1);

    // A poll meets an outage: the order is unchanged and polled again later.
    supplier.faults.status = 503;
    await poll(c);
    supplier.faults.status = null;
    expect((await statusOf()).status).toBe('confirmed');
    const [next] = await pollJobs();
    expect(next!.runAt.getTime()).toBeGreaterThan(Date.now());

    supplier.advance(placed.supplierOrderId, 'cancelled');
    // The outage may have opened the supplier's breaker: polls put themselves back until its probe goes through.
    await eventually(async () => {
      await poll(c);
      return (await statusOf()).status === 'cancelled';
    }, 15_000, 'the poll to see the cancellation');
    const cancelled = await statusOf();
    expect(cancelled.supplierAnswers.map((kept: { operation: string }) => kept.operation)).toEqual(['createOrder', 'getOrderStatus']);
    expect(await pollJobs()).toEqual([]);
    expect((await api().get(`/api/v1/parts/orders/${placed.id}/invoice`).set(c.auth)).status).toBe(409);
  });

  // Last: it opens the supplier's breaker, which every tenant of this file shares (one destination).
  it('when the supplier times out or is down, then 503 SUPPLIER_UNAVAILABLE with Retry-After; the breaker opens (no request reaches it), half-opens, and closes again', async () => {
    supplier.faults.delayMs = 1000;
    const slow = await api().get('/api/v1/parts/RYCO-Z411/stock').set(a.auth);
    expect(slow.status).toBe(503);
    expect(slow.body.error.code).toBe('SUPPLIER_UNAVAILABLE');
    expect(Number(slow.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    supplier.faults.delayMs = 0;

    supplier.faults.status = 503;
    // Tenant B's callers meet the outage too: failures pile up until the breaker opens.
    await eventually(async () => {
      await api().get('/api/v1/parts/NGK-BKR6E/stock').set(b.auth);
      return (await metric('open')) === 1;
    }, 10_000, 'the breaker to open');
    const reached = supplier.requests.length;
    const started = Date.now();
    const fast = await api().get('/api/v1/parts/RYCO-Z411/stock').set(a.auth);
    expect(fast.status).toBe(503);
    expect(fast.body.error.code).toBe('SUPPLIER_UNAVAILABLE');
    expect(Number(fast.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Date.now() - started).toBeLessThan(300);
    const placed = await order(a, { items: [{ partNumber: 'RYCO-Z411', quantity: 1 }] }, 'while-open');
    expect(placed.status).toBe(503);
    expect(supplier.requests.length).toBe(reached);

    // Half-open: one probe goes; it fails, so the breaker opens again at once.
    await eventually(async () => (await metric('half_open')) === 1, 10_000, 'the breaker to half-open');
    expect((await api().get('/api/v1/parts/RYCO-Z411/stock').set(a.auth)).status).toBe(503);
    expect(supplier.requests.length).toBe(reached + 1);
    expect(await metric('open')).toBe(1);

    // The supplier is back: the next probe succeeds and closes it; the order the client retries is placed once.
    supplier.faults.status = null;
    await eventually(async () => (await metric('half_open')) === 1, 10_000, 'the breaker to half-open again');
    expect((await api().get('/api/v1/parts/RYCO-Z411/stock').set(a.auth)).status).toBe(200);
    expect(await metric('closed')).toBe(1);
    const retried = await order(a, { items: [{ partNumber: 'RYCO-Z411', quantity: 1 }] }, 'while-open');
    expect(retried.status).toBe(201);

    const metrics = (await api().get('/metrics')).text;
    expect(metrics).toMatch(new RegExp(`^outbound_calls_total\\{destination="${destination()}",outcome="rejected"\\} [1-9]`, 'm'));
    expect(metrics).toMatch(new RegExp(`^outbound_calls_total\\{destination="${destination()}",outcome="timeout"\\} [1-9]`, 'm'));
    expect(metrics).not.toContain('cap-test-key');
  });

  const destination = () => `supplier:127.0.0.1:${supplier.port}`;
  /** The supplier breaker's gauge for `state` (1 when it is in it), as Prometheus scrapes it. */
  async function metric(state: 'open' | 'half_open' | 'closed'): Promise<number> {
    const text = (await api().get('/metrics')).text;
    const match = new RegExp(`^outbound_circuit_state\\{destination="${destination()}",state="${state}"\\} (\\d)`, 'm').exec(text);
    return Number(match?.[1] ?? 0);
  }
});
