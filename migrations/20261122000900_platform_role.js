'use strict';
/**
 * The platform path. The runtime role sees no tenant's rows outside a tenant scope, which is the point
 * of row-level security; the admin console still has to list tenants and count their records. Rather
 * than BYPASSRLS, a separate NOLOGIN group `<db>_platform` gets, on every tenant table, a permissive
 * SELECT policy and a column-level SELECT grant without secret columns, and on `tenants` an UPDATE of
 * status and plan columns only. It holds no other write on tenant data. `npm run migrate` makes the
 * platform pool's login role a member (infra/migrator.ts).
 */
const { platformGroupRole, grantPlatformRead } = require('./support/tenant-table');
const { createNoLoginRole } = require('./support/no-login-role');
const { quoteIdent } = require('./support/sql-quote');

const TENANT_WRITABLE_COLUMNS = ['status', 'plan', 'suspended_at', 'suspended_reason'];
const GLOBAL_TABLES = ['plans', 'permissions', 'role_templates', 'platform_admins'];

/** Tenant tables are the ones under row-level security (platform_audit_logs has a tenant_id but no RLS). */
async function tenantTables(knex) {
  const { rows } = await knex.raw(
    "select relname from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r' and relrowsecurity order by relname",
  );
  return rows.map((row) => row.relname);
}

exports.up = async function up(knex) {
  const role = await platformGroupRole(knex);
  await createNoLoginRole(knex, role);
  await knex.raw('GRANT USAGE ON SCHEMA public TO ??', [role]);
  // tenant_isolation applies to every role, so the platform role evaluates it too (and matches nothing by it).
  await knex.raw('GRANT EXECUTE ON FUNCTION app_current_tenant() TO ??', [role]);

  for (const table of await tenantTables(knex)) await grantPlatformRead(knex, table);
  await knex.raw(`GRANT UPDATE (${TENANT_WRITABLE_COLUMNS.map(quoteIdent).join(', ')}) ON tenants TO ??`, [role]);
  await knex.raw('CREATE POLICY platform_update ON tenants FOR UPDATE TO ?? USING (true) WITH CHECK (true)', [role]);

  for (const table of GLOBAL_TABLES) await grantPlatformReadGlobal(knex, table, role);
  await knex.raw('GRANT SELECT, INSERT ON platform_audit_logs TO ??', [role]);
};

exports.down = async function down(knex) {
  const role = await platformGroupRole(knex);
  await knex.raw('DROP POLICY platform_update ON tenants');
  for (const table of await tenantTables(knex)) {
    await knex.raw('DROP POLICY IF EXISTS platform_read ON ??', [table]);
    await knex.raw('REVOKE ALL ON ?? FROM ??', [table, role]);
  }
  for (const table of [...GLOBAL_TABLES, 'platform_audit_logs']) await knex.raw('REVOKE ALL ON ?? FROM ??', [table, role]);
  await knex.raw('REVOKE EXECUTE ON FUNCTION app_current_tenant() FROM ??', [role]);
  await knex.raw('REVOKE USAGE ON SCHEMA public FROM ??', [role]);
};

/** Global tables: readable, except password hashes (platform_admins), which only sign-in reads. */
async function grantPlatformReadGlobal(knex, table, role) {
  const { rows } = await knex.raw(
    "select column_name from information_schema.columns where table_schema = 'public' and table_name = ? and column_name <> 'password_hash' order by ordinal_position",
    [table],
  );
  await knex.raw(`GRANT SELECT (${rows.map((row) => quoteIdent(row.column_name)).join(', ')}) ON ?? TO ??`, [table, role]);
}

