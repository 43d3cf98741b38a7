import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { Knex } from 'knex';
import pg from 'pg';
import { jobsCredentials, platformCredentials, runtimeCredentials } from '../src/infra/db-roles';
import { eventually } from './support/eventually';
import { ServerProcess, startServer } from './support/server-process';
import { adminUrl, buildTestApp, jobsRoleKnex, platformRoleKnex, runtimeKnex, TestApp } from './support/test-app';
import { registerTenant } from './support/api-fixtures';
import { withTenant } from '../src/infra/tenant-scope';
import { PROJECT_ROOT } from '../src/lib/project-root';

interface Connection {
  usename: string;
  application_name: string;
  superuser: boolean;
  bypassrls: boolean;
  owns_schema: boolean;
  owns_table: boolean;
}

/**
 * Every connection to this file's database opened since `since`, but the asking one, with what its role
 * may do: superuser, BYPASSRLS, or (by membership) owner of a schema or table the application uses.
 */
async function connectionsSince(client: pg.Client, since: Date): Promise<Connection[]> {
  const { rows } = await client.query<Connection>(
    `select a.usename::text, a.application_name, r.rolsuper as superuser, r.rolbypassrls as bypassrls,
            exists (select 1 from pg_namespace n where n.nspname in ('public', 'graphile_worker')
                     and pg_has_role(a.usesysid, n.nspowner, 'USAGE')) as owns_schema,
            exists (select 1 from pg_class c where c.relnamespace in ('public'::regnamespace, 'graphile_worker'::regnamespace)
                     and c.relkind in ('r', 'p', 'v') and pg_has_role(a.usesysid, c.relowner, 'USAGE')) as owns_table
       from pg_stat_activity a join pg_roles r on r.oid = a.usesysid
      where a.datname = current_database() and a.pid <> pg_backend_pid() and a.backend_start >= $1
      order by a.usename, a.application_name`,
    [since],
  );
  return rows;
}

function postJson(port: number, path: string, body: object): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function getStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

describe('database privileges', () => {
  describe('when the server runs (tenant requests, staff sign-in and jobs in one process)', () => {
    let server: ServerProcess;
    let client: pg.Client;
    let since: Date;
    const email = 'privileges-root@example.com';
    const password = 'Privileges-Passw0rd-1';

    beforeAll(async () => {
      client = new pg.Client({ connectionString: adminUrl() });
      await client.connect();
      since = (await client.query<{ now: Date }>('select now()')).rows[0]!.now;
      server = await startServer({
        DATABASE_URL: adminUrl(),
        REDIS_URL: process.env.REDIS_URL,
        LOG_LEVEL: 'info',
        JOBS_IN_PROCESS: 'true',
        SUPER_ADMIN_EMAIL: email,
        SUPER_ADMIN_PASSWORD: password,
      });
    }, 90_000);

    afterAll(async () => {
      if (server.child.exitCode === null) {
        server.interrupt();
        await server.exited;
      }
      await client.end();
    });

    it('then every connection it opens is the runtime, platform or jobs login, none superuser, BYPASSRLS or owner of a schema or table', async () => {
      expect(await getStatus(server.port, '/ready')).toBe(200);
      expect(await postJson(server.port, '/api/v1/admin/auth/login', { email, password })).toBe(200);
      const expected = [runtimeCredentials(adminUrl()).user, platformCredentials(adminUrl()).user, jobsCredentials(adminUrl()).user].sort();
      let seen: Connection[] = [];
      // The job engine connects as it starts; the runtime and platform pools on the requests above.
      await eventually(async () => {
        seen = await connectionsSince(client, since);
        return expected.every((user) => seen.some((connection) => connection.usename === user));
      }, 20_000, 'the runtime, platform and jobs logins connected');
      expect([...new Set(seen.map((connection) => connection.usename))].sort()).toEqual(expected);
      for (const connection of seen) {
        expect(connection).toEqual({ ...connection, superuser: false, bypassrls: false, owns_schema: false, owns_table: false });
      }
      // The job engine started on these roles (crontab, the audit sealer's first sweep) without a refusal.
      expect(server.output()).not.toMatch(/"level":"error"|permission denied|row-level security/);
    });
  });

  describe("when the server is handed its logins' URLs (npm run db:serving-urls) instead of DATABASE_URL", () => {
    it('then it serves and signs staff in without ever knowing the owner URL', async () => {
      const printed = execFileSync(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'backend', 'src', 'cli', 'serving-urls.ts')], {
        cwd: PROJECT_ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: adminUrl() },
      }).toString();
      const urls = Object.fromEntries(
        printed
          .trim()
          .split('\n')
          .map((line) => /^export (\w+)='([^']*)'$/.exec(line)!)
          .map((match) => [match[1]!, match[2]!]),
      );
      expect(Object.keys(urls).sort()).toEqual(['APP_DATABASE_URL', 'JOBS_DATABASE_URL', 'PLATFORM_DATABASE_URL']);
      expect(new URL(urls.JOBS_DATABASE_URL!).username).toBe(jobsCredentials(adminUrl()).user);
      const staff = { email: 'serving-urls-root@example.com', password: 'Serving-Urls-Passw0rd' };
      const server = await startServer({
        ...urls,
        NODE_ENV: 'production',
        REDIS_URL: process.env.REDIS_URL,
        LOG_LEVEL: 'info',
        JOBS_IN_PROCESS: 'true',
        JWT_SECRET: 'x'.repeat(48),
        ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
        SUPER_ADMIN_EMAIL: staff.email,
        SUPER_ADMIN_PASSWORD: staff.password,
      });
      try {
        expect(await getStatus(server.port, '/ready')).toBe(200);
        expect(await postJson(server.port, '/api/v1/admin/auth/login', staff)).toBe(200);
        expect(server.output()).not.toMatch(/"level":"error"/);
      } finally {
        server.interrupt();
        await server.exited;
      }
    }, 90_000);
  });

  describe('when the runtime role (tenant requests) reaches for the platform', () => {
    let t: TestApp;
    let runtime: Knex;
    let tenantId: string;

    beforeAll(async () => {
      t = buildTestApp();
      runtime = runtimeKnex();
      tenantId = (await registerTenant(t.app)).tenantId;
    });

    afterAll(async () => {
      await runtime.destroy();
      await t.close();
    });

    it('then it may not read staff accounts or their sessions', async () => {
      for (const table of ['platformAdmins', 'platformAdminSessions', 'platformAdminRefreshTokens', 'platformAdminRecoveryCodes', 'platformMfaChallenges']) {
        await expect(runtime(table).select('id').limit(1)).rejects.toMatchObject({ code: '42501' });
      }
      await expect(runtime('platformAdmins').insert({ email: 'mallory@example.com', passwordHash: 'x', role: 'super_admin' })).rejects.toMatchObject({ code: '42501' });
    });

    it("then it neither sees nor clears staff sign-in lockouts, while it keeps tenant users' own", async () => {
      const platform = platformRoleKnex();
      const accountHash = randomUUID();
      try {
        await platform('signInThrottles').insert([
          { scope: 'staff_login', accountHash, attempts: 9, lockedUntil: new Date(Date.now() + 600_000) },
          { scope: 'user_login', accountHash, attempts: 1 },
        ]);
        expect(await runtime('signInThrottles').where({ accountHash }).pluck('scope')).toEqual(['user_login']);
        expect(await runtime('signInThrottles').where({ accountHash }).delete()).toBe(1);
        await expect(runtime('signInThrottles').insert({ scope: 'staff_login', accountHash: randomUUID() })).rejects.toThrow(/row-level security/);
        expect(await platform('signInThrottles').where({ accountHash }).pluck('scope')).toEqual(['staff_login']);
      } finally {
        await platform('signInThrottles').where({ accountHash }).delete();
        await platform.destroy();
      }
    });

    it('then it may neither read nor write the platform audit log directly', async () => {
      await expect(runtime('platformAuditLogs').select('id').limit(1)).rejects.toMatchObject({ code: '42501' });
      await expect(runtime('platformAuditLogs').insert({ actorType: 'system', action: 'forged' })).rejects.toMatchObject({ code: '42501' });
    });

    it("then it may not change its own tenant's plan, status or billing status, but may change its settings", async () => {
      await withTenant(runtime, tenantId, async (trx) => {
        await expect(trx.transaction((inner) => inner('tenants').where({ id: tenantId }).update({ plan: 'enterprise' }))).rejects.toMatchObject({ code: '42501' });
        await expect(trx.transaction((inner) => inner('tenants').where({ id: tenantId }).update({ status: 'active' }))).rejects.toMatchObject({ code: '42501' });
        await expect(trx.transaction((inner) => inner('tenants').where({ id: tenantId }).update({ billingStatus: 'active' }))).rejects.toMatchObject({ code: '42501' });
        expect(await trx('tenants').where({ id: tenantId }).update({ impersonationOptOut: true })).toBe(1);
      });
    });

    it('then its platform audit function writes only entries about the bound tenant', async () => {
      const other = (await registerTenant(t.app)).tenantId;
      await withTenant(runtime, tenantId, async (trx) => {
        const entry = { actor_id: '00000000-0000-4000-8000-000000000000', action: 'forged', tenant_id: other, target_type: 'tenant' };
        await expect(trx.transaction((inner) => inner.raw('select app_record_platform_audit(?::jsonb)', [JSON.stringify([entry])]))).rejects.toThrow(
          /about that tenant/,
        );
      });
    });
  });

  describe('when the jobs role runs', () => {
    it('then it may not read tenant data beyond the audit log, nor write tenants', async () => {
      const jobs = jobsRoleKnex();
      try {
        await expect(jobs('users').select('id').limit(1)).rejects.toMatchObject({ code: '42501' });
        await expect(jobs('platform_admins').select('id').limit(1)).rejects.toMatchObject({ code: '42501' });
        await expect(jobs('tenants').delete()).rejects.toMatchObject({ code: '42501' });
        await expect(jobs('platform_audit_logs').insert({ actor_type: 'system', action: 'forged' })).rejects.toMatchObject({ code: '42501' });
      } finally {
        await jobs.destroy();
      }
    });
  });
});
