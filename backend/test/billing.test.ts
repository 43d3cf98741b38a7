import { Knex } from 'knex';
import request from 'supertest';
import { STRIPE_API_VERSION } from '../src/modules/billing/stripe-gateway';
import { addMember, bearer, registerTenant, Registered } from './support/api-fixtures';
import { TestJobRunner } from './support/jobs';
import { mailsOf, sendPendingMails } from './support/mail-log';
import { platformAdmins, staffMember } from './support/platform-admin-fixtures';
import { StripeDouble } from './support/stripe-double';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

describe('billing with Stripe (against a local double of its API)', () => {
  let stripe: StripeDouble;
  let t: TestApp;
  let jobs: TestJobRunner;
  let owner: Knex;

  beforeAll(async () => {
    stripe = await new StripeDouble().start();
    t = buildTestApp({ env: stripe.env() });
    jobs = new TestJobRunner(t);
    owner = ownerKnex();
  });
  afterAll(async () => {
    await jobs.close();
    await t.close();
    await owner.destroy();
    await stripe.stop();
  });
  afterEach(() => {
    stripe.failWith = null;
  });

  const billing = async (account: Registered) => {
    const res = await request(t.app).get('/api/v1/organization/billing').set(account.auth);
    expect(res.status).toBe(200);
    return res.body.data;
  };

  const deliver = (event: { payload: string; signature: string }) =>
    request(t.app).post('/api/v1/billing/stripe/webhook').set('Content-Type', 'application/json').set('Stripe-Signature', event.signature).send(event.payload);

  /** Checkout through the API, the customer pays at Stripe, and Stripe says so: the tenant is subscribed. */
  const subscribe = async (account: Registered, plan = 'pro') => {
    const checkout = await request(t.app).post('/api/v1/organization/billing/checkout').set(account.auth).send({ plan });
    expect(checkout.status).toBe(200);
    const sessionId = String(checkout.body.data.url).split('/').pop()!;
    const { session, subscription } = stripe.completeCheckout(sessionId);
    expect((await deliver(stripe.signedEvent('checkout.session.completed', session))).status).toBe(200);
    return { checkoutUrl: checkout.body.data.url as string, subscriptionId: subscription.id as string };
  };

  const templatesOf = async (tenantId: string) => (await mailsOf(owner, tenantId)).map((mail) => mail.template).filter((template) => template !== 'welcome');

  it('when an organization signs up naming a paid plan, then it is a 14-day trial of that plan; a free sign-up is active on free', async () => {
    const before = Date.now();
    const trial = await registerTenant(t.app, { plan: 'pro' });
    const state = await billing(trial);
    expect(state).toMatchObject({ plan: 'pro', status: 'trialing', currentPeriodEnd: null, cancelAtPeriodEnd: false, paymentMethod: null });
    const days = (new Date(state.trialEndsAt).getTime() - before) / 86_400_000;
    expect(days).toBeGreaterThan(13.99);
    expect(days).toBeLessThan(14.01);

    const free = await registerTenant(t.app, { plan: 'free' });
    expect(await billing(free)).toEqual({ plan: 'free', status: 'active', trialEndsAt: null, currentPeriodEnd: null, cancelAtPeriodEnd: false, paymentMethod: null });
  });

  it("when a tenant's whole billing life runs (trial, checkout, payment failed, paid, cancelled), then plan, status and e-mails follow Stripe, each once", async () => {
    const account = await registerTenant(t.app, { plan: 'pro' });
    const analyst = await staffMember(t, owner, 'finance');
    const overview = async () => {
      const res = await request(t.app).get('/api/v1/admin/analytics/overview').set(bearer(analyst.token));
      expect(res.status).toBe(200);
      const usd = res.body.data.revenue.find((row: { currency: string }) => row.currency === 'usd');
      return { mrr: usd.mrrCents as number, churned: res.body.data.churnedTenants as number, trials: res.body.data.trials as { ended: number; converted: number } };
    };
    const start = await overview();
    const calls = stripe.requests.length;
    const { checkoutUrl, subscriptionId } = await subscribe(account, 'enterprise');
    // Revenue analytics follow: the trial converted, and the enterprise price is now monthly revenue.
    const subscribed = await overview();
    expect(subscribed.mrr - start.mrr).toBe(19900);
    expect([subscribed.trials.ended - start.trials.ended, subscribed.trials.converted - start.trials.converted]).toEqual([1, 1]);
    expect(checkoutUrl).toMatch(/^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_test_/);

    // The real client's traffic: a customer made once (with our idempotency key), a subscription Checkout for the plan's price, the pinned API version.
    const traffic = stripe.requests.slice(calls);
    const customer = traffic.find((call) => call.path === '/v1/customers')!;
    expect(customer.headers['idempotency-key']).toBe(`crm-customer-${account.tenantId}`);
    expect(customer.params).toMatchObject({ metadata: { tenantId: account.tenantId } });
    const session = traffic.find((call) => call.path === '/v1/checkout/sessions')!;
    expect(session.params).toMatchObject({
      mode: 'subscription',
      client_reference_id: account.tenantId,
      line_items: { 0: { quantity: '1', price_data: { currency: 'usd', unit_amount: '19900', recurring: { interval: 'month' } } } },
      subscription_data: { metadata: { plan: 'enterprise', tenantId: account.tenantId } },
    });
    expect(traffic.every((call) => call.headers['stripe-version'] === STRIPE_API_VERSION)).toBe(true);

    const active = await billing(account);
    expect(active).toMatchObject({ plan: 'enterprise', status: 'active', trialEndsAt: null, cancelAtPeriodEnd: false, paymentMethod: { brand: 'visa', last4: '4242' } });
    expect(new Date(active.currentPeriodEnd).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    // A renewal fails: Stripe marks the subscription past due and retries (dunning); the paid plan's limits stay meanwhile.
    stripe.updateSubscription(subscriptionId, { status: 'past_due' });
    const failed = stripe.signedEvent('invoice.payment_failed', stripe.invoice(subscriptionId, { paid: false, amount: 19900 }));
    expect((await deliver(failed)).body.data).toEqual({ received: true, duplicate: false });
    expect(await billing(account)).toMatchObject({ plan: 'enterprise', status: 'past_due' });
    // Stripe delivers the same event again: nothing changes, no second e-mail.
    expect((await deliver(failed)).body.data).toEqual({ received: true, duplicate: true });

    stripe.updateSubscription(subscriptionId, { status: 'active' });
    expect((await deliver(stripe.signedEvent('invoice.paid', stripe.invoice(subscriptionId, { paid: true, amount: 19900 })))).status).toBe(200);
    expect(await billing(account)).toMatchObject({ plan: 'enterprise', status: 'active' });

    const portal = await request(t.app).post('/api/v1/organization/billing/portal').set(account.auth);
    expect(portal.status).toBe(200);
    expect(portal.body.data.url).toMatch(/^https:\/\/billing\.stripe\.test\/p\/session\/bps_/);
    // A plan switch in the portal: the subscription's product names the new plan.
    stripe.switchPlan(subscriptionId, 'pro', 4900);
    await deliver(stripe.signedEvent('customer.subscription.updated', stripe.subscriptions.get(subscriptionId)!)).expect(200);
    expect(await billing(account)).toMatchObject({ plan: 'pro', status: 'active' });

    // Cancelled in the portal at the period's end, then ended by Stripe: the free plan's limits apply.
    stripe.updateSubscription(subscriptionId, { cancel_at_period_end: true });
    await deliver(stripe.signedEvent('customer.subscription.updated', stripe.subscriptions.get(subscriptionId)!)).expect(200);
    expect(await billing(account)).toMatchObject({ status: 'active', cancelAtPeriodEnd: true });
    stripe.updateSubscription(subscriptionId, { status: 'canceled' });
    await deliver(stripe.signedEvent('customer.subscription.deleted', stripe.subscriptions.get(subscriptionId)!)).expect(200);
    expect(await billing(account)).toEqual({ plan: 'free', status: 'canceled', trialEndsAt: null, currentPeriodEnd: null, cancelAtPeriodEnd: false, paymentMethod: null });
    const ended = await overview();
    expect([ended.mrr - start.mrr, ended.churned - start.churned]).toEqual([0, 1]);

    await sendPendingMails(jobs, account.tenantId);
    expect(await templatesOf(account.tenantId)).toEqual(['payment_failed', 'invoice_paid', 'subscription_cancelled']);
    const [failedMail] = await mailsOf(owner, account.tenantId, 'payment_failed');
    expect(failedMail!.recipient).toBe(account.email);
    expect(failedMail!.message.text).toContain('199.00 USD');
    expect(failedMail!.message.text).toContain('http://localhost:3000/billing');
    const [paidMail] = await mailsOf(owner, account.tenantId, 'invoice_paid');
    expect(paidMail!.message.text).toContain('199.00 USD');
    expect(paidMail!.message.text).toMatch(/https:\/\/invoice\.stripe\.test\/i\/in_/);

    const audit = await request(t.app).get('/api/v1/audit-logs?action=billing.status_change').set(account.auth);
    expect(audit.status).toBe(200);
    type Change = { changes: Record<string, { after: unknown } | undefined> };
    const moves = audit.body.data.map(({ changes }: Change) => ({ plan: changes.plan?.after, status: changes.status?.after }));
    expect(moves).toEqual([
      { plan: 'free', status: 'canceled' },
      { plan: 'pro', status: undefined },
      { plan: undefined, status: 'active' },
      { plan: undefined, status: 'past_due' },
      { plan: 'enterprise', status: 'active' },
    ]);
  });

  it('when a webhook is forged, stale, unsigned or tampered with, then 400 and nothing changes', async () => {
    const account = await registerTenant(t.app, { plan: 'pro' });
    const { subscriptionId } = await subscribe(account);
    stripe.updateSubscription(subscriptionId, { status: 'canceled' });
    const genuine = stripe.signedEvent('customer.subscription.deleted', stripe.subscriptions.get(subscriptionId)!);
    const forged = stripe.signedEvent('customer.subscription.deleted', stripe.subscriptions.get(subscriptionId)!, { secret: 'whsec_not_the_endpoint_secret' });
    const stale = stripe.signedEvent('customer.subscription.deleted', stripe.subscriptions.get(subscriptionId)!, { timestamp: Math.floor(Date.now() / 1000) - 600 });

    for (const attempt of [
      deliver(forged),
      deliver(stale),
      deliver({ payload: genuine.payload, signature: '' }),
      deliver({ payload: genuine.payload.replace('"livemode":false', '"livemode":true'), signature: genuine.signature }),
    ]) {
      const res = await attempt;
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: [{ field: 'Stripe-Signature' }] });
    }
    expect(await billing(account)).toMatchObject({ plan: 'pro', status: 'active' });
    expect(await owner('billing_events').where({ tenant_id: account.tenantId, stripe_event_id: genuine.id })).toHaveLength(0);
  });

  it('when Stripe delivers one event twice at the same time, then it is applied once and e-mailed once', async () => {
    const account = await registerTenant(t.app, { plan: 'pro' });
    const { subscriptionId } = await subscribe(account);
    stripe.updateSubscription(subscriptionId, { status: 'past_due' });
    const failed = stripe.signedEvent('invoice.payment_failed', stripe.invoice(subscriptionId, { paid: false, amount: 4900 }));
    const answers = await Promise.all([deliver(failed), deliver(failed), deliver(failed)]);
    expect(answers.map((res) => res.status)).toEqual([200, 200, 200]);
    expect(answers.map((res) => res.body.data.duplicate).sort()).toEqual([false, true, true]);
    expect(await owner('billing_events').where({ tenant_id: account.tenantId, stripe_event_id: failed.id })).toHaveLength(1);
    await sendPendingMails(jobs, account.tenantId);
    expect(await templatesOf(account.tenantId)).toEqual(['payment_failed']);
  });

  it('when a trial runs out, then one reminder 3 days before, then trial_expired on the free limits: over-quota data is read-only (402), deletes work, staff can grant a plan', async () => {
    const account = await registerTenant(t.app, { plan: 'pro' });
    const members = [];
    for (let i = 0; i < 3; i += 1) members.push(await addMember(t.app, account, 'sales_user'));
    const sweep = async () => {
      await jobs.enqueueScheduled('billing.trials');
      await jobs.runUntilIdle();
    };

    await owner('tenants').where({ id: account.tenantId }).update({ trial_ends_at: owner.raw("now() + interval '2 days'") });
    await sweep();
    await sweep();
    expect(await billing(account)).toMatchObject({ plan: 'pro', status: 'trialing' });

    await owner('tenants').where({ id: account.tenantId }).update({ trial_ends_at: owner.raw("now() - interval '1 minute'") });
    await sweep();
    await sweep();
    expect(await billing(account)).toMatchObject({ plan: 'free', status: 'trial_expired' });
    await sendPendingMails(jobs, account.tenantId);
    expect(await templatesOf(account.tenantId)).toEqual(['trial_expiring', 'trial_expired']);

    // Four users on a plan of three: reading works, changing them or adding one is 402, deleting one works.
    expect((await request(t.app).get('/api/v1/users').set(account.auth)).status).toBe(200);
    const patch = await request(t.app).patch(`/api/v1/users/${members[0]!.id}`).set(account.auth).send({ firstName: 'Renamed' });
    expect(patch.status).toBe(402);
    expect(patch.body.error).toMatchObject({ code: 'PAYMENT_REQUIRED', details: [{ field: 'users', message: 'quota 3 exceeded (4 in use)' }] });
    expect((await request(t.app).delete(`/api/v1/users/${members[0]!.id}`).set(account.auth)).status).toBe(204);
    const add = await request(t.app).post('/api/v1/users').set(account.auth).send({ email: `late-${account.tenantId.slice(0, 8)}@example.com`, firstName: 'L', lastName: 'Late', role: 'read_only' });
    expect(add.status).toBe(402);
    expect(add.body.error.code).toBe('PAYMENT_REQUIRED');
    // Records within the free quota stay writable.
    expect((await request(t.app).post('/api/v1/leads').set(account.auth).send({ firstName: 'Still', lastName: 'Writable' })).status).toBe(201);

    const { superAdmin } = await platformAdmins(t, owner);
    const grant = await request(t.app).patch(`/api/v1/admin/tenants/${account.tenantId}`).set('Authorization', `Bearer ${superAdmin.token}`).send({ plan: 'pro' });
    expect(grant.status).toBe(200);
    expect(await billing(account)).toMatchObject({ plan: 'pro', status: 'active', trialEndsAt: null });
    const detail = await request(t.app).get(`/api/v1/admin/tenants/${account.tenantId}`).set('Authorization', `Bearer ${superAdmin.token}`);
    expect(detail.body.data.billing).toMatchObject({ status: 'active', trialEndsAt: null, stripeSubscriptionId: null });
    expect(detail.body.data.planLimits).toMatchObject({ monthlyPriceCents: 4900, currency: 'usd' });
    expect((await request(t.app).post('/api/v1/users').set(account.auth).send({ email: `now-${account.tenantId.slice(0, 8)}@example.com`, firstName: 'N', lastName: 'Now', role: 'read_only' })).status).toBe(201);
  });

  it('when Stripe cannot be reached, then checkout answers 503 saying so, and nothing is stored', async () => {
    const account = await registerTenant(t.app, { plan: 'pro' });
    stripe.failWith = 503;
    const res = await request(t.app).post('/api/v1/organization/billing/checkout').set(account.auth).send({ plan: 'pro' });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('SERVICE_UNAVAILABLE');
    expect(res.body.error.message).toMatch(/Billing is unreachable/);
    expect(await owner('tenants').where({ id: account.tenantId }).first('stripe_customer_id')).toEqual({ stripe_customer_id: null });
  });

  it('when the input or the caller is wrong, then 400, 401 and 403, and a webhook for an unknown customer is ignored', async () => {
    const account = await registerTenant(t.app, { plan: 'pro' });
    for (const body of [{ plan: 'free' }, { plan: 'gold' }, {}, { plan: 'pro', price: 1 }]) {
      const res = await request(t.app).post('/api/v1/organization/billing/checkout').set(account.auth).send(body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    }
    expect((await request(t.app).get('/api/v1/organization/billing')).status).toBe(401);
    const member = await addMember(t.app, account, 'sales_user');
    expect((await request(t.app).get('/api/v1/organization/billing').set(member.auth)).status).toBe(403);
    expect((await request(t.app).post('/api/v1/organization/billing/portal').set(member.auth)).status).toBe(403);

    const stranger = stripe.signedEvent('invoice.paid', { id: 'in_stranger', object: 'invoice', customer: 'cus_nobody', amount_paid: 100, currency: 'usd', parent: null });
    expect((await deliver(stranger)).body.data).toEqual({ received: true, duplicate: false });
  });

  it("when an organization with a subscription is deleted, then its subscription is cancelled at Stripe before the purge", async () => {
    const account = await registerTenant(t.app, { plan: 'pro' });
    const { subscriptionId } = await subscribe(account);
    const name = (await owner('tenants').where({ id: account.tenantId }).first('name')).name as string;
    await request(t.app).post('/api/v1/organization/delete').set(account.auth).send({ confirm: name }).expect(202);
    const purge = await jobs.queuedJobs({ task: 'organization.purge', tenantId: account.tenantId });
    await owner('tenants').where({ id: account.tenantId }).update({ deletion_scheduled_for: owner.raw("now() - interval '1 minute'") });
    await jobs.makeDue(purge.map((job) => job.id));
    await jobs.runUntilIdle(account.tenantId);
    expect(stripe.subscriptions.get(subscriptionId)).toMatchObject({ status: 'canceled' });
    expect(await owner('tenants').where({ id: account.tenantId })).toHaveLength(0);
  });
});

describe('billing without Stripe configured', () => {
  let t: TestApp;
  beforeAll(() => {
    t = buildTestApp();
  });
  afterAll(() => t.close());

  it('when Stripe is not configured, then the Stripe routes answer 404 BILLING_DISABLED and the billing state is still shown', async () => {
    const account = await registerTenant(t.app, { plan: 'pro' });
    for (const res of [
      await request(t.app).post('/api/v1/organization/billing/checkout').set(account.auth).send({ plan: 'pro' }),
      await request(t.app).post('/api/v1/organization/billing/portal').set(account.auth),
      await request(t.app).post('/api/v1/billing/stripe/webhook').set('Content-Type', 'application/json').set('Stripe-Signature', 't=1,v1=00').send('{}'),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('BILLING_DISABLED');
    }
    expect((await request(t.app).get('/api/v1/organization/billing').set(account.auth)).body.data).toMatchObject({ plan: 'pro', status: 'trialing' });
  });
});
