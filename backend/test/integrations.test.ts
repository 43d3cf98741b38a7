import { Knex } from 'knex';
import request from 'supertest';
import { addMember, registerTenant, Registered } from './support/api-fixtures';
import { TestJobRunner } from './support/jobs';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';
import { WebhookReceiver } from './support/webhook-receiver';

describe('integrations', () => {
  let t: TestApp;
  let jobs: TestJobRunner;
  let owner: Knex;
  let receiver: WebhookReceiver;
  let a: Registered;
  /** Every secret a test sent: none may ever come back in an answer, a log line or the audit trail. */
  const secrets: string[] = [];
  const answers: string[] = [];
  const api = () => request(t.app);
  const keep = <R extends request.Response>(res: R): R => {
    answers.push(JSON.stringify(res.body));
    return res;
  };

  beforeAll(async () => {
    t = buildTestApp();
    jobs = new TestJobRunner(t);
    owner = ownerKnex();
    receiver = await new WebhookReceiver().start();
    a = await registerTenant(t.app);
  });
  afterAll(async () => {
    await receiver.stop();
    await owner.destroy();
    await jobs.close();
    await t.close();
  });

  const slackUrl = (path: string) => {
    const url = receiver.url(`${path}?token=T0KEN-${Math.random().toString(36).slice(2)}`);
    secrets.push(url);
    return url;
  };
  const create = async (tenant: Registered, body: Record<string, unknown>) => keep(await api().post('/api/v1/integrations').set(tenant.auth).send(body));

  it('when each type is created, then its secrets come back masked and are stored only encrypted', async () => {
    const stripeKey = 'sk_test_51Habcdefghijklmnop9876';
    const stripeHook = 'whsec_abcdefghijklmnop5432';
    const ediPassword = 'edi-password-long-enough-1111';
    const hookSecret = 'custom-hook-secret-2222';
    secrets.push(stripeKey, stripeHook, ediPassword, hookSecret);
    const cases = [
      { type: 'slack_notification', name: 'Sales Slack', config: { webhookUrl: slackUrl('/slack-create'), channel: '#sales', events: ['deal.won'] } },
      { type: 'custom_webhook', name: 'Custom', config: { url: receiver.url('/custom-create'), secret: hookSecret } },
      { type: 'stripe_payment', name: 'Stripe', config: { apiKey: stripeKey, webhookSecret: stripeHook } },
      { type: 'capricorn_edi', name: 'EDI', config: { baseUrl: receiver.url('/edi'), customerId: 'acme', apiKey: ediPassword } },
    ];
    for (const body of cases) {
      const res = await create(a, body);
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ type: body.type, name: body.name, active: true });
      const one = keep(await api().get(`/api/v1/integrations/${res.body.data.id}`).set(a.auth));
      expect(one.body.data.config).toEqual(res.body.data.config);
    }
    const list = keep(await api().get('/api/v1/integrations').set(a.auth));
    const byType = Object.fromEntries(list.body.data.map((i: { type: string; config: unknown }) => [i.type, i.config]));
    expect(byType.stripe_payment).toEqual({ apiKey: '••••9876', webhookSecret: '••••5432' });
    expect(byType.capricorn_edi).toEqual({ baseUrl: receiver.url('/edi'), customerId: 'acme', apiKey: '••••1111' });
    expect(byType.custom_webhook).toEqual({ url: receiver.url('/custom-create'), secret: '••••2222', events: ['*'] });
    expect(byType.slack_notification).toMatchObject({ channel: '#sales', events: ['deal.won'], webhookUrl: expect.stringMatching(/^••••/) });

    const stored = JSON.stringify(await owner('integrations').where({ tenant_id: a.tenantId }));
    for (const secret of secrets) expect(stored).not.toContain(secret);
  });

  it('when a config is patched, then a secret left out keeps its value and a new one replaces it', async () => {
    const first = await create(a, { type: 'capricorn_edi', name: 'EDI 2', config: { baseUrl: receiver.url('/edi2'), customerId: 'u1', apiKey: 'first-password-3333' } });
    secrets.push('first-password-3333', 'second-password-4444');
    const id = first.body.data.id;
    const renamed = keep(await api().patch(`/api/v1/integrations/${id}`).set(a.auth).send({ config: { customerId: 'u2' } }));
    expect(renamed.status).toBe(200);
    expect(renamed.body.data.config).toEqual({ baseUrl: receiver.url('/edi2'), customerId: 'u2', apiKey: '••••3333' });
    const rekeyed = keep(await api().patch(`/api/v1/integrations/${id}`).set(a.auth).send({ config: { apiKey: 'second-password-4444' }, active: false }));
    expect(rekeyed.body.data).toMatchObject({ active: false, config: { apiKey: '••••4444' } });
  });

  it.each([
    [{ type: 'fax', name: 'x', config: {} }, 'type'],
    [{ type: 'stripe_payment', name: 'x', config: { apiKey: 'sk_test_123456789' } }, 'config.webhookSecret'],
    [{ type: 'stripe_payment', name: 'x', config: { apiKey: 'not-a-key-at-all', webhookSecret: 'whsec_123456789' } }, 'config.apiKey'],
    [{ type: 'slack_notification', name: 'x', config: { webhookUrl: 'https://hooks.example.com/x', events: ['deal.exploded'] } }, 'config.events.0'],
    [{ type: 'custom_webhook', name: 'x', config: { url: 'nope' } }, 'config.url'],
    [{ type: 'capricorn_edi', name: '', config: {} }, 'name'],
  ])('when the body is %j, then 400 names %s', async (body, field) => {
    const res = await create(a, body);
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
  });

  it('when the operator does not allow private networks, then a Slack or custom URL on one is refused', async () => {
    const guarded = buildTestApp({ env: { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' } });
    try {
      const slack = await request(guarded.app)
        .post('/api/v1/integrations')
        .set(a.auth)
        .send({ type: 'slack_notification', name: 'x', config: { webhookUrl: 'http://169.254.169.254/hook', events: ['deal.won'] } });
      expect(slack.status).toBe(400);
      expect(slack.body.error.details[0].field).toBe('config.webhookUrl');
      const custom = await request(guarded.app).post('/api/v1/integrations').set(a.auth).send({ type: 'custom_webhook', name: 'x', config: { url: 'http://10.0.0.1/' } });
      expect(custom.status).toBe(400);
    } finally {
      await guarded.close();
    }
  });

  it('when the caller is anonymous, not an admin, or names another tenant’s integration, then 401 / 403 / 404', async () => {
    const b = await registerTenant(t.app);
    const theirs = await create(b, { type: 'capricorn_edi', name: 'Theirs', config: { baseUrl: receiver.url('/x'), customerId: 'b', apiKey: 'their-password-5555' } });
    secrets.push('their-password-5555');
    expect((await api().get('/api/v1/integrations')).status).toBe(401);
    const sales = await addMember(t.app, a, 'sales_user');
    expect((await api().get('/api/v1/integrations').set(sales.auth)).status).toBe(403);
    expect((await api().post('/api/v1/integrations').set(sales.auth).send({ type: 'capricorn_edi', name: 'x', config: {} })).status).toBe(403);
    const id = theirs.body.data.id;
    expect((await api().get(`/api/v1/integrations/${id}`).set(a.auth)).status).toBe(404);
    expect((await api().patch(`/api/v1/integrations/${id}`).set(a.auth).send({ name: 'Mine' })).status).toBe(404);
    expect((await api().delete(`/api/v1/integrations/${id}`).set(a.auth)).status).toBe(404);
    expect((await api().delete(`/api/v1/integrations/${id}`).set(b.auth)).status).toBe(204);
    expect((await api().get(`/api/v1/integrations/${id}`).set(b.auth)).status).toBe(404);
  });

  it('when a deal is won or lost and a ticket turns urgent, then Slack gets one message each; other changes send nothing', async () => {
    const tenant = await registerTenant(t.app);
    await create(tenant, { type: 'slack_notification', name: 'Slack', config: { webhookUrl: slackUrl('/slack'), channel: '#wins', events: ['deal.won', 'deal.lost', 'ticket.urgent'] } });
    const deal = await api().post('/api/v1/deals').set(tenant.auth).send({ name: 'Big & co', amount: 5000, currency: 'EUR' });
    const lost = await api().post('/api/v1/deals').set(tenant.auth).send({ name: 'Small deal' });
    await api().patch(`/api/v1/deals/${deal.body.data.id}`).set(tenant.auth).send({ stage: 'negotiation' });
    await api().patch(`/api/v1/deals/${deal.body.data.id}`).set(tenant.auth).send({ stage: 'closed_won' });
    await api().patch(`/api/v1/deals/${lost.body.data.id}`).set(tenant.auth).send({ stage: 'closed_lost' });
    const ticket = await api().post('/api/v1/tickets').set(tenant.auth).send({ subject: 'Printer on fire', priority: 'low' });
    await api().patch(`/api/v1/tickets/${ticket.body.data.id}`).set(tenant.auth).send({ priority: 'urgent' });
    await api().post('/api/v1/tickets').set(tenant.auth).send({ subject: 'Server down', priority: 'urgent' });
    await jobs.runUntilIdle(tenant.tenantId);

    const messages = receiver.at('/slack').map((r) => JSON.parse(r.body));
    expect(messages).toHaveLength(4);
    expect(messages).toEqual(
      expect.arrayContaining([
        { channel: '#wins', text: ':tada: Deal won: *Big &amp; co* (5000 EUR)' },
        { channel: '#wins', text: expect.stringContaining(':x: Deal lost: *Small deal*') },
        { channel: '#wins', text: ':rotating_light: Urgent ticket: *Printer on fire*' },
        { channel: '#wins', text: ':rotating_light: Urgent ticket: *Server down*' },
      ]),
    );
    // Slack messages are not signed: the URL itself is the credential.
    expect(receiver.at('/slack')[0]!.headers['webhook-signature']).toBeUndefined();
  });

  it('when a custom webhook integration has a secret, then its deliveries are signed with it', async () => {
    const tenant = await registerTenant(t.app);
    secrets.push('custom-signing-secret-6666');
    await create(tenant, { type: 'custom_webhook', name: 'Custom', config: { url: receiver.url('/custom'), secret: 'custom-signing-secret-6666', events: ['lead.created'] } });
    await api().post('/api/v1/leads').set(tenant.auth).send({ lastName: 'Hopper' });
    await jobs.runUntilIdle(tenant.tenantId);
    const [received] = receiver.at('/custom');
    const { createHmac } = await import('node:crypto');
    const [, ts, v1] = /^t=(\d+),v1=([0-9a-f]+)$/.exec(String(received!.headers['webhook-signature']))!;
    expect(createHmac('sha256', 'custom-signing-secret-6666').update(`${ts}.${received!.body}`).digest('hex')).toBe(v1);
    expect(JSON.parse(received!.body).type).toBe('lead.created');
  });

  it('never shows a secret: not in any answer above, not in the audit trail, not in a log line', async () => {
    const audit = keep(await api().get('/api/v1/audit-logs?limit=200').set(a.auth));
    expect(audit.status).toBe(200);
    const actions = audit.body.data.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['integration.create', 'integration.update']));
    const logs = JSON.stringify(t.logs);
    for (const secret of secrets) {
      for (const answer of answers) expect(answer).not.toContain(secret);
      expect(logs).not.toContain(secret);
    }
    expect(secrets.length).toBeGreaterThan(8);
  });
});
