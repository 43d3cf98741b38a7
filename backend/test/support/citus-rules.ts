import path from 'node:path';
import { Knex } from 'knex';
import { PROJECT_ROOT } from '../../src/lib/project-root';

interface Distribution {
  TENANT_TABLES_SQL: string;
  GLOBAL_TABLES_SQL: string;
  COORDINATOR_TABLES: string[];
  citusInstalled(knex: Knex): Promise<boolean>;
}
// The same rule the migrations place tables by: tenant tables are distributed, the others replicated.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const distribution = require(path.join(PROJECT_ROOT, 'migrations', 'support', 'distribution.js')) as Distribution;

export async function tenantTables(knex: Knex): Promise<string[]> {
  const { rows } = await knex.raw<{ rows: Array<{ name: string }> }>(distribution.TENANT_TABLES_SQL);
  return rows.map((row) => row.name);
}

export async function globalTables(knex: Knex): Promise<string[]> {
  const { rows } = await knex.raw<{ rows: Array<{ name: string }> }>(distribution.GLOBAL_TABLES_SQL);
  return rows.map((row) => row.name);
}

async function rows<T>(knex: Knex, sql: string, bindings: readonly Knex.RawBinding[] = []): Promise<T[]> {
  return (await knex.raw<{ rows: T[] }>(sql, bindings)).rows;
}

/**
 * What Citus would refuse, read from the catalogue of a plain PostgreSQL database: each entry names a
 * table (or policy, or trigger) and the rule it breaks. The rules are Citus 13's for tables distributed by
 * tenant_id next to reference tables (docs/SCALING.md):
 * - a tenant table's tenant_id is a NOT NULL uuid (one colocation group needs one column type);
 * - its primary key and every unique index or exclusion constraint include tenant_id;
 * - a foreign key between tenant tables pairs tenant_id with tenant_id, and has no SET NULL or SET DEFAULT
 *   action (Citus refuses them on a key holding the distribution column, column list or not);
 * - a global (reference) table has no foreign key to a tenant table; a role that writes a reference table
 *   pointing at another may write that one too (Citus locks it), where row-level security leaves it no row;
 * - a policy calls no function of ours that reads a table (the worker would run a distributed query
 *   inside a shard query), and row-level security is forced on every tenant table;
 * - every app_null_references trigger stands for a NO ACTION foreign key that exists.
 * On a Citus coordinator it also reads the placement: every tenant table distributed by tenant_id in one
 * colocation group, every global table a reference table (the COORDINATOR_TABLES kept on the coordinator),
 * and SET LOCAL propagated to the workers.
 */
export async function citusViolations(knex: Knex): Promise<string[]> {
  const tenants = await tenantTables(knex);
  const globals = new Set(await globalTables(knex));
  const isTenant = new Set(tenants);
  const problems: string[] = [];

  const tables = await rows<{ name: string; type: string | null; notnull: boolean | null; forced: boolean }>(
    knex,
    `select c.relname as name, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as notnull,
            c.relforcerowsecurity as forced
       from pg_class c left join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
      where c.relname = any(?) and c.relnamespace = 'public'::regnamespace`,
    [tenants],
  );
  for (const table of tables) {
    if (table.type !== 'uuid' || !table.notnull) problems.push(`${table.name}: tenant_id is not a NOT NULL uuid`);
    if (!table.forced) problems.push(`${table.name}: row-level security is not forced`);
  }

  const keys = await rows<{ table: string; name: string; primary: boolean; has_tenant: boolean }>(
    knex,
    `select i.indrelid::regclass::text as "table", i.indexrelid::regclass::text as name, i.indisprimary as primary,
            exists (select 1 from unnest(i.indkey) k join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k
                     where a.attname = 'tenant_id') as has_tenant
       from pg_index i
      where i.indrelid = any(array(select to_regclass(format('public.%I', t)) from unnest(?::text[]) t))
        and (i.indisunique or i.indisexclusion)`,
    [tenants],
  );
  for (const table of tenants) {
    if (!keys.some((key) => key.table === table && key.primary && key.has_tenant)) {
      problems.push(`${table}: no primary key including tenant_id`);
    }
  }
  for (const key of keys.filter((candidate) => !candidate.has_tenant)) {
    problems.push(`${key.table}: unique index ${key.name} does not include tenant_id`);
  }

  const foreignKeys = await rows<{
    table: string;
    target: string;
    name: string;
    paired: boolean;
    on_delete: string;
    on_update: string;
    columns: string[];
  }>(
    knex,
    `select c.conrelid::regclass::text as "table", c.confrelid::regclass::text as target, c.conname as name,
            exists (select 1 from unnest(c.conkey, c.confkey) as k(own, other)
                      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.own
                      join pg_attribute b on b.attrelid = c.confrelid and b.attnum = k.other
                     where a.attname = 'tenant_id' and b.attname = 'tenant_id') as paired,
            c.confdeltype as on_delete, c.confupdtype as on_update,
            array(select a.attname::text from unnest(c.conkey) k join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k
                   order by a.attname = 'tenant_id', a.attname) as columns
       from pg_constraint c
       -- Through pg_class, which a Citus coordinator filters: its own shards' copies of these keys stay out.
       join pg_class own on own.oid = c.conrelid
       join pg_class other on other.oid = c.confrelid
      where c.contype = 'f' and c.connamespace = 'public'::regnamespace`,
  );
  for (const key of foreignKeys) {
    const from = isTenant.has(key.table) ? 'tenant' : globals.has(key.table) ? 'global' : 'other';
    const to = isTenant.has(key.target) ? 'tenant' : globals.has(key.target) ? 'global' : 'other';
    const where = `${key.table}: foreign key ${key.name} to ${key.target}`;
    if (from === 'tenant' && to === 'tenant') {
      if (!key.paired) problems.push(`${where} does not pair tenant_id with tenant_id`);
      if (['n', 'd'].includes(key.on_delete) || ['n', 'd'].includes(key.on_update)) {
        problems.push(`${where} has a SET NULL or SET DEFAULT action`);
      }
    } else if (from === 'global' && to === 'tenant') {
      problems.push(`${where}: a reference table cannot point at a distributed table`);
    } else if (from === 'global' && to === 'global' && !distribution.COORDINATOR_TABLES.includes(key.table)) {
      problems.push(...(await lockProblems(knex, key.table, key.target)));
    } else if (from === 'other' || to === 'other') {
      problems.push(`${where}: a table that is neither a tenant table nor a global one`);
    }
  }

  const policyFunctions = await rows<{ policy: string; table: string; fn: string; language: string; body: string }>(
    knex,
    `select p.polname as policy, p.polrelid::regclass::text as "table", f.oid::regprocedure::text as fn,
            l.lanname as language, coalesce(f.prosrc, '') as body
       from pg_policy p
       join pg_depend d on d.classid = 'pg_policy'::regclass and d.objid = p.oid and d.refclassid = 'pg_proc'::regclass
       join pg_proc f on f.oid = d.refobjid
       join pg_language l on l.oid = f.prolang
       join pg_class c on c.oid = p.polrelid
      where f.pronamespace <> 'pg_catalog'::regnamespace`,
  );
  for (const use of policyFunctions) {
    if (use.language !== 'sql' || /\b(from|join)\b/i.test(use.body)) {
      problems.push(`${use.table}: policy ${use.policy} calls ${use.fn}, which may read a table`);
    }
  }

  const nullers = await rows<{ table: string; trigger: string; definition: string }>(
    knex,
    `select t.tgrelid::regclass::text as "table", t.tgname as trigger, pg_get_triggerdef(t.oid) as definition
       from pg_trigger t join pg_class c on c.oid = t.tgrelid
      where t.tgfoid = to_regproc('app_null_references') and not t.tgisinternal`,
  );
  for (const nuller of nullers) {
    const [, table, column] = /app_null_references\('([^']+)', '([^']+)'\)/.exec(nuller.definition) ?? [];
    const backed = foreignKeys.some(
      (key) => key.table === table && key.target === nuller.table && key.on_delete === 'a' && key.columns.join() === `${column},tenant_id`,
    );
    if (!backed) {
      problems.push(`${nuller.table}: trigger ${nuller.trigger} nulls ${table}.${column}, which has no NO ACTION key to it`);
    }
  }
  if (await distribution.citusInstalled(knex)) problems.push(...(await placementProblems(knex, tenants, [...globals])));
  return problems;
}

/** Writers of a reference table must be able to lock the reference tables it points at, and only lock them. */
async function lockProblems(knex: Knex, table: string, target: string): Promise<string[]> {
  const writers = await rows<{ role: string; can_lock: boolean }>(
    knex,
    `select r.rolname as role, has_any_column_privilege(r.oid, to_regclass(?), 'UPDATE') as can_lock
       from pg_roles r
      where not r.rolsuper and r.oid <> (select relowner from pg_class where oid = to_regclass(?))
        and (has_table_privilege(r.oid, to_regclass(?), 'INSERT, DELETE') or has_any_column_privilege(r.oid, to_regclass(?), 'UPDATE'))`,
    [target, table, table, table],
  );
  const problems = writers
    .filter((writer) => !writer.can_lock)
    .map((writer) => `${table}: ${writer.role} writes it but may not write ${target}, which Citus locks for that write`);
  const [guard] = await rows<{ rls: boolean; writable: boolean }>(
    knex,
    `select c.relrowsecurity as rls, exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polcmd in ('a', 'w', 'd', '*')) as writable
       from pg_class c where c.oid = to_regclass(?)`,
    [target],
  );
  if (writers.length > 0 && (!guard?.rls || guard.writable)) {
    problems.push(`${target}: writers of ${table} may update it, and no row-level security keeps them from doing so`);
  }
  return problems;
}

async function placementProblems(knex: Knex, tenants: string[], globals: string[]): Promise<string[]> {
  const placed = await rows<{ name: string; type: string; column: string; colocation: number }>(
    knex,
    `select table_name::text as name, citus_table_type as type, distribution_column as column, colocation_id as colocation
       from citus_tables`,
  );
  const placement = new Map(placed.map((row) => [row.name, row]));
  const problems: string[] = [];
  for (const table of tenants) {
    const row = placement.get(table);
    if (row?.type !== 'distributed' || row.column !== 'tenant_id') problems.push(`${table}: not distributed by tenant_id`);
  }
  const groups = new Set(tenants.map((table) => placement.get(table)?.colocation));
  if (groups.size > 1) problems.push(`tenant tables are in ${groups.size} colocation groups, not one`);
  for (const table of globals) {
    const type = placement.get(table)?.type;
    if (!distribution.COORDINATOR_TABLES.includes(table) && type !== 'reference') problems.push(`${table}: not a reference table`);
    if (distribution.COORDINATOR_TABLES.includes(table) && type !== 'local' && type !== undefined) {
      problems.push(`${table}: placed on the workers, not kept on the coordinator`);
    }
  }
  const [setting] = await rows<{ propagate: string; mode: string }>(
    knex,
    "select current_setting('citus.propagate_set_commands') as propagate, current_setting('citus.multi_shard_modify_mode') as mode",
  );
  if (setting?.propagate !== 'local') problems.push('citus.propagate_set_commands is not local: workers would not see the tenant');
  if (setting?.mode !== 'sequential') problems.push('citus.multi_shard_modify_mode is not sequential: sign-up would fail');
  return problems;
}
