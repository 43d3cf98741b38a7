import request from 'supertest';
import { seedDatabase } from '../src/infra/migrator';
import { responseProblem } from './support/openapi-validation';
import { ServerProcess, startServer } from './support/server-process';
import { createMigratedDatabase, dropDatabase, TEST_ENV } from './support/test-database';

/**
 * docs/API.md, "An integrator's first hour", step by step against the real entry point (as `npm start` runs
 * it, with the demo data): each `// Step n` below is the doc's step n, so what the doc says is what the
 * server does. It gets a database of its own because it changes the demo tenants, which demo-data.test.ts
 * counts.
 */
const DEMO = { email: 'tenant.admin@globex.example.com', password: 'DemoPass123' };

interface Answer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON as the doc's commands print it
  text: string;
}

describe("docs/API.md: an integrator's first hour", () => {
  let databaseUrl: string;
  let server: ServerProcess;
  let base: string;

  beforeAll(async () => {
    databaseUrl = await createMigratedDatabase(process.env[TEST_ENV.serverUrl]!, 'crm_walkthrough');
    await seedDatabase(databaseUrl);
    server = await startServer({ DATABASE_URL: databaseUrl, REDIS_URL: process.env.REDIS_URL, LOG_LEVEL: 'info' });
    base = `http://127.0.0.1:${server.port}/api/v1`;
  }, 120_000);
  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  /** One curl command: the answer, checked against the OpenAPI document like every supertest answer. */
  async function curl(method: string, path: string, options: { headers?: Record<string, string>; json?: unknown; csv?: string } = {}): Promise<Answer> {
    const headers = { ...options.headers };
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.csv !== undefined) {
      headers['Content-Type'] = 'text/csv';
      body = options.csv;
    }
    const res = await fetch(`${base}${path}`, { method, headers, body });
    const text = await res.text();
    const json = /json/.test(res.headers.get('content-type') ?? '') && text ? JSON.parse(text) : undefined;
    const answer: Answer = { status: res.status, headers: res.headers, body: json, text };
    const problem = responseProblem(method, `/api/v1${path}`, {
      status: res.status,
      headers: Object.fromEntries(res.headers),
      text,
      body: json,
    } as unknown as request.Response);
    if (problem) throw new Error(`OpenAPI: ${problem}`);
    return answer;
  }
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  it('when a newcomer follows it from top to bottom, then every step answers as the doc says', async () => {
    const n = Date.now();

    // Step 1: register a new organization.
    const registered = await curl('POST', '/auth/register', {
      json: { email: `owner-${n}@example.com`, password: 'Sup3rSecret', firstName: 'Olga', lastName: 'Owner', company: `Example ${n}` },
    });
    expect(registered.status).toBe(201);
    expect(registered.body.data.tenant).toMatchObject({ name: `Example ${n}`, subdomain: `example-${n}`, plan: 'free' });
    expect(registered.body.data.user.role.key).toBe('tenant_admin');

    // Step 2: log in as the demo tenant admin of Globex (pro plan).
    const login = await curl('POST', '/auth/login', { json: DEMO });
    expect(login.status).toBe(200);
    expect(login.body.data.tenant).toMatchObject({ subdomain: 'globex', plan: 'pro' });
    let token: string = login.body.data.tokens.accessToken;
    const refreshToken: string = login.body.data.tokens.refreshToken;
    expect(login.headers.get('set-cookie')).toMatch(/^crm_refresh=/);

    // Step 3: create a lead with an Idempotency-Key, then retry the very same request.
    const lead = { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', company: 'Analytical Engines' };
    const create = () => curl('POST', '/leads', { headers: { ...bearer(token), 'Idempotency-Key': `walkthrough-lead-${n}` }, json: lead });
    const first = await create();
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const retry = await create();
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body.data.id).toBe(first.body.data.id);

    // Step 4: list newest first, two at a time, and follow nextCursor.
    const page1 = await curl('GET', '/leads?limit=2&sort=-createdAt', { headers: bearer(token) });
    expect(page1.status).toBe(200);
    expect(page1.body.data[0].id).toBe(first.body.data.id);
    expect(page1.body.pagination).toMatchObject({ limit: 2, hasMore: true });
    const cursor: string = page1.body.pagination.nextCursor;
    const page2 = await curl('GET', `/leads?limit=2&sort=-createdAt&cursor=${cursor}`, { headers: bearer(token) });
    expect(page2.status).toBe(200);
    expect(page2.body.data).toHaveLength(2);
    const seen = new Set(page1.body.data.map((row: { id: string }) => row.id));
    expect(page2.body.data.some((row: { id: string }) => seen.has(row.id))).toBe(false);

    // Step 5: import a small CSV: a dry run first, then for real, matching existing leads by email.
    const csv = 'firstName,lastName,email,company\nGrace,Hopper,grace@example.com,US Navy\nAlan,Turing,alan@example.com,Bletchley Park\n';
    const dryRun = await curl('POST', '/leads/import/bulk?dryRun=true', { headers: bearer(token), csv });
    expect(dryRun.status).toBe(200);
    expect(dryRun.body.data).toEqual({ importId: null, dryRun: true, created: 2, updated: 0, failed: 0, errors: [] });
    const imported = await curl('POST', '/leads/import/bulk?upsertBy=email', { headers: bearer(token), csv });
    expect(imported.status).toBe(201);
    expect(imported.body.data).toMatchObject({ dryRun: false, created: 2, updated: 0, failed: 0, errors: [] });
    expect(imported.body.data.importId).toEqual(expect.any(String));
    const again = await curl('POST', '/leads/import/bulk?upsertBy=email', { headers: bearer(token), csv });
    expect(again.body.data).toMatchObject({ created: 0, updated: 2 });

    // Step 6: export the leads that match a search as CSV.
    const exported = await curl('GET', '/leads/export/csv?q=%22grace%40example.com%22', { headers: bearer(token) });
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(exported.headers.get('content-disposition')).toMatch(/^attachment; filename="leads-\d{8}\.csv"$/);
    const [header, ...rows] = exported.text.trim().split('\n');
    expect(header!.split(',').slice(0, 4)).toEqual(['id', 'firstName', 'lastName', 'email']);
    expect(rows.some((row) => row.includes(',Grace,Hopper,grace@example.com,'))).toBe(true);

    // Step 7: create a read-only API key and use it.
    const key = await curl('POST', '/api-keys', { headers: bearer(token), json: { name: 'walkthrough', role: 'read_only' } });
    expect(key.status).toBe(201);
    const apiKey: string = key.body.data.key;
    expect(apiKey).toMatch(/^crm_live_/);
    const withKey = await curl('GET', '/leads?limit=1', { headers: { 'X-API-Key': apiKey } });
    expect(withKey.status).toBe(200);
    const writeWithKey = await curl('POST', '/leads', { headers: { 'X-API-Key': apiKey }, json: { firstName: 'Nope' } });
    expect(writeWithKey.status).toBe(403);
    expect(writeWithKey.body.error.code).toBe('FORBIDDEN');

    // Step 8: refresh: a new pair, the old refresh token is spent.
    const refreshed = await curl('POST', '/auth/refresh', { json: { refreshToken } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.data.tokens.refreshToken).not.toBe(refreshToken);
    token = refreshed.body.data.tokens.accessToken;
    expect((await curl('GET', '/auth/me', { headers: bearer(token) })).status).toBe(200);

    // Step 9: a 429: sign-in allows 5 attempts per IP and email in 15 minutes; the 6th waits Retry-After seconds.
    const wrong = { email: `nobody-${n}@example.com`, password: 'wrong-password' };
    for (let attempt = 1; attempt <= 5; attempt += 1) expect((await curl('POST', '/auth/login', { json: wrong })).status).toBe(401);
    const limited = await curl('POST', '/auth/login', { json: wrong });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(900);

    // Step 10: the caller's own budget.
    const budget = await curl('GET', '/rate-limit', { headers: bearer(token) });
    expect(budget.status).toBe(200);
    expect(budget.body.data).toMatchObject({ plan: 'pro', limit: 1000, windowSeconds: 3600 });
    expect(budget.body.data.remaining).toBeLessThan(1000);

    // Step 11: log out; the access token stops working at once.
    const logout = await curl('POST', '/auth/logout', { headers: bearer(token) });
    expect(logout.status).toBe(204);
    const after = await curl('GET', '/auth/me', { headers: bearer(token) });
    expect(after.status).toBe(401);
  });
});
