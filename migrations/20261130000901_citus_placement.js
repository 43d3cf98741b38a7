'use strict';
/**
 * On a Citus coordinator (docs/SCALING.md); on plain PostgreSQL this does nothing.
 * - Row-level security reads app.tenant_id on the workers, which see a transaction's settings only when
 *   the coordinator forwards them: Citus forwards `SET LOCAL` (not set_config()) when
 *   citus.propagate_set_commands is 'local', made here the database's default for every connection.
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
  for (const { name } of (await knex.raw(TENANT_TABLES_SQL)).rows) await distributeTenantTable(knex, name);
  for (const { name } of (await knex.raw(GLOBAL_TABLES_SQL)).rows) await replicateGlobalTable(knex, name);
};

exports.down = async function down(knex) {
  if (await citusInstalled(knex)) await alterDatabase(knex, 'RESET citus.propagate_set_commands');
};
