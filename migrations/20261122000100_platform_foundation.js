'use strict';
const { runtimeGroupRole, grantRuntime, isolateTenantTable, touchUpdatedAt } = require('./support/tenant-table');
const { createNoLoginRole } = require('./support/no-login-role');

const CRM_RESOURCES = ['leads', 'contacts', 'accounts', 'deals', 'tasks', 'activities', 'tickets'];
const CRM_ACTIONS = ['read', 'write', 'delete', 'export'];
const ADMIN_PERMISSIONS = [
  'reports:read',
  'users:manage',
  'roles:manage',
  'audit:read',
  'billing:manage',
  'api_keys:manage',
  'organization:manage',
  'privacy:manage',
];
const ALL_PERMISSIONS = [
  ...CRM_RESOURCES.flatMap((resource) => CRM_ACTIONS.map((action) => `${resource}:${action}`)),
  ...ADMIN_PERMISSIONS,
];
const crud = (resources, actions) => resources.flatMap((r) => actions.map((a) => `${r}:${a}`));

// The role matrix of the API contract, kept as data: new tenants copy these into their own roles table.
const ROLE_TEMPLATES = [
  { key: 'tenant_admin', name: 'Tenant Admin', permissions: ALL_PERMISSIONS },
  {
    key: 'manager',
    name: 'Manager',
    permissions: [...crud(CRM_RESOURCES, CRM_ACTIONS), 'reports:read'],
  },
  // Sales users may also delete, but only their own and their team's records (enforced per record).
  {
    key: 'sales_user',
    name: 'Sales User',
    permissions: crud(['leads', 'contacts', 'accounts', 'deals', 'tasks', 'activities'], ['read', 'write', 'delete']),
  },
  {
    key: 'support_user',
    name: 'Support User',
    permissions: [...crud(['contacts', 'accounts'], ['read']), ...crud(['tickets', 'activities'], ['read', 'write'])],
  },
  { key: 'read_only', name: 'Read Only', permissions: crud(['leads', 'contacts', 'accounts', 'deals'], ['read']) },
];

const PLANS = [
  {
    code: 'free',
    name: 'Free',
    features: [],
    quotas: { users: 3, records: 1000 },
    requests_per_hour: 100,
  },
  {
    code: 'pro',
    name: 'Pro',
    features: ['api_keys', 'bulk_import', 'custom_roles', 'audit_export'],
    quotas: { users: 25, records: 100000 },
    requests_per_hour: 1000,
  },
  {
    code: 'enterprise',
    name: 'Enterprise',
    features: ['api_keys', 'bulk_import', 'custom_roles', 'audit_export', 'impersonation_controls'],
    quotas: { users: null, records: null },
    requests_per_hour: 10000,
  },
];

exports.up = async function up(knex) {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS citext');
  await knex.raw('CREATE EXTENSION IF NOT EXISTS pg_trgm');
  await knex.raw('CREATE EXTENSION IF NOT EXISTS btree_gin');

  // Concurrent migrations of sibling databases may race to create the same-named role in
  // one cluster only if they share a database name, which they cannot; the guard keeps reruns safe.
  const role = await runtimeGroupRole(knex);
  await createNoLoginRole(knex, role);
  await knex.raw('GRANT USAGE ON SCHEMA public TO ??', [role]);

  // Unset and reset settings both read as NULL, so a connection without a tenant matches no row.
  await knex.raw(`
    CREATE FUNCTION app_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$`);
  await knex.raw(`
    CREATE FUNCTION app_touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$`);
  await knex.raw('GRANT EXECUTE ON FUNCTION app_current_tenant() TO ??', [role]);

  await knex.schema.createTable('plans', (t) => {
    t.text('code').primary();
    t.text('name').notNullable();
    t.jsonb('features').notNullable().defaultTo('[]');
    t.jsonb('quotas').notNullable().defaultTo('{}');
    t.integer('requests_per_hour').notNullable();
  });
  await knex('plans').insert(
    PLANS.map((p) => ({ ...p, features: JSON.stringify(p.features), quotas: JSON.stringify(p.quotas) })),
  );
  await grantRuntime(knex, 'plans', 'SELECT');

  await knex.schema.createTable('permissions', (t) => {
    t.text('key').primary();
    t.text('description').notNullable();
  });
  await knex('permissions').insert(ALL_PERMISSIONS.map((key) => ({ key, description: describe(key) })));
  await grantRuntime(knex, 'permissions', 'SELECT');

  await knex.schema.createTable('role_templates', (t) => {
    t.text('key').primary();
    t.text('name').notNullable();
    t.specificType('permissions', 'text[]').notNullable();
  });
  await knex('role_templates').insert(ROLE_TEMPLATES);
  await grantRuntime(knex, 'role_templates', 'SELECT');

  await knex.schema.createTable('tenants', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    t.specificType('subdomain', 'citext').notNullable();
    t.text('plan').notNullable().defaultTo('free').references('code').inTable('plans');
    t.text('status').notNullable().defaultTo('active');
    t.timestamp('suspended_at', { useTz: true });
    t.text('suspended_reason');
    t.boolean('impersonation_opt_out').notNullable().defaultTo(false);
    t.timestamp('deletion_requested_at', { useTz: true });
    t.timestamp('deletion_scheduled_for', { useTz: true });
    t.uuid('deletion_requested_by');
    t.jsonb('settings').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw("ALTER TABLE tenants ADD CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended'))");
  // `\\?` keeps knex from reading the regex's `?` as a bind placeholder.
  await knex.raw(
    "ALTER TABLE tenants ADD CONSTRAINT tenants_subdomain_format CHECK (subdomain ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])\\?$')",
  );
  await knex.raw('CREATE UNIQUE INDEX tenants_subdomain_key ON tenants (subdomain)');
  await knex.raw('CREATE UNIQUE INDEX tenants_name_key ON tenants (lower(name))');
  await isolateTenantTable(knex, 'tenants', { column: 'id', privileges: 'SELECT, INSERT, UPDATE' });
  await touchUpdatedAt(knex, 'tenants');

  await knex.schema.createTable('platform_admins', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.specificType('email', 'citext').notNullable().unique();
    t.text('password_hash').notNullable();
    t.text('role').notNullable().defaultTo('super_admin');
    t.text('status').notNullable().defaultTo('active');
    t.timestamp('last_login_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw("ALTER TABLE platform_admins ADD CONSTRAINT platform_admins_role_check CHECK (role IN ('super_admin', 'support'))");
  await grantRuntime(knex, 'platform_admins', 'SELECT, INSERT, UPDATE');
  await touchUpdatedAt(knex, 'platform_admins');
};

exports.down = async function down(knex) {
  const role = await runtimeGroupRole(knex);
  await knex.schema.dropTable('platform_admins');
  await knex.schema.dropTable('tenants');
  await knex.schema.dropTable('role_templates');
  await knex.schema.dropTable('permissions');
  await knex.schema.dropTable('plans');
  await knex.raw('DROP FUNCTION app_touch_updated_at()');
  await knex.raw('DROP FUNCTION app_current_tenant()');
  await knex.raw('REVOKE USAGE ON SCHEMA public FROM ??', [role]);
};

function describe(key) {
  const [resource, action] = key.split(':');
  const verbs = { read: 'Read', write: 'Create and update', delete: 'Delete', export: 'Export', manage: 'Manage' };
  return `${verbs[action] || action} ${resource.replace('_', ' ')}`;
}

