import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { registerTenant, Registered } from './support/api-fixtures';
import { readingStreamsBriefly } from './support/route-catalogue';
import { buildTestApp, TestApp } from './support/test-app';

type Method = 'get' | 'post' | 'patch' | 'put' | 'delete';
interface Operation {
  method: Method;
  path: string;
  security: boolean;
  /** The answer's media type: a live stream is read only briefly. */
  contentType?: string;
}

/**
 * Walks every operation of the served OpenAPI document (so a new route is swept without anyone
 * listing it) as tenant A, with tenant B's ids in every path parameter. Nothing of B may come back,
 * a foreign id is never found, and no request makes the server fail.
 */
describe('cross-tenant sweep over every documented route', () => {
  let t: TestApp;
  let a: Registered;
  let b: Registered;
  const bIds = new Map<string, string>();
  const bMarker = `Secret-of-B-${randomUUID().slice(0, 8)}`;
  let operations: Operation[] = [];

  beforeAll(async () => {
    t = buildTestApp();
    a = await registerTenant(t.app);
    b = await registerTenant(t.app);
    const make = async (path: string, body: Record<string, unknown>) => {
      const res = await request(t.app).post(`/api/v1${path}`).set(b.auth).send(body);
      if (res.status !== 201) throw new Error(`seeding ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.data.id ?? res.body.data.apiKey?.id ?? res.body.data.user?.id;
    };
    const account = await make('/accounts', { name: bMarker });
    const contact = await make('/contacts', { lastName: bMarker, email: `${bMarker.toLowerCase()}@example.com`, accountId: account });
    bIds.set('accounts', account);
    bIds.set('contacts', contact);
    bIds.set('leads', await make('/leads', { lastName: bMarker, company: bMarker }));
    bIds.set('deals', await make('/deals', { name: bMarker, accountId: account, amount: 1234 }));
    bIds.set('tasks', await make('/tasks', { title: bMarker }));
    bIds.set('activities', await make('/activities', { type: 'note', subject: bMarker }));
    bIds.set('tickets', await make('/tickets', { subject: bMarker, contactId: contact }));
    bIds.set('roles', await make('/roles', { name: bMarker, permissions: ['leads:read'] }));
    bIds.set('users', await make('/users', { email: `member-${bMarker.toLowerCase()}@example.com`, firstName: bMarker, lastName: bMarker, role: 'manager' }));
    bIds.set('api-keys', await make('/api-keys', { name: bMarker, role: 'read_only' }));
    const sessions = await request(t.app).get('/api/v1/sessions').set(b.auth);
    bIds.set('sessions', sessions.body.data[0].id);
    const imported = await request(t.app).post('/api/v1/leads/import/bulk').set(b.auth).send([{ lastName: bMarker }]);
    bIds.set('imports', imported.body.data.importId);

    const spec = (await request(t.app).get('/api/v1/openapi.json')).body as {
      paths: Record<string, Record<string, { security?: unknown[]; responses?: Record<string, { content?: Record<string, unknown> }> }>>;
    };
    operations = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([method]) => ['get', 'post', 'patch', 'put', 'delete'].includes(method))
        .map(([method, operation]) => ({
          method: method as Method,
          path,
          security: (operation.security ?? []).length > 0,
          contentType: Object.keys(operation.responses?.['200']?.content ?? {})[0],
        })),
    );
  });
  afterAll(() => t.close());

  const everyIdOfB = () => [...bIds.values(), b.tenantId, b.userId];
  const foreignIdFor = (path: string) => bIds.get(path.split('/')[3] ?? '') ?? randomUUID();
  const concrete = (path: string) => path.replace(/\{[^}]+\}/g, () => foreignIdFor(path));

  it('the sweep covers the tenant routes', () => {
    const swept = operations.filter((operation) => operation.security && operation.path.startsWith('/api/v1/') && !operation.path.startsWith('/api/v1/admin'));
    expect(swept.length).toBeGreaterThan(60);
  });

  it("when tenant A calls every route with tenant B's ids, then nothing of B comes back, foreign ids are not found, and nothing fails", async () => {
    const problems: string[] = [];
    // Reads first: A's own refused writes are audited with the ids A sent, which A's audit log then shows.
    const ordered = [...operations].sort((x, y) => Number(x.method !== 'get') - Number(y.method !== 'get'));
    for (const operation of ordered) {
      if (!operation.security || !operation.path.startsWith('/api/v1/') || operation.path.startsWith('/api/v1/admin')) continue;
      if (operation.path === '/api/v1/auth/logout') continue;
      const url = concrete(operation.path);
      const res = await readingStreamsBriefly(request(t.app)[operation.method](url), { response: { contentType: operation.contentType } })
        .set(a.auth)
        .send(operation.method === 'get' || operation.method === 'delete' ? undefined : {});
      const text = JSON.stringify(res.body) + (res.text ?? '');
      const where = `${operation.method.toUpperCase()} ${operation.path} -> ${res.status}`;
      if (res.status >= 500) problems.push(`${where}: server error`);
      for (const id of everyIdOfB()) if (text.includes(id)) problems.push(`${where}: leaked B id ${id}`);
      if (text.includes(bMarker)) problems.push(`${where}: leaked B data`);
      // Record ids (`{id}`, `{dealId}`): a supplier's part number names no record of B, and is not one.
      const hasForeignId = /\{(id|\w+Id)\}/.test(operation.path);
      if (hasForeignId && res.status >= 200 && res.status < 300) problems.push(`${where}: a foreign id was accepted`);
      if (hasForeignId && (operation.method === 'get' || operation.method === 'delete') && res.status !== 404) {
        problems.push(`${where}: a foreign id must be 404`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("when tenant A lists and searches with B's words, then B's records never appear", async () => {
    for (const resource of ['leads', 'contacts', 'accounts', 'deals', 'tasks', 'activities', 'tickets']) {
      const res = await request(t.app).get(`/api/v1/${resource}?q=${bMarker}`).set(a.auth);
      expect({ resource, status: res.status, data: res.body.data }).toEqual({ resource, status: 200, data: [] });
      const everything = await request(t.app).get(`/api/v1/${resource}?limit=500&includeDeleted=true`).set(a.auth);
      expect(JSON.stringify(everything.body)).not.toContain(bMarker);
    }
  });
});
