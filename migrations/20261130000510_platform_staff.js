'use strict';
/**
 * Platform staff: seven roles, invitations, sessions with rotating refresh tokens, and TOTP MFA.
 * Every table here is global (staff belong to no tenant), written by the runtime role through the
 * sign-in and console services, never readable by the platform role (they hold credential hashes).
 * - platform_admins gains names, an invitation (hash and expiry only) and its MFA state: the TOTP secret
 *   encrypted under CREDENTIALS_KEYS, a secret waiting for its first code, and the last time step
 *   accepted (a code is never accepted twice).
 * - platform_admin_sessions / platform_admin_refresh_tokens: one family per sign-in, as for tenant users.
 * - platform_admin_recovery_codes: ten single-use codes, stored hashed.
 * - platform_mfa_challenges: the short-lived, single-use step between password and code.
 */
const { grantRuntime } = require('./support/tenant-table');

const ROLES = ['super_admin', 'admin', 'developer', 'support', 'marketing', 'finance', 'sales'];
const quoted = (values) => values.map((value) => `'${value}'`).join(', ');

exports.up = async function up(knex) {
  await knex.raw('ALTER TABLE platform_admins DROP CONSTRAINT platform_admins_role_check');
  await knex.raw(`ALTER TABLE platform_admins ADD CONSTRAINT platform_admins_role_check CHECK (role IN (${quoted(ROLES)}))`);
  await knex.schema.alterTable('platform_admins', (t) => {
    t.text('first_name');
    t.text('last_name');
    t.text('invite_token_hash').unique();
    t.timestamp('invite_expires_at', { useTz: true });
    // No key: a key from platform_admins to itself would make Citus lock the table its writer updates anyway.
    t.uuid('invited_by');
    t.text('mfa_secret_encrypted');
    t.text('mfa_pending_secret_encrypted');
    t.timestamp('mfa_enabled_at', { useTz: true });
    t.bigInteger('mfa_last_step');
  });
  // An invited admin has no password until the invitation is accepted.
  await knex.raw('ALTER TABLE platform_admins ALTER COLUMN password_hash DROP NOT NULL');
  await knex.raw("ALTER TABLE platform_admins ADD CONSTRAINT platform_admins_status_check CHECK (status IN ('active', 'invited', 'disabled'))");
  await knex.raw("ALTER TABLE platform_admins ADD CONSTRAINT platform_admins_password_check CHECK (status = 'invited' OR password_hash IS NOT NULL)");
  await grantRuntime(knex, 'platform_admins', 'DELETE');

  await knex.schema.createTable('platform_admin_sessions', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('admin_id').notNullable().references('id').inTable('platform_admins').onDelete('CASCADE');
    t.text('ip');
    t.text('user_agent');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('revoked_at', { useTz: true });
    t.text('revoked_reason');
    t.index(['admin_id']);
  });
  await grantRuntime(knex, 'platform_admin_sessions', 'SELECT, INSERT, UPDATE');

  await knex.schema.createTable('platform_admin_refresh_tokens', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('session_id').notNullable().references('id').inTable('platform_admin_sessions').onDelete('CASCADE');
    t.text('token_hash').notNullable().unique();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true });
    t.uuid('replaced_by_id');
    t.index(['session_id']);
  });
  await grantRuntime(knex, 'platform_admin_refresh_tokens', 'SELECT, INSERT, UPDATE');

  await knex.schema.createTable('platform_admin_recovery_codes', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('admin_id').notNullable().references('id').inTable('platform_admins').onDelete('CASCADE');
    t.text('code_hash').notNullable();
    t.timestamp('used_at', { useTz: true });
    t.unique(['admin_id', 'code_hash']);
  });
  await grantRuntime(knex, 'platform_admin_recovery_codes', 'SELECT, INSERT, UPDATE, DELETE');

  await knex.schema.createTable('platform_mfa_challenges', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('admin_id').notNullable().references('id').inTable('platform_admins').onDelete('CASCADE');
    t.text('token_hash').notNullable().unique();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true });
    t.integer('failed_attempts').notNullable().defaultTo(0);
    t.text('ip');
    t.text('user_agent');
    t.index(['admin_id']);
  });
  await grantRuntime(knex, 'platform_mfa_challenges', 'SELECT, INSERT, UPDATE, DELETE');
};

exports.down = async function down(knex) {
  await knex.schema.dropTable('platform_mfa_challenges');
  await knex.schema.dropTable('platform_admin_recovery_codes');
  await knex.schema.dropTable('platform_admin_refresh_tokens');
  await knex.schema.dropTable('platform_admin_sessions');
  await knex.raw('ALTER TABLE platform_admins DROP CONSTRAINT platform_admins_password_check');
  await knex.raw('ALTER TABLE platform_admins DROP CONSTRAINT platform_admins_status_check');
  await knex('platform_admins').whereNull('password_hash').del();
  await knex.raw('ALTER TABLE platform_admins ALTER COLUMN password_hash SET NOT NULL');
  await knex.schema.alterTable('platform_admins', (t) => {
    t.dropColumn('first_name');
    t.dropColumn('last_name');
    t.dropColumn('invite_token_hash');
    t.dropColumn('invite_expires_at');
    t.dropColumn('invited_by');
    t.dropColumn('mfa_secret_encrypted');
    t.dropColumn('mfa_pending_secret_encrypted');
    t.dropColumn('mfa_enabled_at');
    t.dropColumn('mfa_last_step');
  });
  await knex('platform_admins').whereNotIn('role', ['super_admin', 'support']).del();
  await knex.raw('ALTER TABLE platform_admins DROP CONSTRAINT platform_admins_role_check');
  await knex.raw("ALTER TABLE platform_admins ADD CONSTRAINT platform_admins_role_check CHECK (role IN ('super_admin', 'support'))");
};
