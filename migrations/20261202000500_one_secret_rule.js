/**
 * One rule for secret names (migrations/support/secret-names.json) now decides what the platform role may
 * read. The rule it replaces left signing secrets and encrypted TOTP secrets readable to the console's
 * role (`secret_encrypted`, `mfa_secret_encrypted`, ...): every tenant table with the platform read policy
 * is granted again, column by column, under the one rule.
 */
const { grantPlatformColumns } = require('./support/tenant-table');

const BEFORE = /password|token_hash|key_hash|key_material/;

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
