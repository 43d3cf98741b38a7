import { Knex } from 'knex';
import request from 'supertest';
import { isBlockedAddress, vetDestination } from '../src/modules/webhooks/destination-guard';
import { addMember, registerTenant, Registered } from './support/api-fixtures';
import { TestJobRunner } from './support/jobs';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';
import { WebhookReceiver } from './support/webhook-receiver';

describe('webhook subscriptions and the outbox', () => {
  let t: TestApp;
  let jobs: TestJobRunner;
  let owner: Knex;
  let receiver: WebhookReceiver;
  let a: Registered;
  let b: Registered;
  const api = () => request(t.app);

  beforeAll(async () => {
    t = buildTestApp();
    jobs = new TestJobRunner(t);
    owner = ownerKnex();
    receiver = await new WebhookReceiver().start();
    a = await registerTenant(t.app);
    b = await registerTenant(t.app);
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
    return res.body.data as { id: string; secret: string };
  };
  const eventsOf = (path: string) => receiver.at(path).map((r) => JSON.parse(r.body) as { id: string; type: string; data: { object: Record<string, unknown>; previousAttributes?: Record<string, unknown> } });

  describe('CRUD', () => {
    it('when an admin subscribes, then the secret is answered once and never again, and it is stored only encrypted', async () => {
      const created = await api().post('/api/v1/webhooks').set(a.auth).send({ url: receiver.url('/crud'), events: ['lead.*', 'deal.stage_changed'], description: 'CRM sync' });
      expect(created.status).toBe(201);
      expect(created.headers['cache-control']).toBe('no-store');
      expect(created.body.data).toMatchObject({ url: receiver.url('/crud'), events: ['lead.*', 'deal.stage_changed'], active: true, disabledReason: null });
      const { id, secret } = created.body.data;
      expect(secret).toMatch(/^whsec_[\w-]{43}$/);

      const one = await api().get(`/api/v1/webhooks/${id}`).set(a.auth);
      const list = await api().get('/api/v1/webhooks').set(a.auth);
      expect(one.status).toBe(200);
      expect(list.body.data.map((s: { id: string }) => s.id)).toContain(id);
      for (const res of [one, list]) expect(JSON.stringify(res.body)).not.toContain(secret);
      const stored = await owner('webhook_subscriptions').where({ id }).first();
      expect(JSON.stringify(stored)).not.toContain(secret);
      expect(stored.secret_encrypted).toMatch(/^cred1\.k0\./);
    });

    it('when a subscription is patched and deleted, then it changes and then is gone (404)', async () => {
      const { id } = await subscribe(a, '/crud-2');
      const patched = await api().patch(`/api/v1/webhooks/${id}`).set(a.auth).send({ events: ['ticket.created'], active: false });
      expect(patched.status).toBe(200);
      expect(patched.body.data).toMatchObject({ events: ['ticket.created'], active: false });
      expect((await api().delete(`/api/v1/webhooks/${id}`).set(a.auth)).status).toBe(204);
      expect((await api().get(`/api/v1/webhooks/${id}`).set(a.auth)).status).toBe(404);
    });

    it.each([
      [{ url: 'not a url', events: ['*'] }, 'url'],
      [{ url: 'ftp://example.com/x', events: ['*'] }, 'url'],
      [{ url: 'https://example.com/x', events: [] }, 'events'],
      [{ url: 'https://example.com/x', events: ['lead.exploded'] }, 'events.0'],
      [{ url: 'https://example.com/x', events: ['nothing.*'] }, 'events.0'],
      [{ url: 'https://example.com/x' }, 'events'],
    ])('when the body is %j, then 400 names %s', async (body, field) => {
      const res = await api().post('/api/v1/webhooks').set(a.auth).send(body);
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    });

    it('when the caller is anonymous or not a tenant admin, then 401 / 403', async () => {
      expect((await api().get('/api/v1/webhooks')).status).toBe(401);
      const manager = await addMember(t.app, a, 'manager');
      expect((await api().get('/api/v1/webhooks').set(manager.auth)).status).toBe(403);
      expect((await api().post('/api/v1/webhooks').set(manager.auth).send({ url: receiver.url('/x'), events: ['*'] })).status).toBe(403);
    });

    it("when another tenant's subscription or delivery is named, then 404 everywhere", async () => {
      const { id } = await subscribe(b, '/other-tenant');
      expect((await api().get(`/api/v1/webhooks/${id}`).set(a.auth)).status).toBe(404);
      expect((await api().patch(`/api/v1/webhooks/${id}`).set(a.auth).send({ active: false })).status).toBe(404);
      expect((await api().delete(`/api/v1/webhooks/${id}`).set(a.auth)).status).toBe(404);
      expect((await api().post(`/api/v1/webhooks/${id}/ping`).set(a.auth)).status).toBe(404);
      expect((await api().post(`/api/v1/webhooks/${id}/replay`).set(a.auth).send({ since: new Date().toISOString() })).status).toBe(404);
      expect((await api().get(`/api/v1/webhooks/${id}/deliveries`).set(a.auth)).status).toBe(404);
      const ping = await api().post(`/api/v1/webhooks/${id}/ping`).set(b.auth);
      expect((await api().get(`/api/v1/webhook-deliveries/${ping.body.data.id}`).set(a.auth)).status).toBe(404);
      expect((await api().post(`/api/v1/webhook-deliveries/${ping.body.data.id}/retry`).set(a.auth)).status).toBe(404);
      expect(await owner('webhook_subscriptions').where({ id }).first('active')).toEqual({ active: true });
    });

    it('when an id is not a uuid, then 400', async () => {
      expect((await api().get('/api/v1/webhooks/nope').set(a.auth)).status).toBe(400);
      expect((await api().post('/api/v1/webhook-deliveries/nope/retry').set(a.auth)).status).toBe(400);
    });
  });

  describe('the SSRF guard at subscription time', () => {
    let guarded: TestApp;
    beforeAll(() => {
      guarded = buildTestApp({ env: { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' } });
    });
    afterAll(() => guarded.close());

    it.each([
      'http://127.0.0.1:8080/hook',
      'http://localhost/hook',
      'http://10.1.2.3/hook',
      'http://172.20.0.1/hook',
      'http://192.168.1.10/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://100.64.0.1/hook',
      'http://0.0.0.0/hook',
      'http://[::1]/hook',
      'http://[fd00::1]/hook',
      'http://[fe80::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://[::ffff:a9fe:a9fe]/hook',
      'http://user:pass@example.com/hook',
    ])('when the URL is %s, then create answers 400 and nothing is stored', async (url) => {
      const before = await owner('webhook_subscriptions').where({ tenant_id: a.tenantId }).count<[{ count: number }]>('* as count');
      const res = await request(guarded.app).post('/api/v1/webhooks').set(a.auth).send({ url, events: ['*'] });
      expect(res.status).toBe(400);
      expect(res.body.error.details[0].field).toBe('url');
      const after = await owner('webhook_subscriptions').where({ tenant_id: a.tenantId }).count<[{ count: number }]>('* as count');
      expect(after).toEqual(before);
    });

    it('when an update points a subscription at a private address, then 400 and the URL stays', async () => {
      const { id } = await subscribe(a, '/guard-update');
      const res = await request(guarded.app).patch(`/api/v1/webhooks/${id}`).set(a.auth).send({ url: 'http://169.254.169.254/' });
      expect(res.status).toBe(400);
      expect((await api().get(`/api/v1/webhooks/${id}`).set(a.auth)).body.data.url).toBe(receiver.url('/guard-update'));
    });

    it('when a name does not resolve, then 400', async () => {
      const res = await request(guarded.app).post('/api/v1/webhooks').set(a.auth).send({ url: 'https://no-such-host.invalid/hook', events: ['*'] });
      expect(res.status).toBe(400);
    });

    it('when production asks for https, then an http URL is refused even to a public address', async () => {
      await expect(vetDestination('http://8.8.8.8/hook', { allowPrivateNetworks: false, requireHttps: true })).rejects.toThrow('must be an https URL');
      await expect(vetDestination('https://8.8.8.8/hook', { allowPrivateNetworks: false, requireHttps: true })).resolves.toMatchObject({ address: '8.8.8.8' });
    });

    it('classifies addresses: public ones pass, every blocked range is caught', () => {
      for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '172.32.0.1', '100.128.0.1']) expect(isBlockedAddress(address)).toBe(false);
      for (const address of ['127.0.0.1', '10.0.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.127.0.1', '0.1.2.3', '::1', '::', 'fc00::1', 'fe80::1', '::ffff:10.0.0.1', '::ffff:7f00:1', '64:ff9b::a9fe:a9fe', '224.0.0.1', 'nonsense']) {
        expect(isBlockedAddress(address)).toBe(true);
      }
    });
  });

  describe('events from CRM writes', () => {
    it('when leads and deals are created, updated, converted, staged and deleted, then each change is one event to matching subscriptions', async () => {
      const tenant = await registerTenant(t.app);
      await subscribe(tenant, '/crm-all', ['*']);
      await subscribe(tenant, '/crm-deals', ['deal.stage_changed']);
      const lead = await api().post('/api/v1/leads').set(tenant.auth).send({ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', company: 'Engines' });
      await api().patch(`/api/v1/leads/${lead.body.data.id}`).set(tenant.auth).send({ status: 'contacted' });
      const converted = await api().post(`/api/v1/leads/${lead.body.data.id}/convert`).set(tenant.auth).send({ deal: { name: 'Engine deal', amount: 1000 } });
      expect(converted.status).toBe(200);
      const dealId = converted.body.data.deal.id as string;
      await api().patch(`/api/v1/deals/${dealId}`).set(tenant.auth).send({ stage: 'proposal' });
      await api().delete(`/api/v1/deals/${dealId}`).set(tenant.auth);
      await jobs.runUntilIdle(tenant.tenantId);

      const types = eventsOf('/crm-all').map((e) => e.type);
      expect(types).toEqual(
        expect.arrayContaining(['lead.created', 'lead.updated', 'account.created', 'contact.created', 'deal.created', 'lead.converted', 'deal.updated', 'deal.stage_changed', 'deal.deleted']),
      );
      expect(types).toHaveLength(9);
      const updated = eventsOf('/crm-all').find((e) => e.type === 'lead.updated')!;
      expect(updated.data.object).toMatchObject({ id: lead.body.data.id, status: 'contacted', email: 'ada@example.com' });
      expect(updated.data.previousAttributes).toEqual({ status: 'new' });
      const staged = eventsOf('/crm-deals');
      expect(staged.map((e) => e.type)).toEqual(['deal.stage_changed']);
      expect(staged[0]!.data).toMatchObject({ object: { id: dealId, stage: 'proposal' }, previousAttributes: { stage: 'qualification' } });
    });

    it('when a write fails, then no event is stored (the outbox shares its transaction)', async () => {
      const tenant = await registerTenant(t.app);
      await subscribe(tenant, '/crm-failed');
      const res = await api().post('/api/v1/deals').set(tenant.auth).send({ name: 'Ghost', accountId: '00000000-0000-4000-8000-000000000000' });
      expect(res.status).toBe(400);
      expect(await owner('webhook_events').where({ tenant_id: tenant.tenantId }).count<[{ count: number }]>('* as count')).toEqual([{ count: 0 }]);
    });

    it('when no subscription matches, then writes store no event at all', async () => {
      const tenant = await registerTenant(t.app);
      await subscribe(tenant, '/crm-tickets-only', ['ticket.created']);
      await api().post('/api/v1/leads').set(tenant.auth).send({ lastName: 'Nobody' });
      expect(await owner('webhook_events').where({ tenant_id: tenant.tenantId }).count<[{ count: number }]>('* as count')).toEqual([{ count: 0 }]);
    });

    it('when rows are imported, then each row is one event, sent by a few batch jobs rather than one job per row', async () => {
      const tenant = await registerTenant(t.app);
      await subscribe(tenant, '/crm-import', ['contact.created']);
      const rows = Array.from({ length: 250 }, (_, i) => ({ firstName: 'Row', lastName: `N${i}`, email: `row${i}@example.com` }));
      const res = await api().post('/api/v1/contacts/import/bulk').set(tenant.auth).send(rows);
      expect(res.status).toBe(201);
      expect(await jobs.queuedJobs({ task: 'webhooks.deliver', tenantId: tenant.tenantId })).toHaveLength(3);
      await jobs.runUntilIdle(tenant.tenantId);
      const received = eventsOf('/crm-import');
      expect(received).toHaveLength(250);
      expect(new Set(received.map((e) => e.data.object.email)).size).toBe(250);
    });
  });

  it('when an import is undone, then each record it created is a deleted event', async () => {
    const tenant = await registerTenant(t.app);
    await subscribe(tenant, '/crm-undo', ['contact.deleted']);
    const imported = await api()
      .post('/api/v1/contacts/import/bulk')
      .set(tenant.auth)
      .send([{ lastName: 'One' }, { lastName: 'Two' }, { lastName: 'Three' }]);
    const undone = await api().post(`/api/v1/imports/${imported.body.data.importId}/undo`).set(tenant.auth);
    expect(undone.status).toBe(200);
    await jobs.runUntilIdle(tenant.tenantId);
    const received = eventsOf('/crm-undo');
    expect(received.map((e) => e.type)).toEqual(['contact.deleted', 'contact.deleted', 'contact.deleted']);
    expect(received.map((e) => e.data.object.lastName).sort()).toEqual(['One', 'Three', 'Two']);
    expect(received.every((e) => e.data.object.deletedAt)).toBe(true);
  });

  describe('the outbox survives a crash between commit and delivery', () => {
    it('when the process that committed a change dies before sending, then a fresh runner delivers the event', async () => {
      const tenant = await registerTenant(t.app);
      await subscribe(tenant, '/crash', ['lead.created']);
      const lead = await api().post('/api/v1/leads').set(tenant.auth).send({ lastName: 'Durable' });
      expect(lead.status).toBe(201);
      // The "crash": this app and its pools go away with nothing sent; only what was committed remains.
      const pending = await owner('webhook_deliveries').where({ tenant_id: tenant.tenantId }).select('status');
      expect(pending).toEqual([{ status: 'pending' }]);
      expect(receiver.at('/crash')).toHaveLength(0);

      const restarted = buildTestApp();
      const freshJobs = new TestJobRunner(restarted);
      try {
        await freshJobs.runUntilIdle(tenant.tenantId);
      } finally {
        await freshJobs.close();
        await restarted.close();
      }
      expect(eventsOf('/crash').map((e) => [e.type, e.data.object.id])).toEqual([['lead.created', lead.body.data.id]]);
      expect(await owner('webhook_deliveries').where({ tenant_id: tenant.tenantId }).select('status')).toEqual([{ status: 'succeeded' }]);
    });

    it('when a pending delivery has lost its job, then the sweeper enqueues it again and it is delivered', async () => {
      const tenant = await registerTenant(t.app);
      await subscribe(tenant, '/swept', ['lead.created']);
      await api().post('/api/v1/leads').set(tenant.auth).send({ lastName: 'Orphan' });
      await jobs.removeJobs((await jobs.queuedJobs({ task: 'webhooks.deliver', tenantId: tenant.tenantId })).map((job) => job.id));
      await owner('webhook_deliveries').where({ tenant_id: tenant.tenantId }).update({ next_attempt_at: owner.raw("now() - interval '10 minutes'") });
      await jobs.enqueueScheduled('webhooks.sweep');
      await jobs.runUntilIdle();
      await jobs.runUntilIdle(tenant.tenantId);
      expect(eventsOf('/swept').map((e) => e.type)).toEqual(['lead.created']);
    });
  });
});
