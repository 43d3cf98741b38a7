'use strict';
/**
 * Sign-in lockout and password-reset budgets per account, keyed by a hash of the normalized email (and
 * what it signs in to), not by a user row: an address with no account locks exactly like one with an
 * account, so neither the 429 nor the bookkeeping tells them apart. Global (no tenant): the runtime role
 * reads and writes it for tenant sign-ins, the platform role for staff sign-ins.
 */
const { grantRuntime, platformGroupRole } = require('./support/tenant-table');

const TZ = { useTz: true };

exports.up = async function up(knex) {
  await knex.schema.createTable('sign_in_throttles', (t) => {
    t.text('scope').notNullable();
    t.text('account_hash').notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('window_started_at', TZ).notNullable().defaultTo(knex.fn.now());
    t.timestamp('locked_until', TZ);
    t.primary(['scope', 'account_hash']);
  });
  await knex.raw("ALTER TABLE sign_in_throttles ADD CONSTRAINT sign_in_throttles_scope CHECK (scope in ('user_login', 'staff_login', 'password_reset'))");
  await knex.raw('CREATE INDEX sign_in_throttles_window ON sign_in_throttles (window_started_at)');
  await grantRuntime(knex, 'sign_in_throttles', 'SELECT, INSERT, UPDATE, DELETE');
  await knex.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON sign_in_throttles TO ??', [await platformGroupRole(knex)]);
};

exports.down = async function down(knex) {
  await knex.schema.dropTable('sign_in_throttles');
};
