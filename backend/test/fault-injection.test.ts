import { randomUUID } from 'node:crypto';
import { withTenant } from '../src/infra/tenant-scope';
import { createMigratedDatabase, withClient } from './support/test-database';
import { eventually } from './support/eventually';
import { postgresBinaries, PrivatePostgres, startPrivatePostgres } from './support/private-servers';
import { ServerProcess, startServer } from './support/server-process';
import { adminUrl, ownerKnex, TEST_JWT_SECRET } from './support/test-app';

/**
 * Faults injected into real servers while the real API (backend/src/server.ts, a child process) serves:
 * a private PostgreSQL cluster whose connections are killed and which is restarted, and SIGTERM in the
 * middle of a burst of writes. Redis outages are in rate-limits.test.ts (a private redis-server stopped
 * and started again).
 */
interface Answer {
  status: number;
  body: { data?: Record<string, unknown>; error?: { code: string; message: string; requestId: string } };
  headers: Headers;
}

const call = async (port: number, method: string, path: string, token?: string, body?: unknown): Promise<Answer> => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
};

const register = async (port: number) => {
  const unique = randomUUID().slice(0, 8);
  const res = await call(port, 'POST', '/api/v1/auth/register', undefined, {
    email: `fault-${unique}@example.com`,
    password: 'Fault-Passw0rd',
    firstName: 'Fay',
    lastName: 'Fault',
    company: `Fault ${unique}`,
    plan: 'enterprise',
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(res.body)}`);
  const data = res.body.data as { tenant: { id: string }; tokens: { accessToken: string } };
  return { tenantId: data.tenant.id, token: data.tokens.accessToken };
};

/** The contract's answer while the database is away: 503 SERVICE_UNAVAILABLE in the envelope, traceable. */
function expectUnavailable(res: Answer): void {
  expect(res.status).toBe(503);
  expect(res.body.error).toEqual({ code: 'SERVICE_UNAVAILABLE', message: expect.any(String), requestId: res.headers.get('x-request-id') });
  expect(JSON.stringify(res.body)).not.toMatch(/ECONNREFUSED|57P01|terminat|stack|\.ts:/i);
}

const serverEnv = (databaseUrl: string) => ({
  DATABASE_URL: databaseUrl,
  REDIS_URL: process.env.REDIS_URL,
  LOG_LEVEL: 'info',
  JWT_SECRET: TEST_JWT_SECRET,
  RATE_LIMIT_AUTH_FAIL_OPEN: 'true',
});

(postgresBinaries() ? describe : describe.skip)('fault injection: a private PostgreSQL cluster', () => {
  let pg: PrivatePostgres;
  let databaseUrl: string;
  let server: ServerProcess;
  let tenant: { tenantId: string; token: string };
  beforeAll(async () => {
    pg = await startPrivatePostgres();
    databaseUrl = await createMigratedDatabase(pg.serverUrl, 'crm_fault');
    // As production runs it: the job engine in the same process, on the same (private) database.
    server = await startServer({ ...serverEnv(databaseUrl), JOBS_IN_PROCESS: 'true' });
    tenant = await register(server.port);
  }, 90_000);
  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    await pg?.destroy();
  });

  it("when every backend of the API's database is terminated, then requests answer 200 or a clean 503, the pool recovers by itself and the process lives on", async () => {
    for (let i = 0; i < 3; i++) expect((await call(server.port, 'GET', '/api/v1/leads', tenant.token)).status).toBe(200);
    const name = new URL(databaseUrl).pathname.slice(1);
    const killed = await withClient(pg.serverUrl, async (client) =>
      (await client.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name])).rowCount,
    );
    expect(killed).toBeGreaterThan(0);

    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await call(server.port, 'GET', '/api/v1/leads', tenant.token);
      statuses.push(res.status);
      if (res.status !== 200) expectUnavailable(res);
    }
    expect(statuses.filter((status) => status !== 200 && status !== 503)).toEqual([]);
    expect(statuses.slice(-3)).toEqual([200, 200, 200]);
    expect((await call(server.port, 'POST', '/api/v1/leads', tenant.token, { lastName: 'After kill' })).status).toBe(201);
    expect((await call(server.port, 'GET', '/ready')).status).toBe(200);
    expect(server.child.exitCode).toBeNull();
  });

  it('when the PostgreSQL server restarts, then /ready turns 503, requests answer 503 SERVICE_UNAVAILABLE, and once it is back both recover without restarting the API', async () => {
    await pg.stop('fast');
    await eventually(async () => (await call(server.port, 'GET', '/ready')).status === 503, 10_000, '/ready 503');
    expectUnavailable(await call(server.port, 'GET', '/api/v1/leads', tenant.token));
    const write = await call(server.port, 'POST', '/api/v1/leads', tenant.token, { lastName: 'While down' });
    expectUnavailable(write);
    expect(write.headers.get('retry-after')).toBe('1');
    const health = await call(server.port, 'GET', '/health');
    expect([health.status, (health.body as unknown as { status: string }).status]).toEqual([503, 'unhealthy']);

    await pg.start();
    await eventually(async () => (await call(server.port, 'GET', '/ready')).status === 200, 15_000, '/ready 200');
    await eventually(async () => (await call(server.port, 'GET', '/api/v1/leads', tenant.token)).status === 200, 10_000, 'reads again');
    const created = await call(server.port, 'POST', '/api/v1/leads', tenant.token, { lastName: 'After restart' });
    expect(created.status).toBe(201);
    const listed = await call(server.port, 'GET', '/api/v1/leads?q=restart', tenant.token);
    expect((listed.body.data as unknown as Array<{ id: string }>).map((lead) => lead.id)).toEqual([created.body.data!.id]);
    expect(server.child.exitCode).toBeNull();
    // The write refused while the server was down was not half-stored.
    expect(((await call(server.port, 'GET', '/api/v1/leads?q=down', tenant.token)).body.data as unknown as unknown[]).length).toBe(0);
  }, 60_000);
});

describe('fault injection: SIGTERM during a burst of writes', () => {
  it('when SIGTERM lands while clients write, then every acknowledged write is in the database with its audit entry, nothing unacknowledged is, and the process exits 0', async () => {
    const server = await startServer(serverEnv(adminUrl()));
    const owner = ownerKnex();
    try {
      const tenant = await register(server.port);
      const marker = `burst-${randomUUID().slice(0, 8)}`;
      const acknowledged: string[] = [];
      const refused: string[] = [];
      let sent = 0;
      let stop = false;
      const worker = async () => {
        while (!stop) {
          const n = sent++;
          try {
            const res = await call(server.port, 'POST', '/api/v1/tasks', tenant.token, { title: `${marker}-${n}` });
            if (res.status === 201) acknowledged.push(String(res.body.data!.id));
            else refused.push(`${res.status} ${res.body.error?.code}`);
          } catch {
            // The connection was refused or closed before an answer: not acknowledged.
            refused.push('connection');
            stop = true;
          }
        }
      };
      const workers = Array.from({ length: 8 }, worker);
      await eventually(() => acknowledged.length >= 30, 30_000, '30 acknowledged writes');
      server.child.kill('SIGTERM');
      await Promise.race([Promise.all(workers), server.exited.then(() => Promise.all(workers))]);
      expect(await server.exited).toBe(0);

      const stored = await withTenant(owner, tenant.tenantId, (trx) => trx('tasks').where({ tenant_id: tenant.tenantId }).where('title', 'like', `${marker}-%`).pluck('id'));
      expect(new Set(stored.map(String))).toEqual(new Set(acknowledged));
      const audited = await withTenant(owner, tenant.tenantId, (trx) =>
        trx('audit_logs').where({ tenant_id: tenant.tenantId, action: 'task.create' }).whereIn('resource_id', acknowledged).countDistinct({ n: 'resource_id' }),
      );
      expect(Number((audited[0] as { n: string }).n)).toBe(acknowledged.length);
      expect(refused.filter((reason) => reason !== 'connection' && !reason.startsWith('503'))).toEqual([]);
      expect(server.output()).toContain('"message":"shutdown complete"');
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
      await owner.destroy();
    }
  }, 60_000);
});
