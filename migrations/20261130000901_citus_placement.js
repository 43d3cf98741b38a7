'use strict';
/**
 * On a Citus coordinator (docs/SCALING.md); on plain PostgreSQL this does nothing.
 * - Row-level security reads app.tenant_id on the workers, which see a transaction's settings only when
 *   the coordinator forwards them: Citus forwards `SET LOCAL` (not set_config()) when
 *   citus.propagate_set_commands is 'local', made here the database's default for every connection.
 * - Citus refuses to write a reference table (tenants) later in a transaction that ran a multi-shard query
 *   over parallel connections (sign-up checks the email across tenants, then creates the tenant). With
 *   citus.multi_shard_modify_mode 'sequential' a multi-shard query uses one connection per node, and the
 *   write may follow. Tenant requests route to one shard and are not affected; the few queries that span
 *   tenants (credential lookups, the admin console) run shard after shard on each node.
 * - Tables the helpers did not place as they were created (platform_settings; any table a migration made
 *   with plain knex) are placed now: tenant tables distributed, global tables replicated. Tables created by
 *   later migrations are placed by migrations/support as they are created.
 */
const { TENANT_TABLES_SQL, GLOBAL_TABLES_SQL, citusInstalled, distributeTenantTable, replicateGlobalTable } = require(
  './support/distribution',
);

/** ALTER DATABASE takes no bind parameters: format() quotes the name. */
async function alterDatabase(knex, change) {
  const { rows } = await knex.raw('select format(?, current_database()) as sql', [`ALTER DATABASE %I ${change}`]);
  await knex.raw(rows[0].sql);
}

exports.up = async function up(knex) {
  if (!(await citusInstalled(knex))) return;
  await alterDatabase(knex, "SET citus.propagate_set_commands = 'local'");
  await alterDatabase(knex, "SET citus.multi_shard_modify_mode = 'sequential'");
  for (const { name } of (await knex.raw(TENANT_TABLES_SQL)).rows) await distributeTenantTable(knex, name);
  for (const { name } of (await knex.raw(GLOBAL_TABLES_SQL)).rows) await replicateGlobalTable(knex, name);
};

exports.down = async function down(knex) {
  if (!(await citusInstalled(knex))) return;
  await alterDatabase(knex, 'RESET citus.propagate_set_commands');
  await alterDatabase(knex, 'RESET citus.multi_shard_modify_mode');
};
