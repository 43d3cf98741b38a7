import { randomUUID } from 'node:crypto';
import express from 'express';
import { Knex } from 'knex';
import request from 'supertest';
import { declaredRoutes } from '../src/app';
import { withTenant } from '../src/infra/tenant-scope';
import { enqueueJob } from '../src/jobs/enqueue';
import { defineJob, JobDefinition, tenantPayload } from '../src/jobs/job-definition';
import { defineRoute, ok, RouteDefinition } from '../src/http/route';
import { createMetrics } from '../src/infra/metrics';
import { createRateLimiters } from '../src/middleware/rate-limits';
import { consoleRuntime } from '../src/modules/admin/console-runtime';
import { rolloutBucket } from '../src/modules/feature-flags/feature-flags';
import { buildPipeline } from '../src/pipeline/pipeline';
import { bearer, registerTenant, Registered } from './support/api-fixtures';
import { answeredWithin, eventually } from './support/eventually';
import { TestJobRunner } from './support/jobs';
import { platformAdmins, PlatformAdminsFixture } from './support/platform-admin-fixtures';
import { buildTestApp, ownerKnex, runtimeKnex, TestApp } from './support/test-app';

const FLAG = 'probe-rollout';

/** A route rolled out under FLAG, as a module would declare one. */
const probeRoute: RouteDefinition = defineRoute({
  method: 'get',
  path: '/flag-probe',
  permission: 'leads:read',
  flag: FLAG,
  summary: 'A route behind a feature flag',
  tags: ['Test'],
  handler: async () => ok({ reached: true }),
});

/**
 * The instance's pipeline over its declared routes plus the flagged one: an app of its own (own metrics
 * registry, so its own console runtime and flag cache), on the instance's database pools and Redis.
 */
function appWithProbe(t: TestApp): express.Express {
  const deps = { ...t.deps, metrics: createMetrics(t.deps.knex) };
  const limiters = createRateLimiters(deps, () => consoleRuntime(deps).settings.current());
  return buildPipeline(deps, limiters, [...declaredRoutes(deps, limiters), probeRoute]);
}

describe('feature flags: targeting, rollout and the gate', () => {
  // Two instances of one deployment: the second re-reads flags every second.
  const prefix = `test:flags-${randomUUID().slice(0, 8)}:`;
  let t: TestApp;
  let other: TestApp;
  let here: express.Express;
  let there: express.Express;
  let owner: Knex;
  let admins: PlatformAdminsFixture;
  let pro: Registered;
  let enterprise: Registered;

  beforeAll(async () => {
    t = buildTestApp({ env: { REDIS_KEY_PREFIX: prefix } });
    other = buildTestApp({ env: { REDIS_KEY_PREFIX: prefix, RUNTIME_SETTINGS_CACHE_SECONDS: '1' } });
    here = appWithProbe(t);
    there = appWithProbe(other);
    owner = ownerKnex();
    admins = await platformAdmins(t, owner);
    [pro, enterprise] = await Promise.all([registerTenant(t.app), registerTenant(t.app, { plan: 'enterprise' })]);
  });
  afterAll(async () => {
    await t?.close();
    await other?.close();
    await owner?.destroy();
  });

  const put = (body: unknown, key = FLAG, token = admins.superAdmin.token) =>
    request(here).put(`/api/v1/admin/feature-flags/${key}`).set(bearer(token)).send(body as object);
  const probe = (app: express.Express, tenant: Registered) => request(app).get('/api/v1/flag-probe').set(tenant.auth);

  it('when a flag was never set, then its route answers 404 like a route that does not exist', async () => {
    const res = await probe(here, pro);
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({ code: 'NOT_FOUND', message: 'No route for GET /api/v1/flag-probe', requestId: expect.any(String) });
    expect((await request(here).get(`/api/v1/admin/feature-flags/${FLAG}`).set(bearer(admins.support.token))).status).toBe(404);
  });

  it('when a flag lists a tenant, then only that tenant reaches the route, on this instance at once and on the other within its cache TTL', async () => {
    const res = await put({ enabled: true, tenants: [pro.tenantId] });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ key: FLAG, enabled: true, tenants: [pro.tenantId], plans: null, percentage: null, updatedAt: expect.any(String) });
    expect((await probe(here, pro)).body.data).toEqual({ reached: true });
    expect((await probe(here, enterprise)).status).toBe(404);
    await eventually(async () => (await probe(there, pro)).status === 200, 15_000, 'the other instance sees the flag');
    expect((await probe(there, enterprise)).status).toBe(404);

    await put({ enabled: false, tenants: [pro.tenantId] }).expect(200);
    expect((await probe(here, pro)).status).toBe(404);
    await eventually(async () => (await probe(there, pro)).status === 404, 15_000, 'the other instance sees the flag off');
  });

  it('when a flag targets plans, then tenants of those plans have it and others do not', async () => {
    await put({ enabled: true, plans: ['enterprise'] }).expect(200);
    expect((await probe(here, enterprise)).status).toBe(200);
    expect((await probe(here, pro)).status).toBe(404);
    // A listed tenant has it whatever its plan.
    await put({ enabled: true, plans: ['enterprise'], tenants: [pro.tenantId] }).expect(200);
    expect((await probe(here, pro)).status).toBe(200);
  });

  it('when a flag rolls out to a percentage, then each tenant is in or out by its stable bucket, the same on every instance', async () => {
    const [low, high] = [pro, enterprise].sort((x, y) => rolloutBucket(FLAG, x.tenantId) - rolloutBucket(FLAG, y.tenantId));
    const lowBucket = rolloutBucket(FLAG, low!.tenantId);
    const highBucket = rolloutBucket(FLAG, high!.tenantId);
    await put({ enabled: true, percentage: 0 }).expect(200);
    expect((await probe(here, low!)).status).toBe(404);
    await put({ enabled: true, percentage: lowBucket + 1 }).expect(200);
    const expectedHigh = highBucket < lowBucket + 1 ? 200 : 404;
    for (let round = 0; round < 3; round += 1) {
      expect((await probe(here, low!)).status).toBe(200);
      expect((await probe(here, high!)).status).toBe(expectedHigh);
    }
    await eventually(async () => (await probe(there, low!)).status === 200, 15_000, 'the other instance applies the percentage');
    expect((await probe(there, high!)).status).toBe(expectedHigh);
    await put({ enabled: true, percentage: 100 }).expect(200);
    expect((await probe(here, high!)).status).toBe(200);
  });

  it('when buckets are computed, then they are stable and spread evenly over 0..99', () => {
    const tenants = Array.from({ length: 2000 }, () => randomUUID());
    const buckets = tenants.map((id) => rolloutBucket(FLAG, id));
    expect(tenants.map((id) => rolloutBucket(FLAG, id))).toEqual(buckets);
    expect(buckets.every((bucket) => Number.isInteger(bucket) && bucket >= 0 && bucket < 100)).toBe(true);
    const underThirty = buckets.filter((bucket) => bucket < 30).length / buckets.length;
    expect(underThirty).toBeGreaterThan(0.25);
    expect(underThirty).toBeLessThan(0.35);
    // Another flag orders the same tenants differently: early adopters are not always the same ones.
    expect(tenants.map((id) => rolloutBucket('another-flag', id))).not.toEqual(buckets);
  });

  it('when staff list and read flags, then they see each with its targeting, and each change is in the platform audit log', async () => {
    await put({ enabled: true, percentage: 25, plans: ['pro', 'enterprise'] }, 'second-flag').expect(200);
    const list = await request(here).get('/api/v1/admin/feature-flags').set(bearer(admins.support.token));
    expect(list.status).toBe(200);
    expect(list.body.data.map((flag: { key: string }) => flag.key)).toEqual([FLAG, 'second-flag']);
    const one = await request(here).get('/api/v1/admin/feature-flags/second-flag').set(bearer(admins.support.token));
    expect(one.body.data).toMatchObject({ enabled: true, percentage: 25, plans: ['pro', 'enterprise'], tenants: [] });
    const audit = await request(t.app).get('/api/v1/admin/platform-audit-logs').query({ action: 'feature_flag.update' }).set(bearer(admins.support.token));
    const secondEntries = audit.body.data.filter((entry: { details: { key: string } }) => entry.details.key === 'second-flag');
    expect(secondEntries).toEqual([
      expect.objectContaining({ actorId: admins.superAdmin.id, details: expect.objectContaining({ before: null, after: expect.objectContaining({ percentage: 25 }) }) }),
    ]);
  });

  it('when a change is malformed, names an unknown plan or tenant, or comes from staff who may only read, then it is refused and nothing changes', async () => {
    const bad = await put({ enabled: 'yes', percentage: 101, plans: [], surprise: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((detail: { field: string }) => detail.field).sort()).toEqual(['enabled', 'percentage', 'plans', 'surprise']);
    expect((await put({ enabled: true }, 'Bad Key!')).status).toBe(400);
    const unknownPlan = await put({ enabled: true, plans: ['platinum'] }, 'second-flag');
    expect(unknownPlan.status).toBe(400);
    expect(unknownPlan.body.error.details).toEqual([{ field: 'plans', message: 'no plan platinum' }]);
    expect((await put({ enabled: true, tenants: [randomUUID()] }, 'second-flag')).status).toBe(400);
    expect((await put({ enabled: false }, 'second-flag', admins.support.token)).status).toBe(403);
    expect((await request(here).put('/api/v1/admin/feature-flags/second-flag').set(pro.auth).send({ enabled: false })).status).toBe(403);
    expect((await request(here).put('/api/v1/admin/feature-flags/second-flag').send({ enabled: false })).status).toBe(401);
    const after = await request(here).get('/api/v1/admin/feature-flags/second-flag').set(bearer(admins.support.token));
    expect(after.body.data).toMatchObject({ enabled: true, percentage: 25, plans: ['pro', 'enterprise'] });
  });

  it('when a flag changes on one instance, then another with the default cache (5 s) applies it within 5 s plus one read', async () => {
    const third = buildTestApp({ env: { REDIS_KEY_PREFIX: prefix } });
    try {
      expect(third.deps.config.console.settingsCacheSeconds).toBe(5);
      const elsewhere = appWithProbe(third);
      await put({ enabled: true, tenants: [pro.tenantId] }).expect(200);
      await eventually(async () => (await probe(elsewhere, pro)).status === 200, 15_000, 'the third instance sees the flag on');
      await put({ enabled: false, tenants: [pro.tenantId] }).expect(200);
      const tookMs = await answeredWithin(10_000, () => probe(elsewhere, pro), (res) => res.status === 404);
      // The cache's 5 s, plus one read of the flags on a loaded machine.
      expect(tookMs).toBeLessThanOrEqual(6_500);
    } finally {
      await third.close();
    }
  });

  describe('jobs rolled out under a flag', () => {
    const JOB_FLAG = 'job-rollout';
    const ran: string[] = [];
    const flaggedJob = defineJob({
      name: 'test.flagged',
      payload: tenantPayload({}),
      flag: JOB_FLAG,
      async run({ tenantId }) {
        ran.push(tenantId);
      },
    });
    let jobs: TestJobRunner;
    let runtime: Knex;
    beforeAll(() => {
      jobs = new TestJobRunner(t, [flaggedJob as JobDefinition<never>]);
      runtime = runtimeKnex();
    });
    afterAll(async () => {
      await jobs.close();
      await runtime.destroy();
    });

    const enqueueFor = (tenant: Registered) => withTenant(runtime, tenant.tenantId, () => enqueueJob('test.flagged'));
    const skipped = async () => (await t.deps.metrics.registry.getSingleMetricAsString('job_runs_total')).match(/task="test\.flagged",outcome="skipped_flag"\} (\d+)/)?.[1];

    it('when a job declares a flag that is on for one tenant by plan, then it runs for that tenant and is skipped, and counted as skipped, for the other', async () => {
      await put({ enabled: true, plans: ['enterprise'] }, JOB_FLAG).expect(200);
      await enqueueFor(pro);
      await enqueueFor(enterprise);
      await jobs.runUntilIdle();
      expect(ran).toEqual([enterprise.tenantId]);
      expect(await skipped()).toBe('1');
      expect(await jobs.queuedJobs({ task: 'test.flagged' })).toEqual([]);
    });

    it('when the flag is then given to the tenant, then its next job runs, without a restart', async () => {
      ran.length = 0;
      await put({ enabled: true, plans: ['enterprise'], tenants: [pro.tenantId] }, JOB_FLAG).expect(200);
      await enqueueFor(pro);
      await jobs.runUntilIdle();
      expect(ran).toEqual([pro.tenantId]);
    });
  });

  it('when a caller is not signed in or lacks the route permission, then the flag does not matter: 401 and 403 as for any route', async () => {
    await put({ enabled: true }).expect(200);
    expect((await request(here).get('/api/v1/flag-probe')).status).toBe(401);
    const key = await request(here).post('/api/v1/api-keys').set(pro.auth).send({ name: 'Tickets only', role: 'tenant_admin', permissions: ['tickets:read'] });
    expect((await request(here).get('/api/v1/flag-probe').set(bearer(key.body.data.key))).status).toBe(403);
    expect((await probe(here, pro)).status).toBe(200);
  });
});
