import { Knex } from 'knex';
import request from 'supertest';
import { registerTenant } from './support/api-fixtures';
import { eventually } from './support/eventually';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

describe('concurrent imports of an organization across instances', () => {
  let first: TestApp;
  let second: TestApp;
  let owner: Knex;

  beforeAll(() => {
    // Two instances of one deployment: each allows one import per organization, the database one in all.
    first = buildTestApp({ env: { IMPORTS_PER_TENANT: '1' } });
    second = buildTestApp({ env: { IMPORTS_PER_TENANT: '1' } });
    owner = ownerKnex();
  });
  afterAll(async () => {
    await owner.destroy();
    await first.close();
    await second.close();
  });

  const rows = (n: number, name: string) => Array.from({ length: n }, (_, i) => ({ lastName: `${name} ${i}` }));
  /** The import slots held right now, as PostgreSQL's lock table shows them (two-key advisory locks). */
  const heldSlots = async () => Number((await owner.raw("select count(*)::int as n from pg_locks where locktype = 'advisory' and objsubid = 2 and granted and database = (select oid from pg_database where datname = current_database())")).rows[0].n);

  it('when an import of the organization is running on one instance, then a second on another answers 429 with Retry-After; other organizations import meanwhile, and the slot is free again once it ends', async () => {
    const tenant = await registerTenant(first.app);
    const other = await registerTenant(first.app);
    // Holds every writer of leads, so the first import stops inside its transaction, slot taken.
    const blocker = await owner.transaction();
    let running: Promise<request.Response> | undefined;
    let otherImport: Promise<request.Response> | undefined;
    try {
      await blocker.raw('lock table leads in share mode');
      running = request(first.app).post('/api/v1/leads/import/bulk').set(tenant.auth).send(rows(10, 'First')).then((res) => res);
      await eventually(async () => (await heldSlots()) === 1, 15_000, 'the first import holding its slot');

      const refused = await request(second.app).post('/api/v1/leads/import/bulk').set(tenant.auth).send(rows(3, 'Second'));
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('RATE_LIMITED');
      expect(refused.body.error.message).toMatch(/across all instances/);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      const dryRun = await request(second.app).post('/api/v1/leads/import/bulk').query({ dryRun: true }).set(tenant.auth).send(rows(3, 'Dry'));
      expect(dryRun.status).toBe(429);

      // The cap is the organization's: another one's import takes a slot of its own (and waits for the table like any writer).
      otherImport = request(second.app).post('/api/v1/leads/import/bulk').set(other.auth).send(rows(2, 'Other')).then((res) => res);
      await eventually(async () => (await heldSlots()) === 2, 15_000, "the other organization's import holding its slot");
    } finally {
      await blocker.commit();
    }
    expect((await running!).status).toBe(201);
    expect((await otherImport!).status).toBe(201);
    expect(await heldSlots()).toBe(0);

    const after = await request(second.app).post('/api/v1/leads/import/bulk').set(tenant.auth).send(rows(3, 'After'));
    expect(after.status).toBe(201);
    expect(after.body.data.created).toBe(3);
    const stored = await owner('leads').where({ tenant_id: tenant.tenantId }).count<[{ count: string }]>('* as count');
    expect(Number(stored[0]!.count)).toBe(13);
  });
});
