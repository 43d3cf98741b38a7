import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { RouteDefinition } from '../src/http/route';
import { addMember, bearer, login, registerTenant, Registered } from './support/api-fixtures';
import { isTenantRoute, readingStreamsBriefly, routeName, servedRoutes, urlOf } from './support/route-catalogue';
import { buildTestApp, TEST_JWT_SECRET, TestApp } from './support/test-app';

/** OWASP API Security Top 10 (2023), one group per item, each through the HTTP API. */
describe('OWASP API Security Top 10 (2023)', () => {
  let t: TestApp;
  let a: Registered;
  let b: Registered;
  let routes: RouteDefinition[];
  beforeAll(async () => {
    t = buildTestApp({ env: { CORS_ORIGINS: 'https://app.example.com', RATE_LIMIT_LOGIN_MAX: '5' } });
    routes = servedRoutes(t);
    a = await registerTenant(t.app);
    b = await registerTenant(t.app);
  });
  afterAll(() => t.close());
  const api = () => request(t.app);

  describe('API1 broken object level authorization', () => {
    it("when tenant B reads, changes or deletes tenant A's objects by id, then 404 like an unknown id, and A's object is unchanged", async () => {
      const lead = (await api().post('/api/v1/leads').set(a.auth).send({ lastName: 'Bola' })).body.data;
      const key = (await api().post('/api/v1/api-keys').set(a.auth).send({ name: 'Bola', role: 'read_only' })).body.data;
      for (const [method, url] of [
        ['get', `/api/v1/leads/${lead.id}`],
        ['patch', `/api/v1/leads/${lead.id}`],
        ['delete', `/api/v1/leads/${lead.id}`],
        ['delete', `/api/v1/api-keys/${key.id}`],
        ['get', `/api/v1/users/${a.userId}`],
      ] as const) {
        const res = await api()[method](url).set(b.auth).send(method === 'patch' ? { lastName: 'Stolen' } : undefined);
        expect({ url, method, status: res.status, code: res.body.error?.code }).toEqual({ url, method, status: 404, code: 'NOT_FOUND' });
      }
      expect((await api().get(`/api/v1/leads/${lead.id}`).set(a.auth)).body.data.lastName).toBe('Bola');
      expect((await api().get('/api/v1/api-keys').set(bearer(key.key))).status).not.toBe(401);
    });
  });

  describe('API2 broken authentication', () => {
    const claims = () => ({ sub: a.userId, jti: 'x', tenantId: a.tenantId });
    it('when a token is unsigned (alg none), signed with another secret or algorithm, expired, or for another audience, then 401', async () => {
      const forged = [
        jwt.sign(claims(), '', { algorithm: 'none', audience: 'crm-api', issuer: 'crm-api' }),
        jwt.sign(claims(), 'another-secret-that-is-long-enough-for-hs256-0000', { algorithm: 'HS256', audience: 'crm-api', issuer: 'crm-api' }),
        jwt.sign(claims(), TEST_JWT_SECRET, { algorithm: 'HS512', audience: 'crm-api', issuer: 'crm-api' }),
        jwt.sign(claims(), TEST_JWT_SECRET, { algorithm: 'HS256', audience: 'crm-admin', issuer: 'crm-api' }),
        jwt.sign(claims(), TEST_JWT_SECRET, { algorithm: 'HS256', audience: 'crm-api', issuer: 'someone-else' }),
      ];
      for (const token of forged) {
        const res = await api().get('/api/v1/auth/me').set(bearer(token));
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('UNAUTHORIZED');
      }
      const expired = jwt.sign({ ...claims(), exp: Math.floor(Date.now() / 1000) - 60 }, TEST_JWT_SECRET, { algorithm: 'HS256', audience: 'crm-api', issuer: 'crm-api' });
      const res = await api().get('/api/v1/auth/me').set(bearer(expired));
      expect([res.status, res.body.error.code]).toEqual([401, 'TOKEN_EXPIRED']);
    });

    it('when a user signs out, then the access token stops working at once; unknown email and wrong password answer alike', async () => {
      const session = (await login(t.app, { email: a.email, password: a.password })).body.data.tokens.accessToken;
      expect((await api().post('/api/v1/auth/logout').set(bearer(session))).status).toBe(204);
      expect((await api().get('/api/v1/auth/me').set(bearer(session))).status).toBe(401);
      const unknown = await login(t.app, { email: 'nobody-here@example.com', password: 'Wrong-Passw0rd' });
      const wrong = await login(t.app, { email: b.email, password: 'Wrong-Passw0rd' });
      expect([unknown.status, unknown.body.error.message]).toEqual([wrong.status, wrong.body.error.message]);
      expect(wrong.status).toBe(401);
    });
  });

  describe('API3 broken object property level authorization', () => {
    it('when a client sets tenantId, id, audit fields or unknown fields, then 400 naming them, and nothing is stored', async () => {
      const res = await api()
        .post('/api/v1/leads')
        .set(a.auth)
        .send({ lastName: 'Mass', tenantId: b.tenantId, id: a.userId, createdBy: b.userId, isAdmin: true });
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((detail: { field: string }) => detail.field).sort()).toEqual(['createdBy', 'id', 'isAdmin', 'tenantId']);
      const listed = await api().get('/api/v1/leads?q=Mass').set(a.auth);
      expect(listed.body.data).toEqual([]);
    });

    it('when users and keys are read back, then no password hash, key hash or key secret is in the answer', async () => {
      const member = await addMember(t.app, a, 'manager');
      await api().post('/api/v1/api-keys').set(a.auth).send({ name: 'Prop', role: 'read_only' });
      const text = JSON.stringify([
        (await api().get('/api/v1/users').set(a.auth)).body,
        (await api().get(`/api/v1/users/${member.id}`).set(a.auth)).body,
        (await api().get('/api/v1/api-keys').set(a.auth)).body,
        (await api().get('/api/v1/auth/me').set(member.auth)).body,
      ]);
      expect(text).not.toMatch(/passwordHash|password_hash|keyHash|key_hash|\$2[aby]\$|crm_live_[A-Za-z0-9_-]{43}/);
    });
  });

  describe('API4 unrestricted resource consumption', () => {
    it('when a page size past 500, a JSON body past BODY_LIMIT or nesting past 20 levels is sent, then 400 / 413, never served', async () => {
      expect((await api().get('/api/v1/leads?limit=501').set(a.auth)).status).toBe(400);
      const capped = await api().get('/api/v1/leads?limit=500').set(a.auth);
      expect([capped.status, capped.body.pagination.limit]).toEqual([200, 500]);
      const big = await api().post('/api/v1/leads').set(a.auth).set('Content-Type', 'application/json').send(JSON.stringify({ lastName: 'x', notes: 'y'.repeat(1_100_000) }));
      expect([big.status, big.body.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
      let deep: unknown = 'x';
      for (let i = 0; i < 25; i++) deep = { deep };
      expect((await api().post('/api/v1/leads').set(a.auth).send({ lastName: 'x', custom: deep })).status).toBe(400);
    });

    it('when anonymous traffic exceeds its budget, then 429 with Retry-After', async () => {
      const limited = buildTestApp({ env: { RATE_LIMIT_ANONYMOUS_MAX: '2' } });
      try {
        await request(limited.app).get('/api/v1/none');
        await request(limited.app).get('/api/v1/none');
        const res = await request(limited.app).get('/api/v1/none');
        expect([res.status, res.body.error.code]).toEqual([429, 'RATE_LIMITED']);
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      } finally {
        await limited.close();
      }
    });
  });

  describe('API5 broken function level authorization', () => {
    it('when no credentials are sent, then every non-public declared route answers 401', async () => {
      const open = routes.filter((route) => route.permission !== 'public');
      const answers = await Promise.all(open.map(async (route) => [routeName(route), (await api()[route.method](urlOf(route))).status] as const));
      expect(answers.filter(([, status]) => status !== 401)).toEqual([]);
      expect(open.length).toBeGreaterThan(80);
    });

    it('when lesser roles call admin functions, a tenant token calls platform routes, or a platform token calls tenant routes, then 403 / 401', async () => {
      const reader = await addMember(t.app, a, 'read_only');
      const sales = await addMember(t.app, a, 'sales_user');
      expect((await api().post('/api/v1/users').set(reader.auth).send({ email: 'x@example.com', firstName: 'X', lastName: 'Y', role: 'tenant_admin' })).status).toBe(403);
      expect((await api().get('/api/v1/audit-logs').set(sales.auth)).status).toBe(403);
      expect((await api().post('/api/v1/leads').set(reader.auth).send({ lastName: 'Nope' })).status).toBe(403);
      const platformRoutes = routes.filter((route) => route.permission.startsWith('platform:'));
      expect(platformRoutes.length).toBeGreaterThan(2);
      // A well-formed request, so that only the caller can be what is refused (the tenant's own id, suspended).
      for (const route of platformRoutes) {
        const res = await api()[route.method](urlOf(route, { id: a.tenantId })).set(a.auth).send(route.method === 'patch' ? { status: 'suspended', reason: 'owasp' } : undefined);
        expect({ route: routeName(route), status: res.status }).toEqual({ route: routeName(route), status: 403 });
      }
      expect((await api().get('/api/v1/auth/me').set(a.auth)).status).toBe(200);
      const platformLike = jwt.sign({ sub: a.userId, jti: 'p', role: 'super_admin' }, TEST_JWT_SECRET, { algorithm: 'HS256', audience: 'crm-admin', issuer: 'crm-api' });
      expect((await api().get('/api/v1/leads').set(bearer(platformLike))).status).toBe(401);
    });
  });

  describe('API6 unrestricted access to sensitive business flows', () => {
    it('when one account is tried past the sign-in budget, then 429 even with the right password', async () => {
      const victim = await registerTenant(t.app);
      for (let i = 0; i < 5; i++) await login(t.app, { email: victim.email, password: 'Wrong-Passw0rd' });
      const res = await login(t.app, { email: victim.email, password: victim.password });
      expect([res.status, res.body.error.code]).toEqual([429, 'RATE_LIMITED']);
    });

    it('when an organization asks for a second full data export within the hour, then 429 with Retry-After', async () => {
      const owner = await registerTenant(t.app);
      expect((await api().post('/api/v1/organization/export-data').set(owner.auth).send({})).status).toBe(202);
      const again = await api().post('/api/v1/organization/export-data').set(owner.auth).send({});
      expect([again.status, again.body.error.code]).toEqual([429, 'RATE_LIMITED']);
      expect(Number(again.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('when a free tenant imports in bulk or exports its audit trail, then 402; exports and imports spend the caller budget', async () => {
      const free = await registerTenant(t.app, { plan: 'free' });
      expect((await api().post('/api/v1/leads/import/bulk').set(free.auth).send([{ lastName: 'x' }])).status).toBe(402);
      expect((await api().get('/api/v1/audit-logs/export').set(free.auth)).status).toBe(402);
      const before = await api().get('/api/v1/rate-limit').set(a.auth);
      await api().get('/api/v1/leads/export/csv').set(a.auth);
      await api().post('/api/v1/leads/import/bulk').set(a.auth).send([{ lastName: 'Budget' }]);
      const after = await api().get('/api/v1/rate-limit').set(a.auth);
      expect(before.body.data.remaining - after.body.data.remaining).toBe(3);
    });
  });

  /** Records every outbound connection the process opens to anything but the local test servers. */
  const outbound = () => {
    const calls: string[] = [];
    const local = (host: unknown) => host === undefined || ['127.0.0.1', 'localhost', '::1', '::ffff:127.0.0.1'].includes(String(host));
    const originals = { httpRequest: http.request, httpsRequest: https.request, fetch: globalThis.fetch, connect: net.Socket.prototype.connect };
    const record = (what: string, host: unknown) => {
      if (!local(host)) calls.push(`${what} ${String(host)}`);
    };
    http.request = ((...args: Parameters<typeof http.request>) => {
      const options = args[0] as { host?: string; hostname?: string } | string | URL;
      record('http', typeof options === 'string' ? new URL(options).hostname : options instanceof URL ? options.hostname : (options.hostname ?? options.host));
      return originals.httpRequest(...args);
    }) as typeof http.request;
    https.request = ((...args: Parameters<typeof https.request>) => {
      calls.push(`https ${JSON.stringify(args[0]).slice(0, 100)}`);
      return originals.httpsRequest(...args);
    }) as typeof https.request;
    globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
      calls.push(`fetch ${String(input)}`);
      return originals.fetch(input, init);
    }) as typeof fetch;
    net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
      const first = args[0] as { host?: string; path?: string } | number | string;
      if (typeof first === 'object' && first !== null && !first.path) record('socket', first.host);
      return (originals.connect as (...inner: unknown[]) => net.Socket).apply(this, args);
    } as typeof net.Socket.prototype.connect;
    return {
      calls,
      restore: () => {
        http.request = originals.httpRequest;
        https.request = originals.httpsRequest;
        globalThis.fetch = originals.fetch;
        net.Socket.prototype.connect = originals.connect;
      },
    };
  };

  describe('API7 server side request forgery', () => {
    it('when URLs of internal services are stored in CRM URL fields, then the server never connects to them', async () => {
      const urlFields = routes.filter((route) => JSON.stringify(route.schema?.body?.describe() ?? {}).includes('"name":"uri"')).map(routeName);
      // The server fetches only webhook and integration URLs (next test) and the staff's security alert target
      // (platform configuration, docs/SECURITY.md); the CRM's are data.
      expect(urlFields.filter((name) => !name.includes('/webhooks') && name !== 'PUT /admin/config')).toEqual(['POST /leads/:id/convert', 'POST /accounts', 'PATCH /accounts/:id']);
      const watch = outbound();
      try {
        const account = await api().post('/api/v1/accounts').set(a.auth).send({ name: 'Ssrf', website: 'http://169.254.169.254/latest/meta-data/', domain: 'metadata.example.com' });
        expect(account.status).toBe(201);
        expect((await api().patch(`/api/v1/accounts/${account.body.data.id}`).set(a.auth).send({ website: 'http://10.0.0.1:6379/' })).status).toBe(200);
        const lead = (await api().post('/api/v1/leads').set(a.auth).send({ lastName: 'Ssrf' })).body.data;
        expect((await api().post(`/api/v1/leads/${lead.id}/convert`).set(a.auth).send({ account: { name: 'Ssrf 2', website: 'file:///etc/passwd' } })).status).not.toBeGreaterThanOrEqual(500);
        await new Promise((resolve) => setImmediate(resolve));
        expect(watch.calls).toEqual([]);
      } finally {
        watch.restore();
      }
    });

    it('when a webhook or integration names an internal address, then it is refused (400) and nothing is contacted', async () => {
      // As deployed: WEBHOOK_ALLOW_PRIVATE_NETWORKS is off (the test default turns it on for local receivers).
      const guarded = buildTestApp({ env: { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' } });
      const watch = outbound();
      try {
        const internal = ['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1:6379/', 'http://127.0.0.1:5432/', 'http://[::1]/', 'http://[::ffff:127.0.0.1]/', 'http://100.64.0.1/'];
        for (const url of internal) {
          const webhook = await request(guarded.app).post('/api/v1/webhooks').set(a.auth).send({ url, events: ['lead.*'] });
          expect({ url, status: webhook.status, code: webhook.body.error?.code }).toEqual({ url, status: 400, code: 'VALIDATION_ERROR' });
          const slack = await request(guarded.app)
            .post('/api/v1/integrations')
            .set(a.auth)
            .send({ type: 'slack_notification', name: 'Ssrf', config: { webhookUrl: url, events: ['deal.won'] } });
          expect({ url, status: slack.status }).toEqual({ url, status: 400 });
        }
        expect(watch.calls).toEqual([]);
      } finally {
        watch.restore();
        await guarded.close();
      }
    });
  });

  describe('API8 security misconfiguration', () => {
    it('when any answer is sent, then the hardening headers are on and X-Powered-By is off', async () => {
      for (const res of [await api().get('/api/v1/auth/me').set(a.auth), await api().get('/api/v1/nowhere'), await api().get('/health')]) {
        expect(res.headers['content-security-policy']).toContain("default-src 'none'");
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        expect(res.headers['x-frame-options']).toBe('DENY');
        expect(res.headers['strict-transport-security']).toMatch(/max-age=\d{7,}/);
        expect(res.headers['x-powered-by']).toBeUndefined();
      }
    });

    it('when an origin is not on CORS_ORIGINS, then no CORS headers; an allowed origin gets them with credentials', async () => {
      const evil = await api().options('/api/v1/leads').set('Origin', 'https://evil.example.com').set('Access-Control-Request-Method', 'GET');
      expect(evil.headers['access-control-allow-origin']).toBeUndefined();
      const good = await api().get('/api/v1/auth/me').set(a.auth).set('Origin', 'https://app.example.com');
      expect(good.headers['access-control-allow-origin']).toBe('https://app.example.com');
      expect(good.headers['access-control-allow-credentials']).toBe('true');
    });

    it('when requests fail in every way, then the answer is the error envelope, with no stack, SQL or internals', async () => {
      const failures = [
        await api().post('/api/v1/leads').set(a.auth).set('Content-Type', 'application/json').send('{"lastName":'),
        await api().get('/api/v1/leads/not-a-uuid').set(a.auth),
        await api().get('/api/v1/leads?sort=password').set(a.auth),
        await api().get('/api/v1/nowhere'),
        await api().put('/api/v1/leads').set(a.auth),
      ];
      for (const res of failures) {
        expect(Object.keys(res.body)).toEqual(['error']);
        expect(res.body.error).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String), requestId: res.headers['x-request-id'] }));
        expect(JSON.stringify(res.body)).not.toMatch(/\bat .*\.ts:\d+|node_modules|select |pg_|constraint|stack/i);
      }
    });
  });

  describe('API9 improper inventory management', () => {
    it('when undocumented versions are called, then 404 NOT_FOUND', async () => {
      for (const url of ['/api/v2/leads', '/api/v0/leads', '/api/v1.1/leads', '/v1/leads', '/api/beta/leads', '/api/internal/leads']) {
        const res = await api().get(url).set(a.auth);
        expect({ url, status: res.status, code: res.body.error?.code }).toEqual({ url, status: 404, code: 'NOT_FOUND' });
      }
    });

    it('when the served routes are compared with the OpenAPI document, then each is documented and each documented operation is served', async () => {
      const document = (await api().get('/api/v1/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
      const documented = Object.entries(document.paths).flatMap(([path, operations]) =>
        Object.keys(operations)
          .filter((method) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
          .map((method) => `${method.toUpperCase()} ${path}`),
      );
      const served = routes.map((route) => `${route.method.toUpperCase()} ${urlOf(route).replace(/\/00000000-0000-4000-8000-000000000000/g, '/{id}')}`);
      const normalise = (line: string) => line.replace(/\{\w+\}/g, '{}');
      expect(served.map(normalise).sort()).toEqual(documented.map(normalise).sort());
      expect(routes.filter(isTenantRoute).length).toBeGreaterThan(80);
    });
  });

  describe('API10 unsafe consumption of APIs', () => {
    // Outbound calls (webhooks, integrations, e-mail) run only in jobs, with a 5 s timeout, a 4 KB answer
    // cap and no redirects: backend/test/webhook-delivery.test.ts shows those.
    it('when one request of every declared route is served, then the request itself opens no connection to any third-party API', async () => {
      const watch = outbound();
      try {
        for (const route of routes) {
          const res = await readingStreamsBriefly(api()[route.method](urlOf(route)), route).set(route.permission === 'public' ? {} : a.auth).send(route.method === 'get' ? undefined : {});
          expect(res.status).toBeLessThan(500);
        }
      } finally {
        watch.restore();
      }
      expect(watch.calls).toEqual([]);
      const { dependencies } = (await import('../../package.json')) as { dependencies: Record<string, string> };
      expect(Object.keys(dependencies).filter((name) => /^(axios|node-fetch|got|undici|superagent|request|needle|ky)$/.test(name))).toEqual([]);
    });
  });
});
