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
const { distributeTenantTable, replicateGlobalTable, prepareTrigger } = require('./distribution');
const { quoteIdent, quoteLiteral } = require('./sql-quote');

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

/**
 * Secrets stay out of the platform role's reach, even for reading: the one rule of secret-names.json.
 * (Before 20261202000500 the rule was narrower; that migration re-granted every tenant table by this one.)
 */
const SECRET_COLUMN = new RegExp(require('./secret-names.json').pattern);

/**
 * The platform role reads every row of a tenant table (a permissive policy next to tenant_isolation),
 * through a column-level grant that leaves secret columns out. A tenant table created after
 * 20261122000900_platform_role.js calls this too (a test checks every tenant table has the policy).
 */
async function grantPlatformRead(knex, table) {
  await grantPlatformColumns(knex, table);
  await knex.raw('CREATE POLICY platform_read ON ?? FOR SELECT TO ?? USING (true)', [table, await platformGroupRole(knex)]);
}

/** (Re)grants the platform role SELECT on every column of the table but the secret ones (secret = a RegExp). */
async function grantPlatformColumns(knex, table, secret = SECRET_COLUMN) {
  const role = await platformGroupRole(knex);
  const { rows } = await knex.raw(
    "select column_name from information_schema.columns where table_schema = 'public' and table_name = ? order by ordinal_position",
    [table],
  );
  const columns = rows.map((row) => row.column_name).filter((name) => !secret.test(name));
  // Revoking the table's SELECT also revokes every column's: what follows is the whole grant.
  await knex.raw('REVOKE SELECT ON ?? FROM ??', [table, role]);
  await knex.raw(`GRANT SELECT (${columns.map(quoteIdent).join(', ')}) ON ?? TO ??`, [table, role]);
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
 * A tenant-scoped foreign key: (tenant_id, column) -> table(tenant_id, id). Both tables are placed first
 * (distributed on Citus), since Citus accepts a foreign key only between colocated distributed tables.
 *
 * onDelete 'set null' nulls only the referencing column, never tenant_id. Citus refuses every SET NULL
 * action on a key that includes the distribution column (even PostgreSQL 15's column list), so the key is
 * NO ACTION and a BEFORE DELETE trigger on the referenced table nulls the references first: the same rows
 * change, in the same statement, with the same triggers firing on them.
 */
async function tenantForeignKey(knex, table, column, target, { onDelete = 'restrict' } = {}) {
  const actions = { restrict: 'RESTRICT', cascade: 'CASCADE', 'set null': 'NO ACTION' };
  await distributeTenantTable(knex, table);
  await distributeTenantTable(knex, target);
  const name = `${table}_${column}_fkey`.slice(0, 63);
  await knex.raw(
    `ALTER TABLE ?? ADD CONSTRAINT ?? FOREIGN KEY (tenant_id, ??) REFERENCES ?? (tenant_id, id) ON DELETE ${actions[onDelete]}`,
    [table, name, column, target],
  );
  if (onDelete === 'set null') await nullReferencesOnDelete(knex, table, column, target);
}

/** What ON DELETE SET NULL (column) did: before a target row goes, its tenant's references to it are nulled. */
const NULL_REFERENCES = `
  CREATE OR REPLACE FUNCTION app_null_references() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
  BEGIN
    -- A whole tenant being purged (its tenants row already gone, the cascade under way) takes the
    -- referencing rows too: nulling them would only trip their own key to tenants.
    IF NOT EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id) THEN
      RETURN OLD;
    END IF;
    EXECUTE format('UPDATE %I.%I SET %I = NULL WHERE tenant_id = $1 AND %I = $2',
                   TG_TABLE_SCHEMA, TG_ARGV[0], TG_ARGV[1], TG_ARGV[1])
      USING OLD.tenant_id, OLD.id;
    RETURN OLD;
  END $$`;

/** The trigger that stands for `table.column REFERENCES target ON DELETE SET NULL (column)`. */
async function nullReferencesOnDelete(knex, table, column, target) {
  await knex.raw(NULL_REFERENCES);
  await prepareTrigger(knex);
  await knex.raw(
    `CREATE TRIGGER ?? BEFORE DELETE ON ?? FOR EACH ROW EXECUTE FUNCTION app_null_references(${quoteLiteral(table)}, ${quoteLiteral(column)})`,
    [nullReferencesTrigger(table, column), target],
  );
}

/** Named for the reference it nulls, so a target's triggers list what points at it. */
function nullReferencesTrigger(table, column) {
  return `${table}_${column}_set_null`.slice(0, 63);
}

/**
 * Row-level security forced on the table (owner included) plus runtime grants. The table is placed first
 * (on Citus: distributed by tenant_id, or `tenants` itself, keyed by id, made a reference table), so the
 * policy and grants are created on the placed table and its foreign keys can follow.
 */
async function isolateTenantTable(knex, table, { privileges = CRUD, column = 'tenant_id' } = {}) {
  const role = await runtimeGroupRole(knex);
  if (column === 'tenant_id') {
    await includeTenantInUniqueKeys(knex, table);
    await distributeTenantTable(knex, table);
  } else {
    await replicateGlobalTable(knex, table);
  }
  await knex.raw('ALTER TABLE ?? ENABLE ROW LEVEL SECURITY', [table]);
  await knex.raw('ALTER TABLE ?? FORCE ROW LEVEL SECURITY', [table]);
  await knex.raw(
    'CREATE POLICY tenant_isolation ON ?? USING (?? = app_current_tenant()) WITH CHECK (?? = app_current_tenant())',
    [table, column, column],
  );
  await knex.raw(`GRANT ${privileges} ON ?? TO ??`, [table, role]);
}

/**
 * Unique keys the identity migration (20261122000200) made global, because each row is found by that value
 * alone before any tenant is bound. Citus needs every unique key of a distributed table to include
 * tenant_id; with tenant_id second the index still finds a row by the hash alone, and a hash of 256 random
 * bits unique per tenant loses nothing. Widened when the table is placed (a fresh database) and by
 * 20261130000900_citus_ready_schema.js (a database migrated before).
 */
const GLOBAL_UNIQUE_KEYS = {
  users: [{ name: 'users_invite_token_hash_key', column: 'invite_token_hash', where: 'invite_token_hash IS NOT NULL' }],
  refresh_tokens: [{ name: 'refresh_tokens_token_hash_unique', column: 'token_hash', constraint: true }],
  api_keys: [{ name: 'api_keys_key_hash_unique', column: 'key_hash', constraint: true }],
};

/** Whether the named unique index exists and already includes tenant_id. */
async function uniqueKeyShape(knex, name) {
  const { rows } = await knex.raw(
    `select exists (select 1 from unnest(i.indkey) k join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k
                     where a.attname = 'tenant_id') as has_tenant
       from pg_index i where i.indexrelid = to_regclass(?)`,
    [`public.${quoteIdent(name)}`],
  );
  return rows[0] && { hasTenant: rows[0].has_tenant };
}

async function rebuildUniqueKey(knex, table, key, columns) {
  if (key.constraint) {
    await knex.raw('ALTER TABLE ?? DROP CONSTRAINT ??', [table, key.name]);
    await knex.raw(`ALTER TABLE ?? ADD CONSTRAINT ?? UNIQUE (${columns.map(quoteIdent).join(', ')})`, [table, key.name]);
  } else {
    await knex.raw('DROP INDEX ??', [key.name]);
    await knex.raw(`CREATE UNIQUE INDEX ?? ON ?? (${columns.map(quoteIdent).join(', ')}) WHERE ${key.where}`, [key.name, table]);
  }
}

/** Widens the table's global unique keys to (value, tenant_id); does nothing to a key already widened. */
async function includeTenantInUniqueKeys(knex, table) {
  for (const key of GLOBAL_UNIQUE_KEYS[table] ?? []) {
    const shape = await uniqueKeyShape(knex, key.name);
    if (shape && !shape.hasTenant) await rebuildUniqueKey(knex, table, key, [key.column, 'tenant_id']);
  }
}

/** The reverse, for rolling back on plain PostgreSQL. */
async function restoreGlobalUniqueKeys(knex, table) {
  for (const key of GLOBAL_UNIQUE_KEYS[table] ?? []) {
    const shape = await uniqueKeyShape(knex, key.name);
    if (shape?.hasTenant) await rebuildUniqueKey(knex, table, key, [key.column]);
  }
}

/** Global (non-tenant) tables: readable or writable by the runtime role as stated, no RLS; a reference table on Citus. */
async function grantRuntime(knex, table, privileges) {
  const role = await runtimeGroupRole(knex);
  await replicateGlobalTable(knex, table);
  await knex.raw(`GRANT ${privileges} ON ?? TO ??`, [table, role]);
}

/** Keeps updated_at honest for writes that forget it. */
async function touchUpdatedAt(knex, table) {
  await prepareTrigger(knex);
  await knex.raw(
    'CREATE TRIGGER ?? BEFORE UPDATE ON ?? FOR EACH ROW EXECUTE FUNCTION app_touch_updated_at()',
    [`${table}_touch_updated_at`, table],
  );
}


module.exports = {
  CRUD,
  runtimeGroupRole,
  platformGroupRole,
  grantPlatformRead,
  grantPlatformColumns,
  tenantColumns,
  tenantForeignKey,
  nullReferencesOnDelete,
  nullReferencesTrigger,
  isolateTenantTable,
  GLOBAL_UNIQUE_KEYS,
  includeTenantInUniqueKeys,
  restoreGlobalUniqueKeys,
  grantRuntime,
  touchUpdatedAt,
};
