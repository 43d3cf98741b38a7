'use strict';
/**
 * The schema Citus accepts (docs/SCALING.md), for databases migrated before migrations/support built it so:
 * - the three global unique keys (invitation, refresh token and API key hashes) include tenant_id;
 * - every ON DELETE SET NULL (column) key between tenant tables becomes a NO ACTION key plus the
 *   BEFORE DELETE trigger that nulls the references (Citus refuses SET NULL on a key holding tenant_id).
 * A database migrated from scratch already has both, and this changes nothing in it.
 * - Writing tenants (a reference table on Citus) makes Citus lock plans, which tenants points at, and Citus
 *   grants that lock only to a role that may write plans. The roles that write tenants get UPDATE on plans,
 *   and row-level security (a read policy and no other) leaves them no row to update.
 */
const {
  GLOBAL_UNIQUE_KEYS,
  includeTenantInUniqueKeys,
  restoreGlobalUniqueKeys,
  nullReferencesOnDelete,
  nullReferencesTrigger,
  runtimeGroupRole,
  platformGroupRole,
} = require('./support/tenant-table');

/** Foreign keys (tenant_id, column) -> target (tenant_id, id) with the given ON DELETE action. */
async function tenantKeys(knex, action) {
  const { rows } = await knex.raw(
    `select c.conname as name, c.conrelid::regclass::text as "table", c.confrelid::regclass::text as target,
            (select a.attname from unnest(c.conkey) k join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k
              where a.attname <> 'tenant_id') as "column"
       from pg_constraint c
      where c.contype = 'f' and c.connamespace = 'public'::regnamespace and c.confdeltype = ?
        and array_length(c.conkey, 1) = 2
        and exists (select 1 from unnest(c.conkey) k join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k
                     where a.attname = 'tenant_id')
      order by 2, 1`,
    [action],
  );
  return rows;
}

exports.up = async function up(knex) {
  for (const table of Object.keys(GLOBAL_UNIQUE_KEYS)) await includeTenantInUniqueKeys(knex, table);
  for (const key of await tenantKeys(knex, 'n')) {
    await knex.raw('ALTER TABLE ?? DROP CONSTRAINT ??', [key.table, key.name]);
    await knex.raw('ALTER TABLE ?? ADD CONSTRAINT ?? FOREIGN KEY (tenant_id, ??) REFERENCES ?? (tenant_id, id)', [
      key.table,
      key.name,
      key.column,
      key.target,
    ]);
    await nullReferencesOnDelete(knex, key.table, key.column, key.target);
  }
  await knex.raw('ALTER TABLE plans ENABLE ROW LEVEL SECURITY');
  await knex.raw('CREATE POLICY plans_read ON plans FOR SELECT USING (true)');
  await knex.raw('GRANT UPDATE ON plans TO ??, ??', [await runtimeGroupRole(knex), await platformGroupRole(knex)]);
};

/** Back to PostgreSQL 15's own SET NULL (column), which only plain PostgreSQL accepts. */
exports.down = async function down(knex) {
  await knex.raw('REVOKE UPDATE ON plans FROM ??, ??', [await runtimeGroupRole(knex), await platformGroupRole(knex)]);
  await knex.raw('DROP POLICY plans_read ON plans');
  await knex.raw('ALTER TABLE plans DISABLE ROW LEVEL SECURITY');
  const { rows: triggers } = await knex.raw(
    `select t.tgname as name, t.tgrelid::regclass::text as target
       from pg_trigger t where t.tgfoid = to_regproc('app_null_references') and not t.tgisinternal`,
  );
  const nulledBy = new Map(triggers.map((trigger) => [`${trigger.target}:${trigger.name}`, trigger]));
  for (const key of await tenantKeys(knex, 'a')) {
    const trigger = nulledBy.get(`${key.target}:${nullReferencesTrigger(key.table, key.column)}`);
    if (!trigger) continue;
    await knex.raw('DROP TRIGGER ?? ON ??', [trigger.name, trigger.target]);
    await knex.raw('ALTER TABLE ?? DROP CONSTRAINT ??', [key.table, key.name]);
    await knex.raw(
      'ALTER TABLE ?? ADD CONSTRAINT ?? FOREIGN KEY (tenant_id, ??) REFERENCES ?? (tenant_id, id) ON DELETE SET NULL (??)',
      [key.table, key.name, key.column, key.target, key.column],
    );
  }
  await knex.raw('DROP FUNCTION IF EXISTS app_null_references()');
  for (const table of Object.keys(GLOBAL_UNIQUE_KEYS)) await restoreGlobalUniqueKeys(knex, table);
};
