import { Knex } from 'knex';
import request from 'supertest';
import { bearer, registerTenant, Registered } from './support/api-fixtures';
import { eventually } from './support/eventually';
import { TestJobRunner } from './support/jobs';
import { platformAdmins, PlatformAdminsFixture } from './support/platform-admin-fixtures';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';
import { makeRetriesDue, WebhookReceiver } from './support/webhook-receiver';

/** Leads created in one go: each is one event, so one delivery per endpoint. */
const EVENTS = 6;
/** The breaker opens once this many calls in its window failed (and half of them did). */
const VOLUME = 3;

describe('a circuit breaker per webhook endpoint', () => {
  let t: TestApp;
  let jobs: TestJobRunner;
  let owner: Knex;
  let receiver: WebhookReceiver;
  let admins: PlatformAdminsFixture;
  let tenant: Registered;
  const api = () => request(t.app);

  beforeAll(async () => {
    // Long enough that "open" cannot turn half-open while the test looks at it on a loaded machine.
    t = buildTestApp({ env: { OUTBOUND_BREAKER_VOLUME: String(VOLUME), OUTBOUND_BREAKER_RESET_MS: '4000' } });
    jobs = new TestJobRunner(t);
    owner = ownerKnex();
    receiver = await new WebhookReceiver().start();
    admins = await platformAdmins(t, owner);
    tenant = await registerTenant(t.app);
  });
  afterAll(async () => {
    await receiver.stop();
    await owner.destroy();
    await jobs.close();
    await t.close();
  });

  const subscribe = async (path: string) =>
    (await api().post('/api/v1/webhooks').set(tenant.auth).send({ url: receiver.url(path), events: ['lead.created'] })).body.data.id as string;
  const deliveriesOf = (subscriptionId: string) =>
    owner('webhook_deliveries').where({ tenant_id: tenant.tenantId, subscription_id: subscriptionId }).select<Array<{ status: string; attempts: number; last_error: string | null }>>('status', 'attempts', 'last_error');
  /** The endpoint breaker's state as Prometheus scrapes it. */
  const scrapedState = async (subscriptionId: string) => {
    const text = (await api().get('/metrics')).text;
    return new RegExp(`^outbound_circuit_state\\{destination="webhook:${subscriptionId}",state="(\\w+)"\\} 1$`, 'm').exec(text)?.[1];
  };

  it('when an endpoint fails repeatedly, then its breaker opens: its deliveries wait without a request while others go out; a half-open probe after recovery closes it and everything arrives', async () => {
    const down = await subscribe('/down');
    const healthy = await subscribe('/healthy');
    receiver.script('/down', Array.from({ length: 50 }, () => 500));
    for (let i = 0; i < EVENTS; i += 1) expect((await api().post('/api/v1/leads').set(tenant.auth).send({ lastName: `Lead ${i}` })).status).toBe(201);

    await jobs.runUntilIdle(tenant.tenantId);
    // The failures opened the breaker: the rest were not sent, and are not counted as attempts.
    expect(receiver.at('/down')).toHaveLength(VOLUME);
    expect(await scrapedState(down)).toBe('open');
    const waiting = await deliveriesOf(down);
    expect(waiting.map((row) => row.status)).toEqual(Array(EVENTS).fill('pending'));
    expect(waiting.filter((row) => row.attempts === 0 && row.last_error?.includes('circuit breaker is open'))).toHaveLength(EVENTS - VOLUME);
    // The other endpoint of the same tenant and the same events is unaffected.
    expect(receiver.at('/healthy')).toHaveLength(EVENTS);
    expect((await deliveriesOf(healthy)).map((row) => row.status)).toEqual(Array(EVENTS).fill('succeeded'));
    expect(await scrapedState(healthy)).toBe('closed');

    // While open, retries that fall due are put back, not sent.
    await makeRetriesDue(jobs, tenant.tenantId);
    await jobs.runUntilIdle(tenant.tenantId);
    expect(receiver.at('/down')).toHaveLength(VOLUME);

    const dashboard = await api().get('/api/v1/admin/dashboard').set(bearer(admins.superAdmin.token));
    expect(dashboard.status).toBe(200);
    expect(dashboard.body.data.outbound).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ destination: `webhook:${down}`, state: 'open', calls: expect.objectContaining({ failure: VOLUME, rejected: expect.any(Number) }) }),
        expect.objectContaining({ destination: `webhook:${healthy}`, state: 'closed', calls: expect.objectContaining({ success: EVENTS, failure: 0 }) }),
      ]),
    );
    expect(JSON.stringify(dashboard.body.data.outbound)).not.toContain(receiver.url('/down'));

    // The receiver recovers; after the reset time one probe goes, succeeds, and closes the breaker.
    receiver.script('/down', []);
    await eventually(async () => (await scrapedState(down)) === 'half_open', 15_000, 'the breaker to half-open');
    await eventually(
      async () => {
        await makeRetriesDue(jobs, tenant.tenantId);
        await jobs.runUntilIdle(tenant.tenantId);
        return (await deliveriesOf(down)).every((row) => row.status === 'succeeded');
      },
      20_000,
      'every waiting delivery to arrive',
    );
    expect(await scrapedState(down)).toBe('closed');
    const arrived = receiver.at('/down').slice(VOLUME);
    expect(new Set(arrived.map((entry) => entry.headers['webhook-id'])).size).toBe(EVENTS);
  });

  it('when the half-open probe fails, then the breaker opens again and the waiting deliveries still get no request', async () => {
    const flaky = await subscribe('/flaky');
    receiver.script('/flaky', Array.from({ length: 50 }, () => 503));
    for (let i = 0; i < EVENTS; i += 1) await api().post('/api/v1/leads').set(tenant.auth).send({ lastName: `Flaky ${i}` });
    await jobs.runUntilIdle(tenant.tenantId);
    expect(receiver.at('/flaky')).toHaveLength(VOLUME);
    await eventually(async () => (await scrapedState(flaky)) === 'half_open', 15_000, 'the breaker to half-open');

    await makeRetriesDue(jobs, tenant.tenantId);
    await jobs.runUntilIdle(tenant.tenantId);
    // One probe, not one request per waiting delivery.
    expect(receiver.at('/flaky')).toHaveLength(VOLUME + 1);
    expect(await scrapedState(flaky)).toBe('open');
  });
});
