/**
 * One rule for secret names (migrations/support/secret-names.json) now decides what the platform role may
 * read. Before, a narrower pattern was applied when a table was made and migrations then hid their own
 * secret columns one by one (REVOKE ... (secret_encrypted)); every tenant table with the platform read
 * policy is granted again, column by column, under the one rule, so a later table cannot be missed. What
 * changes: dates about secrets (`password_changed_at`, `previous_secret_expires_at`) become readable.
 */
const { grantPlatformColumns } = require('./support/tenant-table');

/** What the platform role could not read before: the old pattern, and the columns migrations hid by hand. */
const BEFORE = /password|token_hash|key_hash|key_material|secret|message_encrypted/;

async function platformReadTables(knex) {
  const { rows } = await knex.raw(
    "select tablename from pg_policies where schemaname = current_schema() and policyname = 'platform_read' order by tablename",
  );
  return rows.map((row) => row.tablename);
}

exports.up = async (knex) => {
  for (const table of await platformReadTables(knex)) await grantPlatformColumns(knex, table);
};

exports.down = async (knex) => {
  for (const table of await platformReadTables(knex)) await grantPlatformColumns(knex, table, BEFORE);
};
