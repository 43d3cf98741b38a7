'use strict';
/**
 * Shared building blocks for migrations, so every tenant table gets the same
 * key shape, audit columns, row-level security policy and runtime grants.
 *
 * Privileges are granted to a per-database NOLOGIN group role (see
 * runtimeGroupRole); the server's login role is made a member of it by
 * `npm run migrate`, so switching the login role never needs a re-grant.
 */

const { groupRoleFor, platformRoleFor } = require('./role-names');

const CRUD = 'SELECT, INSERT, UPDATE, DELETE';

/** Role names are cluster-wide: derive one per database so databases sharing a cluster never collide. */
async function runtimeGroupRole(knex) {
  const { rows } = await knex.raw('select current_database() as db');
  return groupRoleFor(rows[0].db);
}

/** The NOLOGIN group of the platform (admin console) pool; see 20261122000900_platform_role.js. */
async function platformGroupRole(knex) {
  const { rows } = await knex.raw('select current_database() as db');
  return platformRoleFor(rows[0].db);
}

/** Credentials and key material stay out of the platform role's reach, even for reading. */
const SECRET_COLUMN = /password|token_hash|key_hash|key_material/;

/**
 * The platform role reads every row of a tenant table (a permissive policy next to tenant_isolation),
 * through a column-level grant that leaves secret columns out. A tenant table created after
 * 20261122000900_platform_role.js calls this too (a test checks every tenant table has the policy).
 */
async function grantPlatformRead(knex, table) {
  const role = await platformGroupRole(knex);
  const { rows } = await knex.raw(
    "select column_name from information_schema.columns where table_schema = 'public' and table_name = ? order by ordinal_position",
    [table],
  );
  const columns = rows.map((row) => row.column_name).filter((name) => !SECRET_COLUMN.test(name));
  await knex.raw(`GRANT SELECT (${columns.map(quoteIdent).join(', ')}) ON ?? TO ??`, [table, role]);
  await knex.raw('CREATE POLICY platform_read ON ?? FOR SELECT TO ?? USING (true)', [table, role]);
}

/** Columns every tenant table starts with: composite key, audit actors, timestamps. */
function tenantColumns(knex, t, { softDelete = true } = {}) {
  t.uuid('tenant_id').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
  t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
  t.primary(['tenant_id', 'id']);
  t.uuid('created_by');
  t.uuid('updated_by');
  t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  if (softDelete) t.timestamp('deleted_at', { useTz: true });
}

/**
 * A tenant-scoped foreign key: (tenant_id, column) -> table(tenant_id, id).
 * onDelete 'set null' only nulls the referencing column (PostgreSQL 15+), never tenant_id.
 */
async function tenantForeignKey(knex, table, column, target, { onDelete = 'restrict' } = {}) {
  const actions = {
    restrict: 'RESTRICT',
    cascade: 'CASCADE',
    'set null': `SET NULL (${quoteIdent(column)})`,
  };
  const name = `${table}_${column}_fkey`.slice(0, 63);
  await knex.raw(
    `ALTER TABLE ?? ADD CONSTRAINT ?? FOREIGN KEY (tenant_id, ??) REFERENCES ?? (tenant_id, id) ON DELETE ${actions[onDelete]}`,
    [table, name, column, target],
  );
}

/** Row-level security forced on the table (owner included) plus runtime grants. */
async function isolateTenantTable(knex, table, { privileges = CRUD, column = 'tenant_id' } = {}) {
  const role = await runtimeGroupRole(knex);
  await knex.raw('ALTER TABLE ?? ENABLE ROW LEVEL SECURITY', [table]);
  await knex.raw('ALTER TABLE ?? FORCE ROW LEVEL SECURITY', [table]);
  await knex.raw(
    'CREATE POLICY tenant_isolation ON ?? USING (?? = app_current_tenant()) WITH CHECK (?? = app_current_tenant())',
    [table, column, column],
  );
  await knex.raw(`GRANT ${privileges} ON ?? TO ??`, [table, role]);
}

/** Global (non-tenant) tables: readable or writable by the runtime role as stated, no RLS. */
async function grantRuntime(knex, table, privileges) {
  const role = await runtimeGroupRole(knex);
  await knex.raw(`GRANT ${privileges} ON ?? TO ??`, [table, role]);
}

/** Keeps updated_at honest for writes that forget it. */
async function touchUpdatedAt(knex, table) {
  await knex.raw(
    'CREATE TRIGGER ?? BEFORE UPDATE ON ?? FOR EACH ROW EXECUTE FUNCTION app_touch_updated_at()',
    [`${table}_touch_updated_at`, table],
  );
}

function quoteIdent(name) {
  return `"${String(name).replace(/"/g, '""')}"`;
}

module.exports = {
  CRUD,
  runtimeGroupRole,
  platformGroupRole,
  grantPlatformRead,
  tenantColumns,
  tenantForeignKey,
  isolateTenantTable,
  grantRuntime,
  touchUpdatedAt,
};
