import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { Knex } from 'knex';
import { withTenant } from '../src/infra/tenant-scope';
import { seedDatabase } from '../src/infra/migrator';
import { adminUrl, runtimeKnex } from './support/test-app';
import { freePort } from './support/private-servers';
import { startServer } from './support/server-process';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const demo = require('../../seeders/support/demo-data.js') as {
  DEMO_PASSWORD: string;
  DEMO_TENANTS: Array<{ id: string; subdomain: string; plan: string; roles: string[] }>;
};

describe('demo data', () => {
  let knex: Knex;
  beforeAll(async () => {
    await seedDatabase(adminUrl());
    knex = runtimeKnex();
  });
  afterAll(() => knex.destroy());

  const countsOf = (tenantId: string) =>
    withTenant(knex, tenantId, async (trx) => {
      const counts: Record<string, number> = {};
      for (const table of ['users', 'roles', 'leads', 'contacts', 'accounts', 'deals', 'tasks', 'activities', 'tickets']) {
        const row = await trx(table).count<{ count: string }[]>({ count: '*' });
        counts[table] = Number(row[0]!.count);
      }
      return counts;
    });

  it('when seeded, then there is a tenant per plan with one user per listed role and a few hundred records', async () => {
    expect(demo.DEMO_TENANTS.map((t) => t.plan).sort()).toEqual(['enterprise', 'free', 'pro']);
    const allRoles = new Set(demo.DEMO_TENANTS.flatMap((t) => t.roles));
    expect([...allRoles].sort()).toEqual(['manager', 'read_only', 'sales_user', 'support_user', 'tenant_admin']);
    for (const tenant of demo.DEMO_TENANTS) {
      const counts = await countsOf(tenant.id);
      expect(counts.users).toBe(tenant.roles.length);
      expect(counts.roles).toBe(5);
      const records = counts.leads! + counts.contacts! + counts.accounts! + counts.deals! + counts.tasks! + counts.activities! + counts.tickets!;
      expect(records).toBeGreaterThanOrEqual(300);
    }
  });

  it('when seeded twice, then nothing is duplicated', async () => {
    const before = await countsOf(demo.DEMO_TENANTS[1]!.id);
    await seedDatabase(adminUrl());
    expect(await countsOf(demo.DEMO_TENANTS[1]!.id)).toEqual(before);
  });

  it('when a demo user signs in, then the printed password matches the stored bcrypt hash', async () => {
    const tenant = demo.DEMO_TENANTS[2]!;
    const user = await withTenant(knex, tenant.id, (trx) => trx('users').first('passwordHash', 'email'));
    expect(await bcrypt.compare(demo.DEMO_PASSWORD, user.passwordHash)).toBe(true);
    expect(bcrypt.getRounds(user.passwordHash)).toBeGreaterThanOrEqual(10);
  });
});

describe('the embedded default (npm start with no DATABASE_URL)', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-embedded-'));
  // Reachable by the `postgres` user PostgreSQL runs as under root: the data stays where it was asked to be.
  fs.chmodSync(dataDir, 0o755);
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('when started, then it runs PostgreSQL, migrates, seeds, prints the demo logins and serves; SIGTERM stops it all', async () => {
    const server = await startServer(
      // As `npm start` runs: jobs in process (this database is its own).
      { EMBEDDED_PG_DIR: path.join(dataDir, 'postgres'), EMBEDDED_PG_PORT: String(await freePort()), JOBS_IN_PROCESS: 'true' },
      { timeoutMs: 120_000 },
    );
    try {
      await server.waitFor('Demo logins, password "DemoPass123"');
      expect(server.output()).toContain('tenant.admin@initech.example.com');
      const res = await fetch(`http://127.0.0.1:${server.port}/health`);
      expect(await res.json()).toMatchObject({ status: 'healthy', checks: { database: { status: 'up' }, redis: { status: 'disabled' } } });
      expect(fs.existsSync(path.join(dataDir, 'secrets.json'))).toBe(true);
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
  }, 150_000);
});
