/**
 * The backup and restore drill of docs/OPERATIONS.md, as an operator runs it: a database with data is
 * backed up with `npm run backup`, restored with `npm run restore` into a fresh PostgreSQL cluster, migrated,
 * and the real API started on it with the same keys: sign-in, lists, search, a webhook's stored secret
 * (it still signs) and the audit chain's verification all work.
 */
import { execFile } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { migrateDatabase } from '../src/infra/migrator';
import { PROJECT_ROOT } from '../src/lib/project-root';
import { eventually } from './support/eventually';
import { postgresBinaries, PrivatePostgres, startPrivatePostgres } from './support/private-servers';
import { ServerProcess, startServer } from './support/server-process';
import { createMigratedDatabase, databaseUrl, dropDatabase, TEST_ENV } from './support/test-database';
import { TEST_JWT_SECRET } from './support/test-app';
import { WebhookReceiver } from './support/webhook-receiver';

const run = promisify(execFile);
const ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');
const CREDENTIALS_KEYS = `k1:${Buffer.alloc(32, 9).toString('base64')}`;

interface Answer {
  status: number;
  body: { data?: unknown; error?: { code: string } };
}

const call = async (port: number, method: string, urlPath: string, token?: string, body?: unknown): Promise<Answer> => {
  const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
};

const serverEnv = (url: string) => ({
  DATABASE_URL: url,
  REDIS_URL: process.env.REDIS_URL,
  JWT_SECRET: TEST_JWT_SECRET,
  ENCRYPTION_KEY,
  CREDENTIALS_KEYS,
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
  JOBS_IN_PROCESS: 'true',
  RATE_LIMIT_AUTH_FAIL_OPEN: 'true',
});

(postgresBinaries() ? describe : describe.skip)('backup and restore drill', () => {
  let source: string;
  let target: PrivatePostgres;
  let backupDir: string;
  let receiver: WebhookReceiver;
  let server: ServerProcess | undefined;
  const unique = randomUUID().slice(0, 8);
  const admin = { email: `drill-${unique}@example.com`, password: 'Drill-Passw0rd' };
  let webhook: { id: string; secret: string };

  const stopServer = async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    server = undefined;
  };

  beforeAll(async () => {
    receiver = await new WebhookReceiver().start();
    source = await createMigratedDatabase(process.env[TEST_ENV.serverUrl]!, 'crm_drill');
    backupDir = mkdtempSync(path.join(os.tmpdir(), 'crm-backup-'));
    server = await startServer(serverEnv(source));
    const registered = await call(server.port, 'POST', '/api/v1/auth/register', undefined, {
      ...admin,
      firstName: 'Dora',
      lastName: 'Drill',
      company: `Drill ${unique}`,
      plan: 'enterprise',
    });
    expect(registered.status).toBe(201);
    const token = (registered.body.data as { tokens: { accessToken: string } }).tokens.accessToken;
    for (const lastName of ['Archimedes', 'Brahe', 'Curie']) expect((await call(server.port, 'POST', '/api/v1/leads', token, { lastName, company: 'Backups Ltd' })).status).toBe(201);
    const hook = await call(server.port, 'POST', '/api/v1/webhooks', token, { url: receiver.url('/restored'), events: ['lead.created'] });
    webhook = hook.body.data as { id: string; secret: string };
    // Everything sealed into the chain before the backup, so the restored chain verifies whole.
    await eventually(async () => ((await call(server!.port, 'GET', '/api/v1/audit-logs/verify', token)).body.data as { pending: number }).pending === 0, 30_000, 'audit sealed');
    await stopServer();
  }, 180_000);
  afterAll(async () => {
    await stopServer();
    await receiver.stop();
    await target?.destroy();
    if (source) await dropDatabase(source);
    rmSync(backupDir, { recursive: true, force: true });
  });

  it('when the backup is restored into a fresh cluster and the API started on it, then sign-in, lists, search, webhook secrets and audit verification work', async () => {
    await run('npm', ['run', '--silent', 'backup', '--', source, backupDir], { cwd: PROJECT_ROOT });
    expect(readdirSync(backupDir).sort()).toEqual(['SHA256SUMS', 'crm.dump', 'roles.sql']);

    target = await startPrivatePostgres();
    const name = new URL(source).pathname.slice(1);
    await run('npm', ['run', '--silent', 'restore', '--', target.serverUrl, backupDir, name], { cwd: PROJECT_ROOT });
    const restored = databaseUrl(target.serverUrl, name);
    expect(await migrateDatabase(restored)).toEqual([]);
    server = await startServer(serverEnv(restored));

    const signIn = await call(server.port, 'POST', '/api/v1/auth/login', undefined, admin);
    expect(signIn.status).toBe(200);
    const token = (signIn.body.data as { tokens: { accessToken: string } }).tokens.accessToken;

    const leads = await call(server.port, 'GET', '/api/v1/leads?sort=createdAt', token);
    expect((leads.body.data as Array<{ lastName: string }>).map((lead) => lead.lastName)).toEqual(['Archimedes', 'Brahe', 'Curie']);
    const found = await call(server.port, 'GET', '/api/v1/leads?q=Brahe', token);
    expect((found.body.data as Array<{ lastName: string }>).map((lead) => lead.lastName)).toEqual(['Brahe']);

    // The stored secret decrypts with the same keys and still signs what the receiver checks.
    expect((await call(server.port, 'POST', `/api/v1/webhooks/${webhook.id}/ping`, token)).status).toBe(202);
    await eventually(() => receiver.at('/restored').some((request) => request.body.includes('"ping"')), 30_000, 'ping delivered');
    const ping = receiver.at('/restored').find((request) => request.body.includes('"ping"'))!;
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(ping.headers['webhook-signature']))!;
    expect(createHmac('sha256', webhook.secret).update(`${t}.${ping.body}`).digest('hex')).toBe(v1);

    const verify = await call(server.port, 'GET', '/api/v1/audit-logs/verify', token);
    expect(verify.body.data).toMatchObject({ valid: true });
    expect((verify.body.data as { sealed: number }).sealed).toBeGreaterThan(3);
  }, 180_000);
});
