import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import request from 'supertest';
import { bearer, registerTenant, Registered } from './support/api-fixtures';
import { StaffMember, staffMember } from './support/platform-admin-fixtures';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

const DAY_MS = 86_400_000;
const isoDay = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY_MS).toISOString().slice(0, 10);

describe('platform analytics on seeded data', () => {
  let t: TestApp;
  let owner: Knex;
  let analyst: StaffMember;
  let quiet: Registered;
  let leaving: Registered;

  beforeAll(async () => {
    t = buildTestApp();
    owner = ownerKnex();
    analyst = await staffMember(t, owner, 'marketing');
    quiet = await registerTenant(t.app);
    leaving = await registerTenant(t.app);
    // quiet: 100 calls the week before last, 10 last week; nobody signed in for 40 days; one open support ticket.
    await owner('usage_daily').insert([
      { tenant_id: quiet.tenantId, day: isoDay(10), api_calls: 100 },
      { tenant_id: quiet.tenantId, day: isoDay(2), api_calls: 10 },
      { tenant_id: leaving.tenantId, day: isoDay(10), api_calls: 50 },
      { tenant_id: leaving.tenantId, day: isoDay(2), api_calls: 50 },
    ]);
    await request(t.app).post('/api/v1/support/tickets').set(quiet.auth).send({ subject: 'Slow lists', description: 'Lists take seconds.' }).expect(201);
    await owner('users').where({ tenant_id: quiet.tenantId }).update({ last_login_at: owner.raw("now() - interval '40 days'") });
    // leaving: active (signed in today) and steady, but scheduled for deletion by staff.
    await owner('users').where({ tenant_id: leaving.tenantId }).update({ last_login_at: owner.raw('now()') });
    const root = await staffMember(t, owner, 'super_admin');
    await request(t.app).delete(`/api/v1/admin/tenants/${leaving.tenantId}`).set(bearer(root.token)).expect(202);
  });
  afterAll(async () => {
    await t.close();
    await owner.destroy();
  });

  const get = (path: string, query: Record<string, string | number> = {}, token = analyst.token) =>
    request(t.app).get(`/api/v1/admin/analytics${path}`).query(query).set(bearer(token));

  it('when churn risk is asked, then each tenant has the score its reasons add up to, riskiest first, each reason with an action', async () => {
    const res = await get('/churn-risk', { minScore: 1, limit: 500 });
    expect(res.status).toBe(200);
    const tenants = res.body.data.tenants as Array<{ tenantId: string; score: number; reasons: Array<{ code: string; points: number; recommendedAction: string }> }>;
    const quietRisk = tenants.find((row) => row.tenantId === quiet.tenantId)!;
    // 30 (no user signed in for 30 days) + 30 (100 -> 10 calls week over week) + 10 (one open ticket).
    expect(quietRisk.score).toBe(70);
    expect(quietRisk.reasons.map((r) => [r.code, r.points])).toEqual([
      ['no_active_users', 30],
      ['usage_decline', 30],
      ['open_support_tickets', 10],
    ]);
    expect(quietRisk.reasons.every((r) => r.recommendedAction.length > 0)).toBe(true);
    const leavingRisk = tenants.find((row) => row.tenantId === leaving.tenantId)!;
    expect(leavingRisk.reasons.map((r) => [r.code, r.points])).toEqual([['scheduled_deletion', 40]]);
    expect(leavingRisk.score).toBe(40);
    expect(tenants.map((row) => row.score)).toEqual([...tenants.map((row) => row.score)].sort((a, b) => b - a));
    expect(res.body.data.total).toBe(tenants.length);

    const above = await get('/churn-risk', { minScore: 50, limit: 500 });
    expect(above.body.data.tenants.map((row: { tenantId: string }) => row.tenantId)).not.toContain(leaving.tenantId);
  });

  it('when cohorts are asked, then each sign-up month shows the share of its tenants with API calls 1..12 months later', async () => {
    // Both tenants signed up 30 months ago (a month no other test uses); quiet called in months +1 and +2, leaving in +1.
    const month = await owner.raw("select date_trunc('month', now()) - interval '30 months' as start");
    const start: Date = month.rows[0].start;
    const inMonth = (offset: number) => {
      const day = new Date(start);
      day.setUTCMonth(day.getUTCMonth() + offset, 15);
      return day.toISOString().slice(0, 10);
    };
    await owner('tenants').whereIn('id', [quiet.tenantId, leaving.tenantId]).update({ created_at: new Date(start.getTime() + 3 * DAY_MS) });
    await owner('usage_daily').insert([
      { tenant_id: quiet.tenantId, day: inMonth(1), api_calls: 5 },
      { tenant_id: quiet.tenantId, day: inMonth(2), api_calls: 5 },
      { tenant_id: leaving.tenantId, day: inMonth(1), api_calls: 5 },
    ]);
    await registerTenant(t.app);
    const res = await get('/cohorts', { by: 'month', months: 36 });
    expect(res.status).toBe(200);
    const cohort = (res.body.data as Array<{ cohort: string; tenants: number; retention: Array<number | null> }>).find(
      (row) => row.cohort === start.toISOString().slice(0, 7),
    )!;
    expect(cohort).toEqual({ cohort: start.toISOString().slice(0, 7), tenants: 2, retention: [1, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] });
    const current = (res.body.data as Array<{ cohort: string; retention: Array<number | null> }>).at(-1)!;
    expect(current.retention.every((share) => share === null)).toBe(true);
  });

  it("when one tenant's analytics are asked, then plan, monthly calls and user activity are as seeded", async () => {
    const res = await get(`/tenants/${quiet.tenantId}`);
    expect(res.status).toBe(200);
    // A self-registered pro tenant is in its trial: priced, but not billed yet.
    expect(res.body.data.financial).toMatchObject({ plan: 'pro', billingStatus: 'trialing', monthlyPriceCents: 4900, currency: 'usd', mrrCents: 0 });
    // The seeded 100 + 10 (and the cohort test's two calls 28-29 months ago, outside the 12 months), plus whatever
    // this file's own requests were counted today: the sum is the table's, month by month.
    const calls = res.body.data.financial.apiCalls.reduce((sum: number, row: { apiCalls: number }) => sum + row.apiCalls, 0);
    const stored = await owner('usage_daily')
      .where({ tenant_id: quiet.tenantId })
      .where('day', '>=', owner.raw("date_trunc('month', now()) - interval '11 months'"))
      .sum<{ sum: string }[]>({ sum: 'api_calls' });
    expect(calls).toBe(Number(stored[0]!.sum));
    expect(calls).toBeGreaterThanOrEqual(110);
    expect(res.body.data.users).toMatchObject({ total: 1, active: 0, inactive: 1, activationRate: 1, byRole: { tenant_admin: 1 } });
  });

  it('when the overview is asked, then MRR and ARR count billed tenants at their plan price, and the window counts sign-ups, churn and trial conversion', async () => {
    const overview = async (query: Record<string, string> = {}) => {
      const res = await get('/overview', query);
      expect(res.status).toBe(200);
      return res.body.data;
    };
    const usd = (data: { revenue: Array<{ currency: string; mrrCents: number; arrCents: number; payingTenants: number }> }) =>
      data.revenue.find((row) => row.currency === 'usd')!;
    const [paying, dunning, trialing, suspended, deleting] = await Promise.all([1, 2, 3, 4, 5].map(() => registerTenant(t.app)));
    const before = await overview();

    // Seeded by hand: pro billed, enterprise past due (still billed), pro trialing and enterprise suspended (not billed).
    await owner('tenants').where({ id: paying!.tenantId }).update({ plan: 'pro', billing_status: 'active' });
    await owner('tenants').where({ id: dunning!.tenantId }).update({ plan: 'enterprise', billing_status: 'past_due' });
    await owner('tenants').where({ id: suspended!.tenantId }).update({ plan: 'enterprise', billing_status: 'active', status: 'suspended' });
    const after = await overview();
    expect(usd(after).mrrCents - usd(before).mrrCents).toBe(4900 + 19900);
    expect(usd(after).arrCents - usd(before).arrCents).toBe(12 * (4900 + 19900));
    expect(usd(after).payingTenants - usd(before).payingTenants).toBe(2);
    const planOf = (data: { plans: Array<{ plan: string; payingTenants: number; mrrCents: number }> }, plan: string) => data.plans.find((row) => row.plan === plan)!;
    expect(planOf(after, 'enterprise').mrrCents - planOf(before, 'enterprise').mrrCents).toBe(19900);
    expect(after.tenants.byStatus.suspended - (before.tenants.byStatus.suspended ?? 0)).toBe(1);
    expect(after.tenants.byBillingStatus.past_due - (before.tenants.byBillingStatus.past_due ?? 0)).toBe(1);
    expect(after.tenants.total).toBe(before.tenants.total);

    // A window in March 2001, which no other test touches: two sign-ups, churn and trials as seeded.
    const at = (day: number) => new Date(Date.UTC(2001, 2, day, 12));
    await owner('tenants').whereIn('id', [paying!.tenantId, dunning!.tenantId]).update({ created_at: at(10) });
    await owner('tenants').where({ id: trialing!.tenantId }).update({ created_at: at(31) });
    await owner('tenants').where({ id: deleting!.tenantId }).update({ deletion_requested_at: at(20) });
    const change = (tenant: Registered, statusBefore: string, statusAfter: string, day: number) => ({
      tenant_id: tenant.tenantId,
      plan_before: 'pro',
      plan_after: statusAfter === 'active' ? 'pro' : 'free',
      status_before: statusBefore,
      status_after: statusAfter,
      cause: 'seeded',
      created_at: at(day),
    });
    await owner('billing_status_changes').insert([
      change(paying!, 'active', 'canceled', 5), // churn: a billed subscription ended
      change(dunning!, 'trialing', 'canceled', 6), // a trial abandoned: not churn, a trial that did not convert
      change(trialing!, 'trialing', 'active', 7), // a converted trial
      change(suspended!, 'trialing', 'trial_expired', 8), // an expired trial
      change(suspended!, 'active', 'canceled', 40), // April: outside the window
    ]);
    const march = await overview({ from: '2001-03-01T00:00:00Z', to: '2001-03-31T00:00:00Z' });
    expect(march).toMatchObject({
      from: '2001-03-01T00:00:00.000Z',
      to: '2001-03-31T00:00:00.000Z',
      signUps: 2, // the tenant created on the 31st is outside [from, to)
      churnedTenants: 2, // paying's cancellation and deleting's deletion request
      trials: { ended: 3, converted: 1, conversionRate: 0.333 },
    });

    // The tenant in dunning is at risk for its failed payment.
    const risk = await get('/churn-risk', { minScore: 1, limit: 500 });
    const reasons = risk.body.data.tenants.find((row: { tenantId: string }) => row.tenantId === dunning!.tenantId).reasons;
    expect(reasons.map((r: { code: string; points: number }) => [r.code, r.points])).toContainEqual(['payment_failed', 30]);
  });

  it('when a role without analytics:read, a tenant user or nobody asks, then 403 / 403 / 401; bad input is 400, an unknown tenant 404', async () => {
    const developer = await staffMember(t, owner, 'developer');
    expect((await get('/churn-risk', {}, developer.token)).status).toBe(403);
    expect((await get('/cohorts', {}, quiet.accessToken)).status).toBe(403);
    expect((await request(t.app).get('/api/v1/admin/analytics/cohorts')).status).toBe(401);
    expect((await get('/cohorts', { by: 'week' })).status).toBe(400);
    expect((await get('/churn-risk', { limit: 501 })).status).toBe(400);
    expect((await get('/churn-risk', { minScore: 101 })).status).toBe(400);
    expect((await get('/overview', { from: '2024-02-01T00:00:00Z', to: '2024-01-01T00:00:00Z' })).status).toBe(400);
    expect((await get('/overview', { from: '2020-01-01T00:00:00Z', to: '2024-01-01T00:00:00Z' })).status).toBe(400);
    expect((await get('/overview', { from: 'yesterday' })).status).toBe(400);
    const finance = await staffMember(t, owner, 'finance');
    expect((await get('/overview', {}, finance.token)).status).toBe(200);
    expect((await get('/overview', {}, developer.token)).status).toBe(403);
    expect((await get(`/tenants/${randomUUID()}`)).status).toBe(404);
    expect((await get('/tenants/not-a-uuid')).status).toBe(400);
  });
});
