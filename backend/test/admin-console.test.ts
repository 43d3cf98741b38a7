import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { makeWorkerUtils, run, runOnce, Runner, WorkerUtils } from 'graphile-worker';
import request from 'supertest';
import { declaredRoutes } from '../src/app';
import { silentWorkerLogger } from '../src/infra/worker-logger';
import { createMetrics } from '../src/infra/metrics';
import { createRateLimiters } from '../src/middleware/rate-limits';
import { platformPermissionsOf } from '../src/modules/admin/staff-roles';
import { isPlatformPermission } from '../src/modules/roles/permissions';
import { rollupUsageDay, usageRollupJob } from '../src/modules/usage/usage-rollup.job';
import { utcDay } from '../src/modules/usage/usage-store';
import { bearer, registerTenant, Registered } from './support/api-fixtures';
import { platformAdmins, PlatformAdminsFixture } from './support/platform-admin-fixtures';
import { eventually } from './support/eventually';
import { startPrivateRedis } from './support/private-servers';
import { adminUrl, buildTestApp, jobsRoleKnex, ownerKnex, runtimeKnex, TestApp } from './support/test-app';

/** A body each admin write accepts, so a refusal can only be about who calls, not about what is sent. */
const VALID_BODIES: Record<string, object> = {
  'patch /admin/tenants/:id': { plan: 'pro' },
  'put /admin/config': { rateLimitLoginMax: 100000 },
  'post /admin/tenants/:id/impersonate': { reason: 'access matrix check' },
};

describe('platform admin console', () => {
  let t: TestApp;
  let owner: Knex;
  let admins: PlatformAdminsFixture;
  let tenant: Registered;

  beforeAll(async () => {
    t = buildTestApp();
    owner = ownerKnex();
    admins = await platformAdmins(t, owner);
    tenant = await registerTenant(t.app);
  });
  afterAll(async () => {
    await t.close();
    await owner.destroy();
  });

  const get = (path: string, token: string, query: Record<string, string | number> = {}) =>
    request(t.app).get(`/api/v1${path}`).query(query).set(bearer(token));

  describe('access on every admin route', () => {
    const adminRoutes = () => {
      // Its own metrics registry: the app's already holds the rate limiters' counter.
      const deps = { ...t.deps, metrics: createMetrics(t.deps.knex) };
      return declaredRoutes(deps, createRateLimiters(deps)).filter((route) => isPlatformPermission(route.permission));
    };
    const call = (route: { method: string; path: string }, headers: Record<string, string>) => {
      // Ids are unknown uuids, other keys (a feature flag's) unknown names: either way the answer is 404.
      const path = `/api/v1${route.path.replace(/:(\w+)/g, (_, name: string) => (name === 'id' ? randomUUID() : 'unknown-key'))}`;
      const req = request(t.app)[route.method as 'get' | 'post' | 'put' | 'patch' | 'delete'](path).set(headers);
      return route.method === 'get' ? req : req.send(VALID_BODIES[`${route.method} ${route.path}`] ?? {});
    };

    it('the console has its read and write routes declared as platform routes', () => {
      const keys = adminRoutes().map((route) => `${route.method} ${route.path}`);
      expect(keys).toEqual(
        expect.arrayContaining([
          'get /admin/dashboard',
          'get /admin/usage',
          'get /admin/jobs',
          'get /admin/audit-logs',
          'get /admin/platform-audit-logs',
          'get /admin/config',
          'put /admin/config',
          'post /admin/tenants/:id/impersonate',
        ]),
      );
      for (const key of Object.keys(VALID_BODIES)) expect(keys).toContain(key);
    });

    it('when a support admin calls, then each route answers or refuses as the staff role matrix says', async () => {
      const held = platformPermissionsOf('support');
      // Signing out would end the session this file goes on using: sign-out is tested in platform-staff.test.ts.
      for (const route of adminRoutes().filter((r) => r.path !== '/admin/auth/logout')) {
        const res = await call(route, bearer(admins.support.token));
        if (!held.has(route.permission)) expect([route.path, res.status, res.body.error.code]).toEqual([route.path, 403, 'FORBIDDEN']);
        else if (route.method === 'get') expect([route.path, res.status]).toEqual([route.path, route.path.includes(':') ? 404 : 200]);
        else expect([route.path, res.status]).not.toEqual([route.path, 403]);
      }
    });

    it('when a super admin calls, then every GET answers (writes are tested in their own files)', async () => {
      for (const route of adminRoutes().filter((r) => r.method === 'get')) {
        const res = await call(route, bearer(admins.superAdmin.token));
        expect([route.path, res.status]).toEqual([route.path, route.path.includes(':') ? 404 : 200]);
      }
    });

    it("when a tenant admin's token is used, then 403 on every admin route; without a token, 401", async () => {
      for (const route of adminRoutes()) {
        expect([route.path, (await call(route, tenant.auth)).status]).toEqual([route.path, 403]);
        expect([route.path, (await call(route, {})).status]).toEqual([route.path, 401]);
      }
    });
  });

  describe('GET /admin/dashboard', () => {
    it('when tenants and users exist, then counts, growth, active users, instance metrics, DB/Redis and a health score come back', async () => {
      await request(t.app).get('/api/v1/leads').set(tenant.auth).expect(200);
      const res = await get('/admin/dashboard', admins.support.token);
      expect(res.status).toBe(200);
      const body = res.body.data;
      expect(body.tenants.total).toBe(body.tenants.byStatus.active + body.tenants.byStatus.suspended);
      expect(body.tenants.byPlan).toEqual(expect.arrayContaining([{ plan: 'pro', count: expect.any(Number) }]));
      expect(body.tenants.growth).toHaveLength(30);
      expect(body.tenants.growth.at(-1)).toEqual({ day: utcDay(), newTenants: expect.any(Number) });
      expect(body.tenants.growth.at(-1).newTenants).toBeGreaterThanOrEqual(1);
      expect(body.activeUsers.last7Days).toBeGreaterThanOrEqual(1);
      expect(body.activeUsers.last30Days).toBeGreaterThanOrEqual(body.activeUsers.last7Days);
      expect(body.requests.instance.total).toBeGreaterThan(0);
      expect(body.requests.today.apiCalls).toBeGreaterThanOrEqual(1);
      expect(body.database).toMatchObject({ status: 'up', pool: { max: expect.any(Number) } });
      expect(body.redis.status).toBe(process.env.REDIS_URL ? 'up' : 'disabled');
      expect(Object.keys(body.jobs.byState).sort()).toEqual(['failed', 'queued', 'retrying', 'running']);
      expect(body.health.score).toBeGreaterThanOrEqual(0);
      expect(body.health.score).toBe(100 - body.health.deductions.reduce((sum: number, d: { points: number }) => sum + d.points, 0));
    });

    it('when the database is unreachable for tenant requests, then 5xx answers are listed without bodies and the score drops', async () => {
      const broken = buildTestApp();
      const working = runtimeKnex();
      try {
        const brokenAdmins = await platformAdmins(broken, owner);
        await broken.deps.knex.destroy();
        const failed = await request(broken.app)
          .post('/api/v1/leads')
          .set(tenant.auth)
          .set('X-Request-Id', 'console-broken-1')
          .send({ lastName: 'Secret-Body-Value', email: 'secret@example.com' });
        expect(failed.status).toBe(500);
        // Admins are confirmed on the runtime pool, read per request: it gets a working pool back, while the
        // dashboard keeps probing the destroyed pool it was built with, as it would a database that went away.
        broken.deps.knex = working;
        const res = await request(broken.app).get('/api/v1/admin/dashboard').set(bearer(brokenAdmins.superAdmin.token));
        expect(res.status).toBe(200);
        const body = res.body.data;
        expect(body.database.status).toBe('down');
        expect(body.health.deductions).toEqual(expect.arrayContaining([{ reason: 'database down', points: 50 }]));
        expect(body.health.score).toBeLessThanOrEqual(50);
        expect(body.recentErrors[0]).toEqual({
          at: expect.any(String),
          requestId: 'console-broken-1',
          method: 'POST',
          route: '/leads',
          status: 500,
          code: 'INTERNAL_ERROR',
          tenantId: tenant.tenantId,
          durationMs: expect.any(Number),
        });
        expect(JSON.stringify(body.recentErrors)).not.toMatch(/Secret-Body-Value|secret@example\.com|Bearer/);
        expect(body.requests.instance.serverErrors).toBeGreaterThanOrEqual(1);
      } finally {
        await broken.close().catch(() => undefined);
        await working.destroy();
      }
    });
  });

  describe('GET /admin/usage', () => {
    it('when a tenant made calls, then today counts them (errors apart), with records, storage and plan limits', async () => {
      const user = await registerTenant(t.app);
      for (const lastName of ['One', 'Two']) await request(t.app).post('/api/v1/leads').set(user.auth).send({ lastName }).expect(201);
      await request(t.app).get('/api/v1/leads').set(user.auth).expect(200);
      await request(t.app).get(`/api/v1/leads/${randomUUID()}`).set(user.auth).expect(404);

      const res = await get('/admin/usage', admins.support.token, { tenantId: user.tenantId });
      expect(res.status).toBe(200);
      expect(res.body.pagination).toEqual({ limit: 20, hasMore: false, nextCursor: null });
      const [usage] = res.body.data;
      expect(usage.apiCalls.daily).toHaveLength(30);
      expect(usage.apiCalls.daily.at(-1)).toEqual({ day: utcDay(), apiCalls: 4, clientErrors: 1, serverErrors: 0 });
      expect(usage.apiCalls.total).toEqual({ apiCalls: 4, clientErrors: 1, serverErrors: 0 });
      expect(usage.records).toMatchObject({ leads: 2, contacts: 0 });
      expect(usage.storage.estimatedBytes).toBeGreaterThan(0);
      expect(usage.limits).toMatchObject({
        users: { limit: 25, used: 1 },
        records: { leads: { limit: 100000, used: 2 } },
        requestsPerHour: { limit: 1000, averageToday: expect.any(Number) },
      });
      // The tenant detail carries the same counts.
      const detail = await get(`/admin/tenants/${user.tenantId}`, admins.support.token);
      expect(detail.body.data.usage.apiCalls).toEqual({
        today: { apiCalls: 4, clientErrors: 1, serverErrors: 0 },
        last30Days: { apiCalls: 4, clientErrors: 1, serverErrors: 0 },
      });
    });

    it('when the usage is rolled up, then usage_daily holds the day once, however often the rollup runs', async () => {
      if (!t.deps.redis) return;
      const user = await registerTenant(t.app);
      for (let i = 0; i < 3; i += 1) await request(t.app).get('/api/v1/leads').set(user.auth).expect(200);
      await get('/admin/usage', admins.superAdmin.token, { tenantId: user.tenantId }).expect(200);
      const day = utcDay();
      const stored = () => owner('usage_daily').where({ tenant_id: user.tenantId }).select('api_calls', 'client_errors');
      await rollupUsageDay(t.deps.redis, t.deps.platformKnex, t.deps.config.redisKeyPrefix, day);
      expect(await stored()).toEqual([{ api_calls: 3, client_errors: 0 }]);
      const jobs = jobsRoleKnex();
      try {
        await usageRollupJob.run({ day } as never, { ...t.deps, jobsKnex: jobs }, { id: '1', attempt: 1, maxAttempts: 1, logger: t.deps.logger });
      } finally {
        await jobs.destroy();
      }
      expect(await stored()).toEqual([{ api_calls: 3, client_errors: 0 }]);
      // The report reads the rolled-up row and today's live counters without adding them twice.
      const res = await get('/admin/usage', admins.superAdmin.token, { tenantId: user.tenantId, from: day, to: day });
      expect(res.body.data[0].apiCalls.daily).toEqual([{ day, apiCalls: 3, clientErrors: 0, serverErrors: 0 }]);
    });

    it('when Redis restarts mid-day, then the day keeps what was rolled up and adds what came after', async () => {
      const redis = await startPrivateRedis();
      const local = buildTestApp({ env: { REDIS_URL: redis.url } });
      try {
        const localAdmins = await platformAdmins(local, owner);
        const user = await registerTenant(local.app);
        const day = utcDay();
        const rollup = () => rollupUsageDay(local.deps.redis!, local.deps.platformKnex, local.deps.config.redisKeyPrefix, day);
        const stored = async () => (await owner('usage_daily').where({ tenant_id: user.tenantId }).select('api_calls'))[0]?.api_calls;
        const reported = async () => {
          const res = await request(local.app).get('/api/v1/admin/usage').query({ tenantId: user.tenantId, from: day, to: day }).set(bearer(localAdmins.support.token));
          return res.body.data[0].apiCalls.daily[0].apiCalls as number;
        };
        // The usage report moves the instance's counters to Redis before it reads.
        const calls = async (count: number) => {
          for (let i = 0; i < count; i += 1) await request(local.app).get('/api/v1/leads').set(user.auth).expect(200);
          return reported();
        };
        await calls(3);
        await rollup();
        expect(await stored()).toBe(3);
        await calls(1);
        // Stored and not yet rolled up, added once.
        expect(await reported()).toBe(4);
        await rollup();
        expect(await stored()).toBe(4);

        await redis.stop();
        await redis.start();
        await eventually(async () => (await local.deps.redis!.ping().catch(() => '')) === 'PONG', 20_000, 'the API reconnected to Redis');
        await calls(2);
        expect(await reported()).toBe(6);
        await rollup();
        await rollup();
        expect(await stored()).toBe(6);
        expect(await reported()).toBe(6);
      } finally {
        await local.close();
        await redis.destroy();
      }
    });

    it('when there is no Redis, then each instance adds its counters to usage_daily itself', async () => {
      const local = buildTestApp({ env: { REDIS_URL: undefined } });
      try {
        const localAdmins = await platformAdmins(local, owner);
        const user = await registerTenant(local.app);
        await request(local.app).get('/api/v1/leads').set(user.auth).expect(200);
        await request(local.app).get(`/api/v1/leads/${randomUUID()}`).set(user.auth).expect(404);
        const res = await request(local.app).get('/api/v1/admin/usage').query({ tenantId: user.tenantId }).set(bearer(localAdmins.support.token));
        expect(res.body.data[0].apiCalls.total).toEqual({ apiCalls: 2, clientErrors: 1, serverErrors: 0 });
        expect(await owner('usage_daily').where({ tenant_id: user.tenantId }).select('api_calls')).toEqual([{ api_calls: 2 }]);
      } finally {
        await local.close();
      }
    });

    it('when from and to are given, then the series covers exactly those days', async () => {
      const res = await get('/admin/usage', admins.superAdmin.token, { tenantId: tenant.tenantId, from: '2026-01-01', to: '2026-01-03' });
      expect(res.status).toBe(200);
      expect(res.body.data[0].apiCalls.daily.map((entry: { day: string }) => entry.day)).toEqual(['2026-01-01', '2026-01-02', '2026-01-03']);
    });

    it('when the query is malformed, then 400; when the tenant is unknown, then 404', async () => {
      const bad = await get('/admin/usage', admins.superAdmin.token, { tenantId: 'x', from: '2026-13-45', limit: 0, cursor: 'nope' });
      expect(bad.status).toBe(400);
      const fields = bad.body.error.details.map((detail: { field: string }) => detail.field).sort();
      expect(fields).toEqual(['query.cursor', 'query.from', 'query.limit', 'query.tenantId']);
      expect((await get('/admin/usage', admins.superAdmin.token, { from: '2026-02-01', to: '2026-01-01' })).status).toBe(400);
      expect((await get('/admin/usage', admins.superAdmin.token, { from: '2025-01-01', to: '2026-01-01' })).status).toBe(400);
      expect((await get('/admin/usage', admins.superAdmin.token, { tenantId: randomUUID() })).status).toBe(404);
    });
  });

  describe('GET /admin/jobs', () => {
    const task = `console-test-${randomUUID().slice(0, 8)}.noop`;
    let ids: { queued: string; running: string; retrying: string; failed: string };

    let queue: WorkerUtils;
    let runner: Runner;
    let releaseRunning!: () => void;

    beforeAll(async () => {
      // Each job is brought to its state by the engine itself (a failed attempt, a worker holding it) or
      // by its administration functions; the other tests' runners never know this task.
      queue = await makeWorkerUtils({ connectionString: adminUrl(), logger: silentWorkerLogger });
      const add = async () => String((await queue.addJob(task, { secret: 'payload-value' }, { maxAttempts: 3 })).id);
      ids = { queued: await add(), running: await add(), retrying: await add(), failed: await add() };
      const later = new Date(Date.now() + 3_600_000);
      await queue.rescheduleJobs([ids.queued, ids.running, ids.failed], { runAt: later });
      await runOnce({ connectionString: adminUrl(), noHandleSignals: true, logger: silentWorkerLogger, taskList: { [task]: async () => Promise.reject(new Error('boom\nstack line')) } });
      await queue.rescheduleJobs([ids.retrying], { runAt: later });
      await queue.permanentlyFailJobs([ids.failed], 'gave up');
      await queue.rescheduleJobs([ids.running], { runAt: new Date() });
      const held = new Promise<void>((resolve) => (releaseRunning = resolve));
      runner = await run({ connectionString: adminUrl(), concurrency: 1, noHandleSignals: true, logger: silentWorkerLogger, taskList: { [task]: () => held } });
      await eventually(async () => Boolean((await owner('graphile_worker.jobs').where({ id: ids.running }).first('locked_at'))?.locked_at), 10_000, 'a worker holding the job');
    });
    afterAll(async () => {
      releaseRunning();
      await runner.stop();
      await queue.completeJobs(Object.values(ids));
      await queue.release();
    });

    it('when jobs are in each state, then the list shows their states, newest first, without payloads', async () => {
      const res = await get('/admin/jobs', admins.support.token, { task });
      expect(res.status).toBe(200);
      expect(res.body.data.map((job: { id: string; state: string }) => [job.id, job.state])).toEqual([
        [ids.failed, 'failed'],
        [ids.retrying, 'retrying'],
        [ids.running, 'running'],
        [ids.queued, 'queued'],
      ]);
      expect(res.body.data[1]).toMatchObject({ task, attempts: 1, maxAttempts: 3, lastError: 'boom' });
      expect(JSON.stringify(res.body)).not.toContain('payload-value');
    });

    it('when filtered by state and paged, then only matching jobs come, each once', async () => {
      const failed = await get('/admin/jobs', admins.superAdmin.token, { task, state: 'failed' });
      expect(failed.body.data.map((job: { id: string }) => job.id)).toEqual([ids.failed]);
      const first = await get('/admin/jobs', admins.superAdmin.token, { task, limit: 2 });
      expect(first.body.pagination.hasMore).toBe(true);
      const second = await get('/admin/jobs', admins.superAdmin.token, { task, limit: 2, cursor: first.body.pagination.nextCursor });
      expect([...first.body.data, ...second.body.data].map((job: { id: string }) => job.id)).toEqual([ids.failed, ids.retrying, ids.running, ids.queued]);
      expect(second.body.pagination.hasMore).toBe(false);
    });

    it('when the dashboard is read, then it counts these jobs by task and state', async () => {
      const res = await get('/admin/dashboard', admins.support.token);
      const mine = res.body.data.jobs.byTask.filter((row: { task: string }) => row.task === task);
      expect(mine).toEqual(
        expect.arrayContaining(['failed', 'queued', 'retrying', 'running'].map((state) => ({ task, state, count: 1 }))),
      );
      expect(res.body.data.jobs.byState.failed).toBeGreaterThanOrEqual(1);
      expect(res.body.data.health.deductions).toEqual(expect.arrayContaining([expect.objectContaining({ reason: expect.stringMatching(/failed jobs/) })]));
    });

    it('when the query is malformed, then 400', async () => {
      const res = await get('/admin/jobs', admins.superAdmin.token, { state: 'done', cursor: 'zzz', limit: 1000 });
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((detail: { field: string }) => detail.field).sort()).toEqual(['query.cursor', 'query.limit', 'query.state']);
    });
  });

  describe('GET /admin/audit-logs and /admin/platform-audit-logs', () => {
    it("when a tenant's records change, then the viewer shows them across tenants with personal values still encrypted", async () => {
      const other = await registerTenant(t.app);
      const created = await request(t.app).post('/api/v1/leads').set(other.auth).send({ lastName: 'Viewer', email: 'viewer-person@example.com' });
      expect(created.status).toBe(201);
      const res = await get('/admin/audit-logs', admins.support.token, { tenantId: other.tenantId, action: 'lead.create' });
      expect(res.status).toBe(200);
      expect(res.body.data).toHaveLength(1);
      const [entry] = res.body.data;
      expect(entry).toMatchObject({
        tenantId: other.tenantId,
        action: 'lead.create',
        resourceType: 'lead',
        resourceId: created.body.data.id,
        actor: { type: 'user', id: other.userId, impersonatorId: null },
      });
      expect(JSON.stringify(entry.changes)).not.toContain('viewer-person@example.com');
      expect(JSON.stringify(entry.changes)).toContain('enc:v1:');

      const byUser = await get('/admin/audit-logs', admins.support.token, { tenantId: other.tenantId, userId: other.userId });
      expect(byUser.body.data.length).toBeGreaterThanOrEqual(1);
      expect(byUser.body.data.every((row: { actor: { id: string } }) => row.actor.id === other.userId)).toBe(true);
      const byResource = await get('/admin/audit-logs', admins.support.token, { resourceType: 'lead', resourceId: created.body.data.id });
      expect(byResource.body.data.map((row: { id: string }) => row.id)).toEqual([entry.id]);
      const future = await get('/admin/audit-logs', admins.support.token, { tenantId: other.tenantId, from: '2999-01-01T00:00:00Z' });
      expect(future.body.data).toEqual([]);
    });

    it('when entries span pages, then the cursor walks them newest first without repeats', async () => {
      const first = await get('/admin/audit-logs', admins.superAdmin.token, { tenantId: tenant.tenantId, limit: 1 });
      expect(first.body.pagination.hasMore).toBe(true);
      const second = await get('/admin/audit-logs', admins.superAdmin.token, { tenantId: tenant.tenantId, limit: 1, cursor: first.body.pagination.nextCursor });
      expect(second.body.data[0].id).not.toBe(first.body.data[0].id);
      expect(Date.parse(second.body.data[0].occurredAt)).toBeLessThanOrEqual(Date.parse(first.body.data[0].occurredAt));
    });

    it('when a super admin changes a plan, then the platform audit log shows it', async () => {
      const target = await registerTenant(t.app);
      await request(t.app).patch(`/api/v1/admin/tenants/${target.tenantId}`).set(bearer(admins.superAdmin.token)).send({ plan: 'free' }).expect(200);
      const res = await get('/admin/platform-audit-logs', admins.support.token, { tenantId: target.tenantId });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual([
        expect.objectContaining({ action: 'tenant.plan_change', actorId: admins.superAdmin.id, details: { from: 'pro', to: 'free' } }),
      ]);
      const byActor = await get('/admin/platform-audit-logs', admins.support.token, { actorId: admins.superAdmin.id, action: 'tenant.plan_change' });
      expect(byActor.body.data.map((row: { tenantId: string }) => row.tenantId)).toContain(target.tenantId);
    });

    it('when the query is malformed, then 400', async () => {
      const res = await get('/admin/audit-logs', admins.superAdmin.token, { tenantId: 'x', from: 'yesterday', cursor: 'bad', userId: '1' });
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((detail: { field: string }) => detail.field).sort()).toEqual([
        'query.cursor',
        'query.from',
        'query.tenantId',
        'query.userId',
      ]);
      const platform = await get('/admin/platform-audit-logs', admins.superAdmin.token, { from: '2026-02-01', to: '2026-01-01' });
      expect(platform.status).toBe(400);
    });
  });
});
