import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import request from 'supertest';
import { RouteDefinition } from '../src/http/route';
import { ensureSuperAdmin } from '../src/modules/admin/platform-admins.service';
import { addMember, bearer, login, registerTenant, Registered } from './support/api-fixtures';
import { arbitraryFromSchema, hostileValue, InputSources } from './support/joi-arbitrary';
import { paramsOf, readingStreamsBriefly, routeName, servedRoutes, urlOf } from './support/route-catalogue';
import { startServer } from './support/server-process';
import { adminUrl, buildTestApp, TestApp } from './support/test-app';

/**
 * Every declared route's path, query, body and headers fuzzed from its joi schema (hostile mode: wrong
 * types, odd strings, unknown and prototype keys), sent by a caller allowed to reach the handler. No
 * answer may be a 5xx, every answer must match the OpenAPI document (the setup file checks each one),
 * nothing may be logged as a failure, and no promise may be left rejected.
 */
/** Runs per route; FUZZ_RUNS=100 fuzzes harder (outside CI). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 10);
const ADMIN_EMAIL = `fuzz-root-${randomUUID().slice(0, 8)}@example.com`;
const ADMIN_PASSWORD = 'Fuzz-Root-Passw0rd-1';

describe('input fuzzing of every declared route', () => {
  let t: TestApp;
  let tenant: Registered;
  let platformAuth: Record<string, string>;
  let routes: RouteDefinition[] = [];
  let sources: InputSources;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    t = buildTestApp({ env: { SUPER_ADMIN_EMAIL: ADMIN_EMAIL, SUPER_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    routes = servedRoutes(t);
    await ensureSuperAdmin(t.deps.platformKnex, t.deps.config, t.deps.logger);
    tenant = await registerTenant(t.app, { plan: 'enterprise' });
    // Platform routes get a tenant of their own to suspend, so the fuzzed tenant keeps working.
    const sacrificial = await registerTenant(t.app);
    const admin = await request(t.app).post('/api/v1/admin/auth/login').send({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    platformAuth = bearer(admin.body.data.tokens.accessToken);
    const member = await addMember(t.app, tenant, 'sales_user');
    const ids = [member.id, sacrificial.tenantId];
    for (const [resource, body] of [
      ['accounts', { name: 'Fuzz account' }],
      ['leads', { lastName: 'Fuzz lead' }],
      ['tasks', { title: 'Fuzz task' }],
      ['roles', { name: 'Fuzz role', permissions: ['leads:read'] }],
    ] as const) {
      const res = await request(t.app).post(`/api/v1/${resource}`).set(tenant.auth).send(body);
      ids.push(res.body.data.id);
    }
    const page = await request(t.app).get('/api/v1/leads?limit=1').set(tenant.auth);
    sources = { ids, words: ['fuzz', 'Fuzz lead', '%', '_', "'", '\\'], cursors: [page.body.pagination.nextCursor ?? 'x'] };
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await t?.close();
  });

  const authFor = async (route: RouteDefinition): Promise<Record<string, string>> => {
    if (route.permission === 'public') return {};
    if (route.permission.startsWith('platform:')) return platformAuth;
    // Signing out or changing the password ends sessions: those routes get a session of their own.
    if (route.path === '/auth/logout' || route.path === '/auth/password') {
      const fresh = await login(t.app, { email: tenant.email, password: tenant.password });
      return bearer(fresh.body.data.tokens.accessToken);
    }
    return tenant.auth;
  };

  const pathValue = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('ids').chain(() => fc.constantFrom(...sources.ids)) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: fc.string({ maxLength: 60 }) },
    { weight: 1, arbitrary: fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '..', '%', 'null', '1 or 1=1', '0x1', '-1') },
  );
  const printable = (text: string) => text.replace(/[^\x20-\x7e]/g, '');
  const headers = fc.record(
    {
      'Idempotency-Key': fc.oneof(fc.string({ minLength: 0, maxLength: 300 }).map(printable), fc.uuid()),
      'X-Request-Id': fc.string({ maxLength: 200 }).map(printable),
      'X-Tenant-ID': fc.oneof(fc.uuid(), fc.string({ maxLength: 40 }).map(printable)),
      'Accept-Language': fc.string({ maxLength: 20 }).map(printable),
      Cookie: fc.string({ maxLength: 60 }).map((value) => `crm_refresh=${printable(value)}`),
    },
    { requiredKeys: [] },
  );
  interface FuzzedBody {
    kind: 'json' | 'raw' | 'csv';
    value: unknown;
    contentType: string;
    /** A GET sends a body too, now and then. */
    onGet: boolean;
  }
  const bodyFor = (route: RouteDefinition): fc.Arbitrary<FuzzedBody> => {
    const schema = route.bulkBody ? routes.find((candidate) => candidate.method === 'post' && candidate.path === route.path.replace('/import/bulk', ''))?.schema?.body : route.schema?.body;
    const shaped = schema ? arbitraryFromSchema(schema, sources, true) : hostileValue;
    const json = route.bulkBody ? fc.oneof(fc.array(shaped, { maxLength: 3 }), shaped) : shaped;
    const contentType = fc.constantFrom('application/json', 'application/json; charset=latin1', 'application/merge-patch+json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/csv');
    const onGet = fc.integer({ min: 0, max: 4 }).map((n) => n === 0);
    const csv = fc.array(fc.array(fc.string({ maxLength: 12 }), { maxLength: 4 }), { maxLength: 4 }).map((rows) => ['lastName,email,score', ...rows.map((row) => row.join(','))].join('\n'));
    return fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('json' as const), value: json, contentType: fc.constant('application/json'), onGet }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), value: fc.string({ maxLength: 80 }), contentType, onGet }) },
      { weight: route.bulkBody ? 2 : 0, arbitrary: fc.record({ kind: fc.constant('csv' as const), value: csv, contentType: fc.constant('text/csv'), onGet }) },
    );
  };

  it('when every route gets fuzzed paths, queries, bodies and headers, then no answer is a 5xx or off the OpenAPI document, nothing is logged as failed and no promise is left rejected', async () => {
    const problems: string[] = [];
    for (const route of routes) {
      const auth = await authFor(route);
      // A URL past Node's 16 KB head limit never reaches the app (server-lifecycle and owasp tests cover that answer).
      const query = (route.schema?.query ? arbitraryFromSchema(route.schema.query, sources, true) : fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 2 })).filter(
        (value) => JSON.stringify(value ?? null).length < 4_000,
      );
      const params = fc.record(Object.fromEntries(paramsOf(route).map((name) => [name, pathValue])));
      await fc.assert(
        fc.asyncProperty(params, query, bodyFor(route), headers, async (path, q, body, extra) => {
          const url = urlOf(route, path as Record<string, string>);
          const req = readingStreamsBriefly(request(t.app)[route.method](url), route).set(auth).set(extra as Record<string, string>);
          if (q && typeof q === 'object' && !Array.isArray(q)) req.query(q as Record<string, string>);
          if (body.kind === 'raw') req.set('Content-Type', body.contentType).send(String(body.value));
          else if (body.kind === 'csv') req.set('Content-Type', 'text/csv').send(String(body.value));
          else if (route.method !== 'get' || body.onGet) req.set('Content-Type', 'application/json').send(JSON.stringify(body.value ?? null));
          let res: request.Response;
          try {
            res = await req;
          } catch (error) {
            problems.push(`${routeName(route)} ${url}: ${(error as Error).message.slice(0, 400)}`);
            return;
          }
          if (res.status >= 500) problems.push(`${routeName(route)} ${url} -> ${res.status} ${JSON.stringify(res.body).slice(0, 200)} for ${JSON.stringify({ q, body }).slice(0, 400)}`);
        }),
        { numRuns: RUNS },
      );
    }
    const failures = t.logs.filter((line) => line.level === 'error').map((line) => `${line.message} ${line.method} ${line.path} ${String(JSON.stringify(line.error ?? line.detail ?? '')).slice(0, 300)}`);
    expect({ problems, failures, unhandled }).toEqual({ problems: [], failures: [], unhandled: [] });
  }, 30_000 * RUNS);

  describe('regressions found by fuzzing', () => {
    // An app of their own: the fuzzing above may have changed this deployment's runtime settings
    // (PUT /admin/config with valid values, such as a sign-in budget of 1).
    let r: TestApp;
    beforeAll(() => {
      r = buildTestApp();
    });
    afterAll(() => r.close());

    it('when a JSON route gets a text/csv body, then 415 UNSUPPORTED_MEDIA_TYPE (it reached the handler unparsed: 500)', async () => {
      const res = await request(r.app).post('/api/v1/admin/auth/login').set('Content-Type', 'text/csv').send('email,password\nx,y');
      expect(res.status).toBe(415);
      expect(res.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      const lead = await request(r.app).post('/api/v1/leads').set(tenant.auth).set('Content-Type', 'text/csv').send('lastName\nX');
      expect(lead.status).toBe(415);
    });

    it('when a CSV import has a quote opening inside an unquoted field, then 400 naming the body (csv-parse\'s INVALID_OPENING_QUOTE was a 500)', async () => {
      const res = await request(r.app).post('/api/v1/leads/import/bulk').set(tenant.auth).set('Content-Type', 'text/csv').send('lastName,email,score\nAda,ada@example.com,62"x');
      expect([res.status, res.body.error.code, res.body.error.details?.[0]?.field]).toEqual([400, 'VALIDATION_ERROR', 'body']);
    });

    it('when a route with an optional object body gets no body at all, then 400 naming the required fields (the handler read undefined: 500)', async () => {
      const res = await request(r.app).post('/api/v1/admin/auth/login');
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((detail: { field: string }) => detail.field).sort()).toEqual(['email', 'password']);
    });

    it('when the real server gets a request head past 16 KB, then 431 in the error envelope with an X-Request-Id (it was a bare status line)', async () => {
      const server = await startServer({ DATABASE_URL: adminUrl(), REDIS_URL: process.env.REDIS_URL, LOG_LEVEL: 'info', JWT_SECRET: 'fuzz-secret-that-is-long-enough-for-hs256-012345' });
      try {
        const res = await fetch(`http://127.0.0.1:${server.port}/api/v1/leads?q=${'x'.repeat(20_000)}`);
        expect(res.status).toBe(431);
        expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
        expect(await res.json()).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.any(String), requestId: res.headers.get('x-request-id') } });
        const ok = await fetch(`http://127.0.0.1:${server.port}/live`);
        expect(ok.status).toBe(200);
      } finally {
        server.child.kill('SIGKILL');
        await server.exited;
      }
    });
  });
});
