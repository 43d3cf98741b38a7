import { Knex } from 'knex';
import request from 'supertest';
import { createAppKnex } from '../src/infra/db';
import { sealTenantAudit } from '../src/modules/audit/audit-sealer';
import { registerTenant } from './support/api-fixtures';
import { whileSealingStalls } from './support/audit-sealing';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

const DEAD_POSTGRES = 'postgres://nobody@127.0.0.1:1/nothing';
const DEAD_REDIS = 'redis://127.0.0.1:1';
const redisUrl = process.env.REDIS_URL;

describe('operations endpoints', () => {
  let t: TestApp;
  beforeAll(() => {
    t = buildTestApp();
  });
  afterAll(() => t.close());

  it('when everything is up, then /health is healthy with a latency per check', async () => {
    const res = await request(t.app).get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'healthy',
      checks: {
        database: { status: 'up', latencyMs: expect.any(Number) },
        auditSealing: { status: 'up', latencyMs: expect.any(Number), pending: expect.any(Number), overdue: 0, oldestPendingSeconds: expect.any(Number) },
      },
    });
    expect(res.body.checks.redis.status).toBe(redisUrl ? 'up' : 'disabled');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('when the process runs, then /live answers 200 and /ready answers 200 with the database up', async () => {
    expect((await request(t.app).get('/live')).body).toEqual({ status: 'alive' });
    const ready = await request(t.app).get('/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready' });
  });

  it('when the server drains, then /ready answers 503 so the balancer stops sending traffic', async () => {
    t.deps.lifecycle.draining = true;
    try {
      const res = await request(t.app).get('/ready');
      expect(res.status).toBe(503);
      expect(res.body.status).toBe('draining');
    } finally {
      t.deps.lifecycle.draining = false;
    }
  });

  it('when Prometheus scrapes, then it gets default metrics, the request histogram by route and pool gauges', async () => {
    await request(t.app).get('/live');
    const res = await request(t.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.text).toContain('process_cpu_user_seconds_total');
    expect(res.text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/live",status_code="200"\} \d+/);
    expect(res.text).toMatch(/db_pool_connections\{state="max"\} \d+/);
    expect(res.text).toMatch(/^audit_pending_entries \d+$/m);
    expect(res.text).toMatch(/^audit_pending_overdue_entries 0$/m);
    expect(res.text).toMatch(/^audit_pending_oldest_seconds [\d.e+-]+$/m);
  });

  describe('when audit entries stay unsealed past AUDIT_SEAL_WARN_SECONDS', () => {
    let warned: TestApp;
    let owner: Knex;
    beforeAll(() => {
      warned = buildTestApp({ env: { AUDIT_SEAL_WARN_SECONDS: '60' } });
      owner = ownerKnex();
    });
    afterAll(async () => {
      await warned.close();
      await owner.destroy();
    });

    it('then /health is degraded (200) with the audit sealing check down, and /metrics counts them', async () => {
      const tenant = await registerTenant(warned.app);
      await whileSealingStalls(owner, tenant.tenantId, async () => {
        // Appended ten minutes ago, and never sealed since: the sealer of this tenant is stuck.
        await owner.transaction(async (trx) => {
          await trx.raw("select set_config('app.tenant_id', ?, true)", [tenant.tenantId]);
          await trx('audit_logs').insert({ tenant_id: tenant.tenantId, actor_type: 'system', action: 'health.stale', occurred_at: new Date(Date.now() - 600_000) });
        });
        const health = await request(warned.app).get('/health');
        expect([health.status, health.body.status]).toEqual([200, 'degraded']);
        expect(health.body.checks.auditSealing).toMatchObject({ status: 'down', error: expect.stringMatching(/unsealed for more than 60 s$/) });
        expect(health.body.checks.auditSealing.overdue).toBeGreaterThanOrEqual(1);
        expect(health.body.checks.auditSealing.oldestPendingSeconds).toBeGreaterThanOrEqual(600);
        const metrics = (await request(warned.app).get('/metrics')).text;
        expect(Number(/^audit_pending_overdue_entries (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
        expect(Number(/^audit_pending_oldest_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(600);
      });
      await sealTenantAudit(owner, tenant.tenantId);
    });
  });

  describe('when the database is unreachable', () => {
    let down: TestApp;
    beforeAll(() => {
      down = buildTestApp({
        knex: createAppKnex(DEAD_POSTGRES, { poolMax: 1, statementTimeoutMs: 1000, connectTimeoutMs: 500 }),
      });
    });
    afterAll(() => down.close());

    it('then /health is unhealthy with 503 and /ready is 503, while /live stays 200', async () => {
      const health = await request(down.app).get('/health');
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ status: 'unhealthy', checks: { database: { status: 'down' } } });
      expect((await request(down.app).get('/ready')).status).toBe(503);
      expect((await request(down.app).get('/live')).status).toBe(200);
    });

    it("then an anonymous caller sees that the database did not answer, never the driver's text (host, port, user, database)", async () => {
      const health = await request(down.app).get('/health');
      const ready = await request(down.app).get('/ready');
      expect(health.body.checks.database.error).toBe('database did not answer');
      expect(ready.body.database.error).toBe('database did not answer');
      for (const body of [health.text, ready.text]) expect(body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|nobody|nothing|::1\b/);
    });
  });

  describe('when Redis is unreachable', () => {
    let degraded: TestApp;
    beforeAll(() => {
      degraded = buildTestApp({ env: { REDIS_URL: DEAD_REDIS } });
    });
    afterAll(() => degraded.close());

    it('then /health reports degraded (200) and /ready stays 200', async () => {
      const health = await request(degraded.app).get('/health');
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ status: 'degraded', checks: { redis: { status: 'down', error: 'redis did not answer' }, database: { status: 'up' } } });
      expect(health.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|Connection is closed/);
      expect((await request(degraded.app).get('/ready')).status).toBe(200);
    });
  });

  describe('when METRICS_TOKEN is set', () => {
    let guarded: TestApp;
    beforeAll(() => {
      guarded = buildTestApp({ env: { METRICS_TOKEN: 'metrics-token-0123456789' } });
    });
    afterAll(() => guarded.close());

    it('then /metrics needs it as a bearer token', async () => {
      const anonymous = await request(guarded.app).get('/metrics');
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.error.code).toBe('UNAUTHORIZED');
      expect((await request(guarded.app).get('/metrics').set('Authorization', 'Bearer wrong-token-0123456789')).status).toBe(401);
      expect((await request(guarded.app).get('/metrics').set('Authorization', 'Bearer metrics-token-0123456789')).status).toBe(200);
    });
  });
});
