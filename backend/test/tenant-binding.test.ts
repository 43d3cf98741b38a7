import { Knex } from 'knex';
import { insertSelectReturning, onCitusCoordinator } from '../src/infra/db';
import { withTenant } from '../src/infra/tenant-scope';
import { createTenantFixture, ownerKnex, runtimeKnex, TenantFixture } from './support/test-app';

/**
 * How a tenant transaction of the app's pools binds its tenant (infra/db.ts): with BEGIN in one query text
 * on plain PostgreSQL, alone in its own query on a Citus coordinator (Citus forwards a SET LOCAL's whole
 * query text to the workers). The same file runs on a Citus cluster (docs/SCALING.md), where the second
 * form is the real one; on plain PostgreSQL it is made to believe it is on a coordinator.
 */
describe('binding the tenant as a transaction begins', () => {
  let owner: Knex;
  let a: TenantFixture;
  let b: TenantFixture;
  let onCitus: boolean;

  beforeAll(async () => {
    owner = ownerKnex();
    const setup = runtimeKnex(1);
    a = await createTenantFixture(setup, ['tenant_admin']);
    b = await createTenantFixture(setup, ['tenant_admin']);
    for (const fixture of [a, b]) {
      await withTenant(setup, fixture.tenantId, (trx) => trx('leads').insert({ tenantId: fixture.tenantId, firstName: 'Bound', lastName: 'Lead' }));
    }
    await setup.destroy();
    const { rows } = await owner.raw("select exists (select 1 from pg_extension where extname = 'citus') as citus");
    onCitus = rows[0].citus;
  });

  afterAll(async () => {
    await owner.destroy();
  });

  /** The query texts a pool sends for one tenant transaction, and what it read. */
  async function bindAndRead(knex: Knex, tenantId: string) {
    const sent: string[] = [];
    knex.on('query', (query: { sql: string }) => sent.push(query.sql));
    const rows = await withTenant(knex, tenantId, async (trx) => {
      const bound = await trx.raw("select current_setting('app.tenant_id', true) as tenant");
      const leads = await trx('leads').select('tenantId');
      return { tenant: bound.rows[0].tenant as string, leadTenants: leads.map((lead) => lead.tenantId as string) };
    });
    return { sent, ...rows };
  }

  it('binds with BEGIN in one query text on plain PostgreSQL, alone on a Citus coordinator, and reads only its own rows', async () => {
    const knex = runtimeKnex(1);
    try {
      const { sent, tenant, leadTenants } = await bindAndRead(knex, a.tenantId);
      const bind = `SET LOCAL app.tenant_id = '${a.tenantId}'`;
      expect(sent.slice(0, 2)).toEqual(onCitus ? ['BEGIN', bind] : [`BEGIN; ${bind}`, expect.not.stringContaining('SET LOCAL')]);
      expect(tenant).toBe(a.tenantId);
      expect(leadTenants).toEqual([a.tenantId]);
    } finally {
      await knex.destroy();
    }
  });

  it('when the pool is on a Citus coordinator, then the SET LOCAL goes alone after BEGIN, and the tenant still reads only its own rows', async () => {
    const knex = runtimeKnex(1);
    const client = knex.client as unknown as { isCitusCoordinator(connection: unknown): Promise<boolean> };
    const asked = jest.spyOn(client, 'isCitusCoordinator').mockResolvedValue(true);
    try {
      for (const fixture of [a, b]) {
        const { sent, tenant, leadTenants } = await bindAndRead(knex, fixture.tenantId);
        expect(sent.slice(0, 2)).toEqual(['BEGIN', `SET LOCAL app.tenant_id = '${fixture.tenantId}'`]);
        expect(tenant).toBe(fixture.tenantId);
        expect(leadTenants).toEqual([fixture.tenantId]);
      }
      expect(asked).toHaveBeenCalledTimes(2);
    } finally {
      await knex.destroy();
    }
  });

  it('asks whether the database is a Citus coordinator once per pool, not once per transaction', async () => {
    const knex = runtimeKnex(1);
    const sent: string[] = [];
    knex.on('query', (query: { sql: string }) => sent.push(query.sql));
    try {
      const client = knex.client as unknown as { isCitusCoordinator(connection: unknown): Promise<boolean> };
      const asked = jest.spyOn(client, 'isCitusCoordinator');
      for (let i = 0; i < 3; i += 1) await withTenant(knex, a.tenantId, (trx) => trx('leads').count());
      expect(asked).toHaveBeenCalledTimes(3);
      expect(await asked.mock.results[0]!.value).toBe(onCitus);
      // Each answer is the first one's promise, kept.
      expect(new Set(asked.mock.results.map((result) => result.value)).size).toBe(1);
    } finally {
      await knex.destroy();
    }
  });

  it('an INSERT ... SELECT into a tenant table returns rows only on a Citus coordinator, where COPY into a shard would meet row-level security', async () => {
    const knex = runtimeKnex(1);
    try {
      expect(() => onCitusCoordinator(knex)).toThrow(/only inside a tenant transaction/);
      const { clause, inserted } = await withTenant(knex, a.tenantId, async (trx) => {
        const clause = insertSelectReturning(knex);
        const result = await trx.raw(
          `insert into leads (tenant_id, first_name, last_name)
           select ?, v.first_name, 'Staged' from jsonb_to_recordset(?::jsonb) as v(first_name text) ${clause}`,
          [a.tenantId, JSON.stringify([{ first_name: 'One' }, { first_name: 'Two' }])],
        );
        return { clause, inserted: (result as { rowCount: number }).rowCount };
      });
      expect(clause).toBe(onCitus ? 'returning 1' : '');
      // A transaction of the pool (knex's copy of its client) knows too.
      await knex.transaction(async (trx) => expect(onCitusCoordinator(trx)).toBe(onCitus));
      expect(inserted).toBe(2);
      expect(insertSelectReturning(knex, 'id')).toBe('returning id');
    } finally {
      await knex.destroy();
    }
  });
});
