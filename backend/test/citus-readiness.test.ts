import { Knex } from 'knex';
import { citusViolations, globalTables, tenantTables } from './support/citus-rules';
import { ownerKnex, platformRoleKnex, runtimeKnex } from './support/test-app';

/**
 * The schema stays one Citus accepts (docs/SCALING.md), checked on whatever PostgreSQL the suite runs on;
 * against a Citus coordinator the same check also reads where every table was actually placed.
 */
describe('Citus readiness of the schema', () => {
  let owner: Knex;

  beforeAll(() => {
    owner = ownerKnex();
  });

  afterAll(async () => {
    await owner.destroy();
  });

  it("when the migrated catalogue is read against Citus's rules, then no table, key or policy breaks one", async () => {
    expect(await citusViolations(owner)).toEqual([]);
    expect(await tenantTables(owner)).toEqual(expect.arrayContaining(['users', 'refresh_tokens', 'api_keys', 'leads', 'usage_daily']));
    expect(await globalTables(owner)).toEqual(
      expect.arrayContaining(['tenants', 'plans', 'permissions', 'role_templates', 'platform_admins', 'platform_audit_logs', 'platform_settings']),
    );
    const everyTable = [...(await tenantTables(owner)), ...(await globalTables(owner))];
    expect(new Set(everyTable).size).toBe(everyTable.length);
  });

  it('when a migration adds tables that break the rules, then each broken rule is named', async () => {
    const trx = await owner.transaction();
    try {
      // One statement a query: Citus forwards DDL text to its nodes, and a node refuses several at once.
      for (const statement of [
        'create table probe_parents (tenant_id uuid not null references tenants(id), id uuid not null, primary key (tenant_id, id))',
        'alter table probe_parents enable row level security',
        'alter table probe_parents force row level security',
        `create table probe_children (
           tenant_id uuid not null references tenants(id), id uuid not null, parent_id uuid, email text,
           primary key (tenant_id, id), unique (email),
           foreign key (tenant_id, parent_id) references probe_parents (tenant_id, id) on delete set null (parent_id),
           foreign key (parent_id, tenant_id) references probe_parents (tenant_id, id))`,
        'alter table probe_children enable row level security',
        `create table probe_globals (id uuid primary key, tenant_id uuid, parent_id uuid,
           foreign key (tenant_id, parent_id) references probe_parents (tenant_id, id))`,
        'create function probe_tenant_of(uuid) returns uuid language sql stable as $$ select tenant_id from users where id = $1 $$',
        'create policy probe_reads on probe_parents using (tenant_id = probe_tenant_of(id))',
        "create trigger probe_nuller before delete on probe_parents for each row execute function app_null_references('probe_children', 'email')",
      ]) {
        await trx.raw(statement);
      }
      const problems = await citusViolations(trx);
      expect(problems).toEqual(
        expect.arrayContaining([
          'probe_children: row-level security is not forced',
          'probe_children: unique index probe_children_email_key does not include tenant_id',
          'probe_children: foreign key probe_children_tenant_id_parent_id_fkey to probe_parents has a SET NULL or SET DEFAULT action',
          'probe_children: foreign key probe_children_parent_id_tenant_id_fkey to probe_parents does not pair tenant_id with tenant_id',
          'probe_globals: foreign key probe_globals_tenant_id_parent_id_fkey to probe_parents: a reference table cannot point at a distributed table',
          'probe_parents: policy probe_reads calls probe_tenant_of(uuid), which may read a table',
          'probe_parents: trigger probe_nuller nulls probe_children.email, which has no NO ACTION key to it',
        ]),
      );
      // Nothing else is blamed (on a Citus coordinator the probes are also found unplaced, a group apart).
      expect(problems.filter((problem) => !problem.startsWith('probe_') && !problem.includes('colocation groups'))).toEqual([]);
    } finally {
      await trx.rollback();
    }
  });

  it('when the roles that write tenants update plans (they hold UPDATE so Citus lets them lock it), then no plan changes', async () => {
    for (const role of [runtimeKnex(1), platformRoleKnex()]) {
      try {
        const before = (await role.raw('select code, requests_per_hour from plans order by code')).rows;
        expect(before.length).toBeGreaterThanOrEqual(3);
        expect((await role.raw('update plans set requests_per_hour = 1')).rowCount).toBe(0);
        expect((await role.raw('select code, requests_per_hour from plans order by code')).rows).toEqual(before);
        await expect(role.raw("insert into plans (code, name, requests_per_hour) values ('x', 'x', 1)")).rejects.toThrow(/permission denied/);
      } finally {
        await role.destroy();
      }
    }
  });
});
