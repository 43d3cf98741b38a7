'use strict';
const { tenantColumns, tenantForeignKey, isolateTenantTable, touchUpdatedAt } = require('./support/tenant-table');

const TZ = { useTz: true };

async function createTenantTable(knex, name, { softDelete = true, touch = true } = {}, build) {
  await knex.schema.createTable(name, (t) => {
    tenantColumns(knex, t, { softDelete });
    build(t);
  });
  await isolateTenantTable(knex, name);
  if (touch) await touchUpdatedAt(knex, name);
}

/** Keyset pagination indexes: (tenant_id, sort columns..., id). */
function pageable(t, ...sorts) {
  for (const sort of ['created_at', 'updated_at', ...sorts]) t.index(['tenant_id', ...[].concat(sort), 'id']);
}

exports.up = async function up(knex) {
  await createTenantTable(knex, 'teams', {}, (t) => {
    t.text('name').notNullable();
    pageable(t, 'name');
  });
  await knex.raw('CREATE UNIQUE INDEX teams_name_key ON teams (tenant_id, lower(name)) WHERE deleted_at IS NULL');

  await createTenantTable(knex, 'roles', {}, (t) => {
    t.text('key');
    t.text('name').notNullable();
    t.text('description');
    t.boolean('is_system').notNullable().defaultTo(false);
    t.specificType('permissions', 'text[]').notNullable().defaultTo('{}');
    t.unique(['tenant_id', 'key'], { indexName: 'roles_key_key', predicate: knex.whereNotNull('key') });
    pageable(t, 'name');
  });
  await knex.raw('CREATE UNIQUE INDEX roles_name_key ON roles (tenant_id, lower(name)) WHERE deleted_at IS NULL');

  await createTenantTable(knex, 'users', {}, (t) => {
    t.specificType('email', 'citext').notNullable();
    t.text('password_hash');
    t.text('first_name');
    t.text('last_name');
    t.uuid('role_id').notNullable();
    t.uuid('team_id');
    t.enu('status', ['active', 'invited', 'disabled']).notNullable().defaultTo('active');
    t.timestamp('last_login_at', TZ);
    t.integer('failed_login_count').notNullable().defaultTo(0);
    t.timestamp('locked_until', TZ);
    t.timestamp('password_changed_at', TZ);
    t.text('invite_token_hash');
    t.timestamp('invite_expires_at', TZ);
    t.unique(['tenant_id', 'email'], { indexName: 'users_email_key', predicate: knex.whereNull('deleted_at') });
    // Login may name no tenant (tenantId is optional), so the user's tenants are found by email
    // before any tenant is bound: the one lookup that has to cross tenants.
    t.index(['email'], 'users_email_global_idx', { predicate: knex.whereNull('deleted_at') });
    // Accepting an invite presents only the token, so it is found by its hash alone.
    t.unique(['invite_token_hash'], {
      indexName: 'users_invite_token_hash_key',
      predicate: knex.whereNotNull('invite_token_hash'),
    });
    t.index(['tenant_id', 'role_id']);
    t.index(['tenant_id', 'team_id']);
    pageable(t);
  });
  await tenantForeignKey(knex, 'users', 'role_id', 'roles', { onDelete: 'restrict' });
  await tenantForeignKey(knex, 'users', 'team_id', 'teams', { onDelete: 'set null' });

  await createTenantTable(knex, 'sessions', { softDelete: false }, (t) => {
    t.uuid('user_id').notNullable();
    t.specificType('ip', 'inet');
    t.text('user_agent');
    t.timestamp('last_used_at', TZ);
    t.timestamp('expires_at', TZ).notNullable();
    t.timestamp('revoked_at', TZ);
    t.text('revoked_reason');
    t.index(['tenant_id', 'user_id', 'created_at', 'id']);
    t.index(['tenant_id', 'expires_at']);
  });
  await tenantForeignKey(knex, 'sessions', 'user_id', 'users', { onDelete: 'cascade' });

  await createTenantTable(knex, 'refresh_tokens', { softDelete: false }, (t) => {
    t.uuid('session_id').notNullable();
    t.uuid('user_id').notNullable();
    t.text('token_hash').notNullable();
    t.timestamp('expires_at', TZ).notNullable();
    t.timestamp('used_at', TZ);
    t.uuid('replaced_by_id');
    // POST /refresh presents only the token: its hash must find the row before the tenant is known.
    t.unique(['token_hash']);
    t.index(['tenant_id', 'session_id']);
    t.index(['tenant_id', 'user_id']);
  });
  await tenantForeignKey(knex, 'refresh_tokens', 'session_id', 'sessions', { onDelete: 'cascade' });
  await tenantForeignKey(knex, 'refresh_tokens', 'user_id', 'users', { onDelete: 'cascade' });

  await createTenantTable(knex, 'revoked_access_tokens', { softDelete: false }, (t) => {
    t.uuid('jti').notNullable();
    t.uuid('user_id').notNullable();
    t.timestamp('expires_at', TZ).notNullable();
    t.unique(['tenant_id', 'jti']);
    t.index(['tenant_id', 'user_id']);
    t.index(['tenant_id', 'expires_at']);
  });
  await tenantForeignKey(knex, 'revoked_access_tokens', 'user_id', 'users', { onDelete: 'cascade' });

  await createTenantTable(knex, 'api_keys', { softDelete: false }, (t) => {
    t.text('name').notNullable();
    t.text('prefix').notNullable();
    t.text('key_hash').notNullable();
    t.uuid('role_id');
    t.specificType('permissions', 'text[]');
    t.timestamp('expires_at', TZ);
    t.timestamp('last_used_at', TZ);
    t.timestamp('revoked_at', TZ);
    // A request carries only the key: its hash must find the row (and so the tenant) first.
    t.unique(['key_hash']);
    t.index(['tenant_id', 'role_id']);
    pageable(t);
  });
  await tenantForeignKey(knex, 'api_keys', 'role_id', 'roles', { onDelete: 'set null' });
};

exports.down = async function down(knex) {
  for (const table of ['api_keys', 'revoked_access_tokens', 'refresh_tokens', 'sessions', 'users', 'roles', 'teams']) {
    await knex.schema.dropTable(table);
  }
};
