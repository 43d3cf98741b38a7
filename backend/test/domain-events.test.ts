import { Knex } from 'knex';
import request from 'supertest';
import { TARGETS_CACHE_MS } from '../src/modules/webhooks/delivery-targets';
import { registerTenant, Registered } from './support/api-fixtures';
import { eventually } from './support/eventually';
import { TestJobRunner } from './support/jobs';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';
import { WebhookReceiver } from './support/webhook-receiver';

interface Delivered {
  type: string;
  data: { object: Record<string, unknown>; previousAttributes?: Record<string, unknown> };
}

describe('domain events and their subscribers', () => {
  let t: TestApp;
  let jobs: TestJobRunner;
  let owner: Knex;
  let receiver: WebhookReceiver;
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

  const subscribe = async (tenant: Registered, path: string, events: string[] = ['*']) => {
    const res = await api().post('/api/v1/webhooks').set(tenant.auth).send({ url: receiver.url(path), events });
    expect(res.status).toBe(201);
    return res.body.data.id as string;
  };
  const delivered = (path: string) => receiver.at(path).map((r) => JSON.parse(r.body) as Delivered);
  const storedEvents = (tenantId: string) => owner('webhook_events').where({ tenant_id: tenantId }).orderBy('created_at').select<Array<{ type: string }>>('type');

  it('when a deal moves between stages, then each move is one deal.stage_changed webhook carrying from and to; other changes send none', async () => {
    const tenant = await registerTenant(t.app);
    await subscribe(tenant, '/stages', ['deal.stage_changed']);
    const deal = (await api().post('/api/v1/deals').set(tenant.auth).send({ name: 'Staged' })).body.data;
    expect(deal.stage).toBe('qualification');
    await api().patch(`/api/v1/deals/${deal.id}`).set(tenant.auth).send({ stage: 'proposal' });
    await api().patch(`/api/v1/deals/${deal.id}`).set(tenant.auth).send({ amount: 900 });
    await api().patch(`/api/v1/deals/${deal.id}`).set(tenant.auth).send({ stage: 'closed_won' });
    await jobs.runUntilIdle(tenant.tenantId);

    const moves = delivered('/stages').map((event) => ({ type: event.type, from: event.data.previousAttributes?.stage, to: event.data.object.stage }));
    expect(moves.sort((x, y) => String(x.from).localeCompare(String(y.from)))).toEqual([
      { type: 'deal.stage_changed', from: 'proposal', to: 'closed_won' },
      { type: 'deal.stage_changed', from: 'qualification', to: 'proposal' },
    ]);
  });

  it('when one write has several subscribers, then its webhook event, Slack notice, e-mail and audit entry commit with it; a failed write leaves none', async () => {
    const tenant = await registerTenant(t.app);
    await subscribe(tenant, '/together', ['ticket.*']);
    await api()
      .post('/api/v1/integrations')
      .set(tenant.auth)
      .send({ type: 'slack_notification', name: 'Slack', config: { webhookUrl: receiver.url('/together-slack'), events: ['ticket.urgent'] } });
    const contact = (await api().post('/api/v1/contacts').set(tenant.auth).send({ lastName: 'Reader', email: 'reader@example.com' })).body.data;
    const before = { events: (await storedEvents(tenant.tenantId)).length, mails: await mails(tenant.tenantId) };

    const refused = await api().post('/api/v1/tickets').set(tenant.auth).send({ subject: 'Ghost', priority: 'urgent', contactId: contact.id, accountId: '00000000-0000-4000-8000-000000000000' });
    expect(refused.status).toBe(400);
    expect((await storedEvents(tenant.tenantId)).length).toBe(before.events);
    expect(await mails(tenant.tenantId)).toBe(before.mails);

    const ticket = await api().post('/api/v1/tickets').set(tenant.auth).send({ subject: 'Fire', priority: 'urgent', contactId: contact.id });
    expect(ticket.status).toBe(201);
    expect((await storedEvents(tenant.tenantId)).map((event) => event.type).slice(before.events).sort()).toEqual(['ticket.created', 'ticket.urgent']);
    expect(await mails(tenant.tenantId)).toBe(before.mails + 1);
    const [entry] = (await api().get(`/api/v1/audit-logs?resourceId=${ticket.body.data.id}`).set(tenant.auth)).body.data;
    expect(entry).toMatchObject({ action: 'ticket.create', resourceType: 'ticket', result: 'success' });

    await jobs.runUntilIdle(tenant.tenantId);
    expect(delivered('/together').map((event) => event.type)).toEqual(['ticket.created']);
    expect(receiver.at('/together-slack').map((r) => JSON.parse(r.body).text)).toEqual([':rotating_light: Urgent ticket: *Fire*']);
  });

  it('when events are replayed to a subscription of every type, then Slack notices are not among them', async () => {
    const tenant = await registerTenant(t.app);
    const since = new Date(Date.now() - 60_000).toISOString();
    await api()
      .post('/api/v1/integrations')
      .set(tenant.auth)
      .send({ type: 'slack_notification', name: 'Slack', config: { webhookUrl: receiver.url('/replay-slack'), events: ['deal.won'] } });
    const deal = (await api().post('/api/v1/deals').set(tenant.auth).send({ name: 'Won' })).body.data;
    await api().patch(`/api/v1/deals/${deal.id}`).set(tenant.auth).send({ stage: 'closed_won' });
    expect((await storedEvents(tenant.tenantId)).map((event) => event.type)).toEqual(['deal.won']);

    const everything = await subscribe(tenant, '/replay-all');
    const replay = await api().post(`/api/v1/webhooks/${everything}/replay`).set(tenant.auth).send({ since });
    expect(replay.status).toBe(202);
    expect(replay.body.data.deliveries).toBe(0);
  });

  describe('the active targets of a tenant, cached per instance', () => {
    it('when a subscription is turned off through the API, then the very next write stores no event for it', async () => {
      const tenant = await registerTenant(t.app);
      const id = await subscribe(tenant, '/switched');
      await api().post('/api/v1/leads').set(tenant.auth).send({ lastName: 'Before' });
      expect(await storedEvents(tenant.tenantId)).toHaveLength(1);
      expect((await api().patch(`/api/v1/webhooks/${id}`).set(tenant.auth).send({ active: false })).status).toBe(200);
      await api().post('/api/v1/leads').set(tenant.auth).send({ lastName: 'After' });
      expect(await storedEvents(tenant.tenantId)).toHaveLength(1);
      expect((await api().patch(`/api/v1/webhooks/${id}`).set(tenant.auth).send({ active: true })).status).toBe(200);
      await api().post('/api/v1/leads').set(tenant.auth).send({ lastName: 'Again' });
      expect(await storedEvents(tenant.tenantId)).toHaveLength(2);
    });

    it('when writes follow each other, then the targets are read once, not on every write', async () => {
      const tenant = await registerTenant(t.app);
      await subscribe(tenant, '/cached');
      const reads: string[] = [];
      const count = (query: { sql: string }) => {
        if (/from "webhook_subscriptions"/.test(query.sql)) reads.push(query.sql);
      };
      t.deps.knex.on('query', count);
      try {
        for (let i = 0; i < 5; i += 1) expect((await api().post('/api/v1/leads').set(tenant.auth).send({ lastName: `Cached ${i}` })).status).toBe(201);
      } finally {
        t.deps.knex.removeListener('query', count);
      }
      expect(await storedEvents(tenant.tenantId)).toHaveLength(5);
      expect(reads.length).toBeLessThanOrEqual(2);
    });

    it(`when another instance changes a subscription, then this one follows within ${TARGETS_CACHE_MS} ms`, async () => {
      const tenant = await registerTenant(t.app);
      const id = await subscribe(tenant, '/elsewhere');
      await api().post('/api/v1/leads').set(tenant.auth).send({ lastName: 'Seen' });
      // What another instance's PATCH does to the row; this instance hears nothing of it.
      await owner('webhook_subscriptions').where({ id }).update({ active: false });
      const changedAt = Date.now();
      let stored = (await storedEvents(tenant.tenantId)).length;
      // A write that stores no event: the instance has forgotten the disabled subscription.
      await eventually(
        async () => {
          await api().post('/api/v1/leads').set(tenant.auth).send({ lastName: 'Probe' });
          const now = (await storedEvents(tenant.tenantId)).length;
          const forgotten = now === stored;
          stored = now;
          return forgotten;
        },
        TARGETS_CACHE_MS + 2_000,
        'the instance forgetting the disabled subscription',
      );
      expect(Date.now() - changedAt).toBeLessThan(TARGETS_CACHE_MS + 2_000);
    });
  });

  async function mails(tenantId: string): Promise<number> {
    const [row] = await owner('notifications').where({ tenant_id: tenantId, template: 'ticket_confirmation' }).count<Array<{ n: string }>>('* as n');
    return Number(row!.n);
  }
});
