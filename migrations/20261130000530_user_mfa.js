'use strict';
/**
 * TOTP MFA for tenant users, as for platform staff (20261130000510): the secret encrypted under
 * CREDENTIALS_KEYS, the last accepted time step, hashed recovery codes, and a single-use challenge
 * between password and code. The secret and the codes' hashes are never readable by the platform role,
 * and their names keep them out of organization exports (`secret`).
 */
const { tenantColumns, tenantForeignKey, isolateTenantTable, grantPlatformRead, platformGroupRole } = require('./support/tenant-table');

const TZ = { useTz: true };

exports.up = async function up(knex) {
  const platform = await platformGroupRole(knex);
  await knex.schema.alterTable('users', (t) => {
    t.text('mfa_secret_encrypted');
    t.text('mfa_pending_secret_encrypted');
    t.timestamp('mfa_enabled_at', TZ);
    t.bigInteger('mfa_last_step');
  });
  await knex.raw('GRANT SELECT (mfa_enabled_at) ON users TO ??', [platform]);

  await knex.schema.createTable('user_recovery_codes', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.uuid('user_id').notNullable();
    t.text('secret_hash').notNullable();
    t.timestamp('used_at', TZ);
    t.unique(['tenant_id', 'user_id', 'secret_hash']);
  });
  await isolateTenantTable(knex, 'user_recovery_codes');
  await grantPlatformRead(knex, 'user_recovery_codes');
  await knex.raw('REVOKE SELECT (secret_hash) ON user_recovery_codes FROM ??', [platform]);
  await tenantForeignKey(knex, 'user_recovery_codes', 'user_id', 'users', { onDelete: 'cascade' });

  await knex.schema.createTable('user_mfa_challenges', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.uuid('user_id').notNullable();
    t.timestamp('expires_at', TZ).notNullable();
    t.timestamp('used_at', TZ);
    t.integer('failed_attempts').notNullable().defaultTo(0);
  });
  await isolateTenantTable(knex, 'user_mfa_challenges');
  await grantPlatformRead(knex, 'user_mfa_challenges');
  await tenantForeignKey(knex, 'user_mfa_challenges', 'user_id', 'users', { onDelete: 'cascade' });
};

exports.down = async function down(knex) {
  await knex.schema.dropTable('user_mfa_challenges');
  await knex.schema.dropTable('user_recovery_codes');
  await knex.raw('REVOKE SELECT (mfa_enabled_at) ON users FROM ??', [await platformGroupRole(knex)]);
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('mfa_secret_encrypted');
    t.dropColumn('mfa_pending_secret_encrypted');
    t.dropColumn('mfa_enabled_at');
    t.dropColumn('mfa_last_step');
  });
};
