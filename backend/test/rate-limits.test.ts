import { execFileSync } from 'node:child_process';
import request from 'supertest';
import { login, registerTenant } from './support/api-fixtures';
import { eventually } from './support/eventually';
import { PrivateRedis, startPrivateRedis } from './support/private-servers';
import { buildTestApp, TestApp } from './support/test-app';

const redisUrl = process.env.REDIS_URL;
const hasRedisServer = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function expectRateLimited(res: request.Response) {
  expect(res.status).toBe(429);
  expect(res.body.error.code).toBe('RATE_LIMITED');
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
}

describe('rate limits', () => {
  // A healthy app with wide budgets, for signing up outside the limits under test.
  let open: TestApp;
  beforeAll(() => {
    open = buildTestApp();
  });
  afterAll(() => open.close());
  const registerTenantThroughOpenLimits = (overrides: Record<string, unknown> = {}) => registerTenant(open.app, overrides);

  describe('anonymous traffic, per IP', () => {
    let t: TestApp;
    beforeAll(() => {
      t = buildTestApp({ env: { RATE_LIMIT_ANONYMOUS_MAX: '3' } });
    });
    afterAll(() => t.close());

    it('when an IP exceeds the budget, then 429 with Retry-After and draft-8 headers, no legacy ones', async () => {
      const first = await request(t.app).get('/api/v1/nothing-here');
      expect(first.headers['ratelimit-policy']).toMatch(/^"anonymous"; q=3; w=900;/);
      expect(first.headers.ratelimit).toMatch(/^"anonymous"; r=2; t=\d+/);
      expect(first.headers['x-ratelimit-limit']).toBeUndefined();
      await request(t.app).get('/api/v1/nothing-here');
      await request(t.app).get('/api/v1/nothing-here');
      expectRateLimited(await request(t.app).get('/api/v1/nothing-here'));
    });

    it('when credentials fail, then each failure is charged to the IP, so guessing keys or tokens is limited too', async () => {
      const guesser = buildTestApp({ env: { RATE_LIMIT_ANONYMOUS_MAX: '2' } });
      try {
        for (let i = 0; i < 2; i++) {
          expect((await request(guesser.app).get('/api/v1/auth/me').set('X-API-Key', `crm_live_guess${i}`)).status).toBe(401);
        }
        expectRateLimited(await request(guesser.app).get('/api/v1/auth/me').set('Authorization', 'Bearer not-a-token'));
      } finally {
        await guesser.close();
      }
    });

    it('when health probes or authenticated callers come from that IP, then they are not counted against it', async () => {
      for (let i = 0; i < 5; i++) expect((await request(t.app).get('/live')).status).toBe(200);
      const account = await registerTenantThroughOpenLimits();
      const me = await request(t.app).get('/api/v1/auth/me').set(account.auth);
      expect(me.status).toBe(200);
      expect(me.headers['ratelimit-policy']).toMatch(/^"plan-pro"; q=1000; w=3600;/);
    });
  });

  describe('sign-in, per IP and account', () => {
    let t: TestApp;
    beforeAll(() => {
      t = buildTestApp({ env: { RATE_LIMIT_LOGIN_MAX: '2' } });
    });
    afterAll(() => t.close());

    it('when one account is tried too often from one IP, then 429, while another account still may sign in', async () => {
      const account = await registerTenant(t.app);
      await login(t.app, { email: account.email, password: 'Wrong-Passw0rd' });
      await login(t.app, { email: account.email, password: 'Wrong-Passw0rd' });
      expectRateLimited(await login(t.app, { email: account.email, password: account.password }));
      const other = await registerTenant(t.app);
      expect((await login(t.app, { email: other.email, password: other.password })).status).toBe(200);
    });
  });

  describe('per caller, by plan', () => {
    let t: TestApp;
    beforeAll(() => {
      t = buildTestApp();
    });
    afterAll(() => t.close());

    it('when a free-plan user spends 100 requests in the hour, then the next is 429 and GET /rate-limit shows it', async () => {
      const account = await registerTenant(t.app, { plan: 'free' });
      const status = await request(t.app).get('/api/v1/rate-limit').set(account.auth);
      expect(status.body.data).toMatchObject({ plan: 'free', limit: 100, remaining: 99, windowSeconds: 3600 });
      for (let i = 0; i < 98; i++) await request(t.app).get('/api/v1/auth/me').set(account.auth).expect(200);
      const last = await request(t.app).get('/api/v1/rate-limit').set(account.auth);
      expect(last.body.data.remaining).toBe(0);
      expectRateLimited(await request(t.app).get('/api/v1/auth/me').set(account.auth));
    });

    it('when the plan is pro, then the budget is 1000 an hour', async () => {
      const account = await registerTenant(t.app, { plan: 'pro' });
      const res = await request(t.app).get('/api/v1/rate-limit').set(account.auth);
      expect(res.body.data).toMatchObject({ plan: 'pro', limit: 1000, remaining: 999 });
    });
  });

  describe('when Redis is unreachable', () => {
    let t: TestApp;
    beforeAll(() => {
      t = buildTestApp({ env: { REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_AUTH_FAIL_OPEN: 'false' } });
    });
    afterAll(() => t.close());

    it('then general routes fail open (served, store errors counted) and sign-in fails closed with 503', async () => {
      const account = await registerTenantThroughOpenLimits();
      const me = await request(t.app).get('/api/v1/auth/me').set(account.auth);
      expect(me.status).toBe(200);
      const signIn = await login(t.app, { email: account.email, password: account.password });
      expect(signIn.status).toBe(503);
      expect(signIn.body.error.code).toBe('SERVICE_UNAVAILABLE');
      const metrics = await request(t.app).get('/metrics');
      expect(metrics.text).toMatch(/rate_limit_store_errors_total [1-9]/);
    });
  });

  (redisUrl && hasRedisServer ? describe : describe.skip)('when a real Redis stops and starts again', () => {
    let redis: PrivateRedis;
    let t: TestApp;
    beforeAll(async () => {
      redis = await startPrivateRedis();
      t = buildTestApp({ env: { REDIS_URL: redis.url, RATE_LIMIT_AUTH_FAIL_OPEN: 'false' } });
    });
    afterAll(async () => {
      await t.close();
      await redis.destroy();
    });

    it('then sign-in answers 503 while it is down and works again once it is back, without a restart', async () => {
      const account = await registerTenantThroughOpenLimits();
      expect((await login(t.app, { email: account.email, password: account.password })).status).toBe(200);

      await redis.stop();
      const down = await login(t.app, { email: account.email, password: account.password });
      expect(down.status).toBe(503);
      expect((await request(t.app).get('/api/v1/auth/me').set(account.auth)).status).toBe(200);

      await redis.start();
      await eventually(async () => (await login(t.app, { email: account.email, password: account.password })).status === 200);
    });

    it('then per-caller budgets fail open while it is down (served, errors counted, /health degraded, /ready up) and count again once it is back', async () => {
      const account = await registerTenantThroughOpenLimits();
      const remaining = (res: request.Response) => Number(/r=(\d+)/.exec(String(res.headers.ratelimit))?.[1]);
      const me = () => request(t.app).get('/api/v1/auth/me').set(account.auth);
      const first = await me();
      const second = await me();
      expect(remaining(second)).toBe(remaining(first) - 1);
      const errorsBefore = storeErrors((await request(t.app).get('/metrics')).text);

      await redis.stop();
      for (let i = 0; i < 3; i++) expect((await me()).status).toBe(200);
      expect((await request(t.app).post('/api/v1/leads').set(account.auth).send({ lastName: 'Redis down' })).status).toBe(201);
      const health = await request(t.app).get('/health');
      expect([health.status, health.body.status, health.body.checks.redis.status]).toEqual([200, 'degraded', 'down']);
      expect((await request(t.app).get('/ready')).status).toBe(200);
      expect(storeErrors((await request(t.app).get('/metrics')).text)).toBeGreaterThan(errorsBefore);

      await redis.start();
      // The restarted Redis is empty: counting starts over, one request at a time, without restarting the app.
      await eventually(async () => {
        const [x, y] = [await me(), await me()];
        return Number.isFinite(remaining(x)) && remaining(y) === remaining(x) - 1;
      });
      expect((await request(t.app).get('/health')).body.status).toBe('healthy');
    });
  });
});

const storeErrors = (metrics: string) => Number(/^rate_limit_store_errors_total (\d+)/m.exec(metrics)?.[1] ?? 0);
