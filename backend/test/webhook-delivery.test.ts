import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Knex } from 'knex';
import request from 'supertest';
import { PROJECT_ROOT } from '../src/lib/project-root';
import { attemptDelivery } from '../src/modules/webhooks/webhook-delivery';
import { retryDelayMs } from '../src/modules/webhooks/retry-schedule';
import { registerTenant, Registered } from './support/api-fixtures';
import { TestJobRunner } from './support/jobs';
import { buildTestApp, ownerKnex, testConfig, TestApp } from './support/test-app';
import { makeRetriesDue, WebhookReceiver } from './support/webhook-receiver';

/** The verification snippet exactly as docs/API.md gives it to integrators. */
function documentedVerifier(): (rawBody: string, header: string, secret: string, toleranceSeconds?: number) => boolean {
  const doc = readFileSync(path.join(PROJECT_ROOT, 'docs/API.md'), 'utf8');
  const snippet = /<!-- webhook-verify-snippet -->\n```js\n([\s\S]*?)```/.exec(doc)?.[1];
  if (!snippet) throw new Error('docs/API.md lost its verification snippet');
  return new Function('require', `${snippet}\nreturn verifyWebhook;`)(require);
}

describe('webhook delivery', () => {
  let t: TestApp;
  let jobs: TestJobRunner;
  let owner: Knex;
  let receiver: WebhookReceiver;
  const verify = documentedVerifier();
  const api = () => request(t.app);

  beforeAll(async () => {
    t = buildTestApp();
    jobs = new TestJobRunner(t);
    owner = ownerKnex();
    receiver = await new WebhookReceiver().start();
  });
  afterAll(async () => {
    await receiver.stop();
    await owner.destroy();
    await jobs.close();
    await t.close();
  });

  /** A tenant subscribed to lead.created at `path`, with one lead created (so one delivery waiting). */
  async function tenantWithDelivery(hookPath: string) {
    const tenant = await registerTenant(t.app);
    const sub = await api().post('/api/v1/webhooks').set(tenant.auth).send({ url: receiver.url(hookPath), events: ['lead.created'] });
    const lead = await api().post('/api/v1/leads').set(tenant.auth).send({ lastName: 'Babbage' });
    const delivery = await owner('webhook_deliveries').where({ tenant_id: tenant.tenantId }).first('id');
    return { tenant, subscription: sub.body.data as { id: string; secret: string }, leadId: lead.body.data.id as string, deliveryId: delivery.id as string };
  }
  /** A delivery stored without a job, for tests that attempt it directly with deps of their own. */
  async function unqueuedDelivery(url: string) {
    const tenant = await registerTenant(t.app);
    const sub = await api().post('/api/v1/webhooks').set(tenant.auth).send({ url, events: ['lead.created'] });
    const [event] = await owner('webhook_events').insert({ tenant_id: tenant.tenantId, type: 'lead.created', data: { object: { id: 'x' } } }).returning('id');
    const [delivery] = await owner('webhook_deliveries')
      .insert({ tenant_id: tenant.tenantId, event_id: event.id, subscription_id: sub.body.data.id, next_attempt_at: owner.fn.now(), retry_until: owner.raw("now() + interval '1 day'") })
      .returning('id');
    return { tenant, deliveryId: delivery.id as string };
  }
  const deliveryOf = (tenant: Registered, id: string) => api().get(`/api/v1/webhook-deliveries/${id}`).set(tenant.auth);

  it('when an event is delivered, then the documented snippet verifies its signature, and a tampered body or wrong secret does not', async () => {
    const { tenant, subscription, leadId, deliveryId } = await tenantWithDelivery('/signed');
    await jobs.runUntilIdle(tenant.tenantId);
    const [received] = receiver.at('/signed');
    expect(received).toBeDefined();
    const body = JSON.parse(received!.body);
    expect(body).toMatchObject({ type: 'lead.created', data: { object: { id: leadId, lastName: 'Babbage' } } });
    expect(received!.headers['webhook-id']).toBe(body.id);
    expect(received!.headers['content-type']).toBe('application/json');
    const header = String(received!.headers['webhook-signature']);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verify(received!.body, header, subscription.secret)).toBe(true);
    expect(verify(received!.body.replace('Babbage', 'Mallory'), header, subscription.secret)).toBe(false);
    expect(verify(received!.body, header, 'whsec_wrong')).toBe(false);
    expect(verify(received!.body, header, subscription.secret, -1)).toBe(false);

    const res = await deliveryOf(tenant, deliveryId);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ status: 'succeeded', attempts: 1, responseStatus: 200, eventType: 'lead.created', subscriptionId: subscription.id });
    expect(res.body.data.attemptLog).toEqual([expect.objectContaining({ attempt: 1, outcome: 'succeeded', responseStatus: 200, responseExcerpt: 'answer 200' })]);
    expect(res.body.data.attemptLog[0].durationMs).toBeGreaterThanOrEqual(0);
  });

  it('when the receiver answers 500, then 429, then drops the connection, then 200, then the event is retried until it arrives, same id each time', async () => {
    receiver.script('/flaky', [500, 429, 'drop', 200]);
    const { tenant, deliveryId } = await tenantWithDelivery('/flaky');
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      await jobs.runUntilIdle(tenant.tenantId);
      const waiting = await owner('webhook_deliveries').where({ id: deliveryId }).first('status', 'next_attempt_at');
      if (attempt < 4) {
        expect(waiting.status).toBe('pending');
        // Backed off: the next attempt is in the future, not now.
        expect(new Date(waiting.next_attempt_at).getTime()).toBeGreaterThan(Date.now());
        await makeRetriesDue(jobs, tenant.tenantId);
      }
    }
    const received = receiver.at('/flaky');
    expect(received).toHaveLength(4);
    expect(new Set(received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    const res = await deliveryOf(tenant, deliveryId);
    expect(res.body.data).toMatchObject({ status: 'succeeded', attempts: 4, responseStatus: 200 });
    expect(res.body.data.attemptLog.map((a: { outcome: string; responseStatus: number | null }) => [a.outcome, a.responseStatus])).toEqual([
      ['retrying', 500],
      ['retrying', 429],
      ['retrying', null],
      ['succeeded', 200],
    ]);
    expect(res.body.data.attemptLog[2].error).toBeTruthy();
  });

  it('when the retry window has passed, then a 503 fails the delivery for good', async () => {
    receiver.script('/late', [503]);
    const { tenant, deliveryId } = await tenantWithDelivery('/late');
    await owner('webhook_deliveries').where({ id: deliveryId }).update({ retry_until: owner.raw("now() + interval '1 second'") });
    await jobs.runUntilIdle(tenant.tenantId);
    expect((await deliveryOf(tenant, deliveryId)).body.data).toMatchObject({ status: 'failed', responseStatus: 503, nextAttemptAt: null });
  });

  it('when the receiver answers 400, then the delivery fails at once, without retries', async () => {
    receiver.script('/rejects', [400]);
    const { tenant, deliveryId } = await tenantWithDelivery('/rejects');
    await jobs.runUntilIdle(tenant.tenantId);
    expect((await deliveryOf(tenant, deliveryId)).body.data).toMatchObject({ status: 'failed', attempts: 1, responseStatus: 400 });
  });

  it('when the receiver answers 410, then the delivery fails and the subscription is turned off, and later events are not sent there', async () => {
    receiver.script('/gone', [410]);
    const { tenant, subscription, deliveryId } = await tenantWithDelivery('/gone');
    await jobs.runUntilIdle(tenant.tenantId);
    expect((await deliveryOf(tenant, deliveryId)).body.data).toMatchObject({ status: 'failed', responseStatus: 410 });
    const sub = await api().get(`/api/v1/webhooks/${subscription.id}`).set(tenant.auth);
    expect(sub.body.data).toMatchObject({ active: false, disabledReason: expect.stringContaining('410') });
    await api().post('/api/v1/leads').set(tenant.auth).send({ lastName: 'After' });
    await jobs.runUntilIdle(tenant.tenantId);
    expect(receiver.at('/gone')).toHaveLength(1);

    const revived = await api().patch(`/api/v1/webhooks/${subscription.id}`).set(tenant.auth).send({ active: true });
    expect(revived.body.data).toMatchObject({ active: true, disabledReason: null });
  });

  it('when a failed delivery is retried through the API, then it is sent again and succeeds; a pending one answers 409', async () => {
    receiver.script('/retry', [400]);
    const { tenant, deliveryId } = await tenantWithDelivery('/retry');
    const early = await api().post(`/api/v1/webhook-deliveries/${deliveryId}/retry`).set(tenant.auth);
    expect(early.status).toBe(409);
    await jobs.runUntilIdle(tenant.tenantId);
    const retried = await api().post(`/api/v1/webhook-deliveries/${deliveryId}/retry`).set(tenant.auth);
    expect(retried.status).toBe(202);
    expect(retried.body.data).toMatchObject({ id: deliveryId, status: 'pending', lastError: null });
    await jobs.runUntilIdle(tenant.tenantId);
    expect(receiver.at('/retry')).toHaveLength(2);
    expect((await deliveryOf(tenant, deliveryId)).body.data).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('when events are replayed by id or since a time, then they are sent again as new deliveries of the same events', async () => {
    const { tenant, subscription } = await tenantWithDelivery('/replay');
    await api().post('/api/v1/leads').set(tenant.auth).send({ lastName: 'Second' });
    await jobs.runUntilIdle(tenant.tenantId);
    const first = receiver.at('/replay').map((r) => JSON.parse(r.body).id as string);
    expect(first).toHaveLength(2);

    const byId = await api().post(`/api/v1/webhooks/${subscription.id}/replay`).set(tenant.auth).send({ eventIds: [first[0]] });
    expect(byId.status).toBe(202);
    expect(byId.body.data).toEqual({ deliveries: 1 });
    const since = await api().post(`/api/v1/webhooks/${subscription.id}/replay`).set(tenant.auth).send({ since: new Date(Date.now() - 60_000).toISOString() });
    expect(since.body.data).toEqual({ deliveries: 2 });
    await jobs.runUntilIdle(tenant.tenantId);
    const all = receiver.at('/replay').map((r) => JSON.parse(r.body).id as string);
    expect(all).toHaveLength(5);
    expect(all.filter((id) => id === first[0])).toHaveLength(3);

    const list = await api().get(`/api/v1/webhooks/${subscription.id}/deliveries?status=succeeded`).set(tenant.auth);
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(5);

    expect((await api().post(`/api/v1/webhooks/${subscription.id}/replay`).set(tenant.auth).send({})).status).toBe(400);
    expect((await api().post(`/api/v1/webhooks/${subscription.id}/replay`).set(tenant.auth).send({ eventIds: ['00000000-0000-4000-8000-000000000000'] })).status).toBe(400);
  });

  it('when a ping is asked for, then the receiver gets a signed ping event', async () => {
    const tenant = await registerTenant(t.app);
    const sub = (await api().post('/api/v1/webhooks').set(tenant.auth).send({ url: receiver.url('/ping'), events: ['ticket.created'] })).body.data;
    const ping = await api().post(`/api/v1/webhooks/${sub.id}/ping`).set(tenant.auth);
    expect(ping.status).toBe(202);
    expect(ping.body.data).toMatchObject({ status: 'pending', eventType: 'ping', subscriptionId: sub.id });
    await jobs.runUntilIdle(tenant.tenantId);
    const [received] = receiver.at('/ping');
    expect(JSON.parse(received!.body)).toMatchObject({ type: 'ping', data: { object: { subscriptionId: sub.id } } });
    expect(verify(received!.body, String(received!.headers['webhook-signature']), sub.secret)).toBe(true);
    expect((await api().post(`/api/v1/webhooks/${sub.id}/ping`)).status).toBe(401);
  });

  it('when a subscribed URL now resolves to a private address and the operator does not allow those, then the delivery is refused at send time', async () => {
    const { tenant, deliveryId } = await unqueuedDelivery(receiver.url('/rebound'));
    const strict = { config: testConfig({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' }), knex: t.deps.knex, logger: t.deps.logger };
    const outcome = await attemptDelivery(strict, tenant.tenantId, deliveryId);
    expect(outcome).toMatchObject({ outcome: 'failed', error: expect.stringContaining('destination refused') });
    expect(receiver.at('/rebound')).toHaveLength(0);
    expect((await deliveryOf(tenant, deliveryId)).body.data).toMatchObject({ status: 'failed', attempts: 1 });
    // A claimed or finished delivery is not attempted again by a stray job.
    expect(await attemptDelivery(strict, tenant.tenantId, deliveryId)).toBeUndefined();
  });

  it('when the signing secret is under a key no longer configured, then the delivery fails at once instead of retrying forever', async () => {
    const { tenant, deliveryId } = await unqueuedDelivery(receiver.url('/lost-key'));
    const keyless = { config: testConfig({ CREDENTIALS_KEYS: `k5:${Buffer.alloc(32, 7).toString('base64')}` }), knex: t.deps.knex, logger: t.deps.logger };
    expect(await attemptDelivery(keyless, tenant.tenantId, deliveryId)).toMatchObject({ outcome: 'failed', error: expect.stringContaining('cannot be decrypted') });
    expect(receiver.at('/lost-key')).toHaveLength(0);
  });

  it('when a receiver never answers, then the attempt gives up after 5 seconds', async () => {
    const { createServer } = await import('node:net');
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const { tenant, deliveryId: id } = await unqueuedDelivery(`http://127.0.0.1:${port}/silent`);
      const outcome = await attemptDelivery(t.deps, tenant.tenantId, id);
      expect(outcome).toMatchObject({ outcome: 'retrying', error: expect.stringContaining('timed out') });
      expect(outcome!.durationMs).toBeGreaterThanOrEqual(4900);
      expect(outcome!.durationMs).toBeLessThan(7000);
      // Its scheduled retry would only knock on a closed port: settle it.
      await owner('webhook_deliveries').where({ id }).update({ status: 'failed', next_attempt_at: null });
    } finally {
      silent.close();
    }
  }, 15_000);

  it('when a receiver answers a large body, then only its first 4 KB are read and kept', async () => {
    receiver.script('/huge', ['huge']);
    const { tenant, deliveryId } = await tenantWithDelivery('/huge');
    await jobs.runUntilIdle(tenant.tenantId);
    const [attempt] = (await deliveryOf(tenant, deliveryId)).body.data.attemptLog;
    expect(attempt).toMatchObject({ outcome: 'succeeded', responseStatus: 200 });
    expect(attempt.responseExcerpt).toBe('x'.repeat(4096));
  });

  it('when a subscription is off, then ping and replay answer 409', async () => {
    const { tenant, subscription } = await tenantWithDelivery('/off');
    await api().patch(`/api/v1/webhooks/${subscription.id}`).set(tenant.auth).send({ active: false });
    expect((await api().post(`/api/v1/webhooks/${subscription.id}/ping`).set(tenant.auth)).status).toBe(409);
    expect((await api().post(`/api/v1/webhooks/${subscription.id}/replay`).set(tenant.auth).send({ since: new Date(0).toISOString() })).status).toBe(409);
  });

  it('when an event is older than 30 days and has nothing pending, then the sweeper deletes it with its delivery log', async () => {
    const { tenant, deliveryId } = await tenantWithDelivery('/old');
    await jobs.runUntilIdle(tenant.tenantId);
    await owner('webhook_events').where({ tenant_id: tenant.tenantId }).update({ created_at: owner.raw("now() - interval '31 days'") });
    await jobs.enqueueScheduled('webhooks.sweep');
    await jobs.runUntilIdle();
    expect(await owner('webhook_events').where({ tenant_id: tenant.tenantId }).first()).toBeUndefined();
    expect((await deliveryOf(tenant, deliveryId)).status).toBe(404);
  });

  it('spaces retries exponentially with jitter, capped at an hour', () => {
    expect(retryDelayMs(1, () => 0)).toBe(15_000);
    expect(retryDelayMs(1, () => 1)).toBe(30_000);
    expect(retryDelayMs(3, () => 1)).toBe(120_000);
    expect(retryDelayMs(20, () => 1)).toBe(3_600_000);
    expect(retryDelayMs(20, () => 0)).toBe(1_800_000);
  });
});
