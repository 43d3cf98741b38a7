'use strict';
/**
 * Sign-in has to find a row before any tenant is known: a user by email, an invitation, a refresh
 * token or an API key by its hash, a tenant by subdomain. Instead of a role that bypasses row-level
 * security, each lookup is a narrow SELECT-only policy: a row is visible when it matches the exact
 * value the transaction put in a transaction-local setting (infra/credential-lookup.ts). A query
 * that forgets its WHERE still sees nothing else.
 */

const LOOKUPS = [
  ['users', 'users_credential_lookup', "email = current_setting('app.lookup_email', true)::citext OR invite_token_hash = current_setting('app.lookup_token', true)"],
  ['refresh_tokens', 'refresh_tokens_credential_lookup', "token_hash = current_setting('app.lookup_token', true)"],
  ['api_keys', 'api_keys_credential_lookup', "key_hash = current_setting('app.lookup_token', true)"],
  ['tenants', 'tenants_credential_lookup', "subdomain = current_setting('app.lookup_subdomain', true)::citext"],
];

exports.up = async function up(knex) {
  for (const [table, name, condition] of LOOKUPS) {
    await knex.raw(`CREATE POLICY ?? ON ?? FOR SELECT USING (${condition})`, [name, table]);
  }
  await knex.schema.alterTable('users', (t) => {
    t.timestamp('last_failed_login_at', { useTz: true });
  });
};

exports.down = async function down(knex) {
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('last_failed_login_at');
  });
  for (const [table, name] of LOOKUPS) await knex.raw('DROP POLICY ?? ON ??', [name, table]);
};
