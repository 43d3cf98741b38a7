'use strict';
/**
 * Where each table lives when the database is a Citus coordinator (docs/SCALING.md), decided as the table
 * is created so that foreign keys can follow: a tenant table is distributed by `tenant_id`, all of them in
 * one colocation group (a tenant's rows of every table on the same node, joined and constrained locally);
 * a global table is a reference table (a copy on every node), but for the few COORDINATOR_TABLES. On plain
 * PostgreSQL nothing happens here.
 *
 * Which table is which is one rule, TENANT_TABLES_SQL: a table of the public schema with a `tenant_id`
 * column under row-level security. The readiness test (backend/test/citus-readiness.test.ts) checks the
 * catalogue against Citus's rules with that same rule, without a cluster.
 */
const { quoteIdent } = require('./sql-quote');

/** Tenant tables: tenant_id under row-level security (platform_audit_logs names tenants but is global). */
const TENANT_TABLES_SQL = `
  select c.relname as name from pg_class c
   where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and c.relrowsecurity
     and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
   order by c.relname`;

/**
 * Global tables that stay on the coordinator (Citus local tables), with why. Writing a reference table
 * makes Citus lock every reference table it points at, which needs a write privilege there too:
 * platform_settings points at platform_admins, which its writer (the platform role) may only read, and it is
 * read and written by the platform pool alone, never joined with tenant data. The staff's sessions, refresh
 * tokens, recovery codes and MFA challenges point at platform_admins too, which has no row-level security to
 * keep their writer from updating it; they are read and written by staff sign-in alone, never with tenant data.
 */
const COORDINATOR_TABLES = [
  'platform_settings',
  'platform_admin_sessions',
  'platform_admin_refresh_tokens',
  'platform_admin_recovery_codes',
  'platform_mfa_challenges',
  'usage_rollup_batches',
];

/** Global tables: the rest of the public schema, knex's own bookkeeping aside (it stays on the coordinator). */
const GLOBAL_TABLES_SQL = `
  select c.relname as name from pg_class c
   where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and c.relname not like 'knex\\_%'
     and not (c.relrowsecurity and exists (
       select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped))
   order by c.relname`;

async function citusInstalled(knex) {
  const { rows } = await knex.raw("select exists (select 1 from pg_extension where extname = 'citus') as citus");
  return rows[0].citus;
}

/** 'distributed', 'reference', 'local' (a Citus local table) or undefined (not known to Citus). */
async function citusTableType(knex, table) {
  const { rows } = await knex.raw(
    'select citus_table_type as type from citus_tables where table_name = to_regclass(?)',
    [`public.${quoteIdent(table)}`],
  );
  return rows[0]?.type;
}

/**
 * Citus creates triggers on distributed and reference tables only when told they are safe. Ours are:
 * each touches only its own row, or (app_null_references, app_refuse_audit_mutation) rows of the same
 * tenant, which live on the same node (colocation), or a reference table, which has a copy there.
 */
async function allowTriggers(knex) {
  await knex.raw('SET LOCAL citus.enable_unsafe_triggers = on');
}

/** Distributes a tenant table by tenant_id, colocated with the others; done once, before its foreign keys. */
async function distributeTenantTable(knex, table) {
  if (!(await citusInstalled(knex))) return;
  if ((await citusTableType(knex, table)) === 'distributed') return;
  await allowTriggers(knex);
  await knex.raw("select create_distributed_table(?, 'tenant_id', colocate_with => 'default')", [table]);
}

/** Makes a global table a reference table: small, rarely written, read and joined on every node. */
async function replicateGlobalTable(knex, table) {
  if (COORDINATOR_TABLES.includes(table) || !(await citusInstalled(knex))) return;
  if ((await citusTableType(knex, table)) === 'reference') return;
  await allowTriggers(knex);
  await knex.raw('select create_reference_table(?)', [table]);
}

/** Before creating a trigger (Citus refuses one on a distributed or reference table unless told). */
async function prepareTrigger(knex) {
  if (await citusInstalled(knex)) await allowTriggers(knex);
}


module.exports = {
  TENANT_TABLES_SQL,
  GLOBAL_TABLES_SQL,
  COORDINATOR_TABLES,
  citusInstalled,
  citusTableType,
  distributeTenantTable,
  replicateGlobalTable,
  prepareTrigger,
};
