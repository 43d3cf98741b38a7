'use strict';
const {
  tenantColumns,
  tenantForeignKey,
  isolateTenantTable,
  touchUpdatedAt,
  grantRuntime,
} = require('./support/tenant-table');

const TZ = { useTz: true };
const ACTOR_TYPES = ['user', 'api_key', 'platform_admin', 'system'];
const RESULTS = ['success', 'failure'];
const CRM_RESOURCES = ['leads', 'contacts', 'accounts', 'deals', 'tasks', 'activities', 'tickets'];

async function createTenantTable(knex, name, { privileges, touch = true } = {}, build) {
  await knex.schema.createTable(name, (t) => {
    tenantColumns(knex, t, { softDelete: false });
    build(t);
  });
  await isolateTenantTable(knex, name, privileges && { privileges });
  if (touch) await touchUpdatedAt(knex, name);
}

/**
 * Append-only enforcement (tamper evidence is the hash chain's job). Two deletes stay possible:
 * a tenant's trail goes with its tenant (argument 'tenant': ON DELETE CASCADE from tenants, once the
 * tenant row is gone), and retention pruning sets app.audit_prune = 'on' for its transaction; the
 * runtime role holds no DELETE privilege, so only the owner can do either.
 */
const REFUSE_AUDIT_MUTATION = `
  CREATE FUNCTION app_refuse_audit_mutation() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
  BEGIN
    IF TG_OP = 'DELETE' THEN
      IF current_setting('app.audit_prune', true) = 'on' THEN
        RETURN OLD;
      END IF;
      IF TG_ARGV[0] = 'tenant' AND NOT EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id) THEN
        RETURN OLD;
      END IF;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
  END $$`;

async function refuseMutation(knex, table, ...args) {
  const argList = args.map((a) => `'${a}'`).join(', ');
  await knex.raw(
    `CREATE TRIGGER ?? BEFORE UPDATE OR DELETE ON ?? FOR EACH ROW
     EXECUTE FUNCTION app_refuse_audit_mutation(${argList})`,
    [`${table}_refuse_mutation`, table],
  );
  await knex.raw(
    'CREATE TRIGGER ?? BEFORE TRUNCATE ON ?? FOR EACH STATEMENT EXECUTE FUNCTION app_refuse_audit_mutation()',
    [`${table}_refuse_truncate`, table],
  );
}

exports.up = async function up(knex) {
  await knex.raw(REFUSE_AUDIT_MUTATION);

  await createTenantTable(knex, 'audit_logs', { privileges: 'SELECT, INSERT', touch: false }, (t) => {
    t.bigInteger('seq').notNullable();
    t.timestamp('occurred_at', TZ).notNullable().defaultTo(knex.fn.now());
    t.enu('actor_type', ACTOR_TYPES).notNullable();
    t.uuid('actor_id');
    t.uuid('impersonator_id');
    t.text('action').notNullable();
    t.text('resource_type');
    t.uuid('resource_id');
    // Personal data inside is encrypted with the subject's key (data_subject_keys), so erasure can shred it.
    t.jsonb('changes');
    t.specificType('subject_key_ids', 'uuid[]');
    t.specificType('ip', 'inet');
    t.text('user_agent');
    t.text('request_id');
    t.enu('result', RESULTS).notNullable().defaultTo('success');
    t.text('error_code');
    t.text('prev_hash');
    t.text('hash').notNullable();
    t.unique(['tenant_id', 'seq']);
    t.index(['tenant_id', 'occurred_at', 'id']);
    t.index(['tenant_id', 'action', 'occurred_at']);
    t.index(['tenant_id', 'resource_type', 'resource_id']);
    t.index(['tenant_id', 'actor_id', 'occurred_at']);
  });
  await refuseMutation(knex, 'audit_logs', 'tenant');

  await knex.schema.createTable('audit_chain_heads', (t) => {
    t.uuid('tenant_id').primary().references('id').inTable('tenants').onDelete('CASCADE');
    t.bigInteger('last_seq').notNullable().defaultTo(0);
    t.text('last_hash');
    // Hash of the last entry retention pruned, so verification can start mid-chain.
    t.text('anchor_hash');
  });
  await isolateTenantTable(knex, 'audit_chain_heads', { privileges: 'SELECT, INSERT, UPDATE' });

  // Crypto-shredding: erasing a person destroys their key, which makes their encrypted audit data unreadable.
  await createTenantTable(knex, 'data_subject_keys', {}, (t) => {
    t.text('subject_hash').notNullable();
    t.binary('key_material');
    t.timestamp('destroyed_at', TZ);
    t.unique(['tenant_id', 'subject_hash']);
    t.check('?? IS NULL OR ?? IS NULL', ['destroyed_at', 'key_material'], 'data_subject_keys_destroyed_check');
  });

  await createTenantTable(knex, 'idempotency_keys', {}, (t) => {
    t.text('caller').notNullable();
    t.text('key').notNullable();
    t.text('fingerprint').notNullable();
    t.enu('status', ['in_progress', 'completed']).notNullable().defaultTo('in_progress');
    t.integer('response_status');
    t.jsonb('response_body');
    t.jsonb('response_headers');
    t.timestamp('locked_until', TZ);
    t.timestamp('completed_at', TZ);
    t.timestamp('expires_at', TZ).notNullable();
    t.check('length(??) BETWEEN 1 AND 255', ['key'], 'idempotency_keys_key_check');
    t.unique(['tenant_id', 'caller', 'key']);
    t.index(['tenant_id', 'expires_at']);
    // The purge job sweeps expired keys of all tenants in one pass, outside any tenant's context.
    t.index(['expires_at'], 'idempotency_keys_expires_at_global_idx');
  });

  await createTenantTable(knex, 'data_exports', {}, (t) => {
    t.uuid('requested_by');
    t.enu('format', ['json', 'csv']).notNullable().defaultTo('json');
    t.enu('status', ['pending', 'running', 'completed', 'failed', 'expired']).notNullable().defaultTo('pending');
    t.text('file_path');
    t.bigInteger('size_bytes');
    t.text('error');
    t.timestamp('started_at', TZ);
    t.timestamp('completed_at', TZ);
    t.timestamp('expires_at', TZ);
    t.index(['tenant_id', 'created_at', 'id']);
  });

  await createTenantTable(knex, 'imports', {}, (t) => {
    t.enu('resource_type', CRM_RESOURCES).notNullable();
    t.enu('mode', ['all-or-nothing', 'valid-only']).notNullable();
    t.enu('status', ['completed', 'failed', 'undone']).notNullable();
    t.boolean('dry_run').notNullable().defaultTo(false);
    for (const count of ['created_count', 'updated_count', 'failed_count']) t.integer(count).notNullable().defaultTo(0);
    t.timestamp('undone_at', TZ);
    t.index(['tenant_id', 'created_at', 'id']);
  });

  // What an import did to each record, so it can be undone.
  await knex.schema.createTable('import_items', (t) => {
    t.uuid('tenant_id').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.uuid('import_id').notNullable();
    t.uuid('record_id').notNullable();
    t.enu('action', ['created', 'updated']).notNullable();
    t.jsonb('previous');
    t.timestamp('created_at', TZ).notNullable().defaultTo(knex.fn.now());
    t.primary(['tenant_id', 'import_id', 'record_id']);
  });
  await tenantForeignKey(knex, 'import_items', 'import_id', 'imports', { onDelete: 'cascade' });
  await isolateTenantTable(knex, 'import_items');

  // Platform-wide trail of super admin actions: no RLS, and tenant_id has no foreign key so that
  // tombstones of purged tenants survive.
  await knex.schema.createTable('platform_audit_logs', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.timestamp('occurred_at', TZ).notNullable().defaultTo(knex.fn.now());
    t.enu('actor_type', ACTOR_TYPES).notNullable();
    t.uuid('actor_id');
    t.text('action').notNullable();
    t.uuid('tenant_id');
    t.text('target_type');
    t.uuid('target_id');
    t.jsonb('details');
    t.specificType('ip', 'inet');
    t.text('user_agent');
    t.text('request_id');
    t.enu('result', RESULTS).notNullable().defaultTo('success');
    t.text('error_code');
    t.index(['occurred_at', 'id']);
    t.index(['tenant_id', 'occurred_at']);
  });
  await grantRuntime(knex, 'platform_audit_logs', 'SELECT, INSERT');
  await refuseMutation(knex, 'platform_audit_logs');
};

exports.down = async function down(knex) {
  const tables = [
    'platform_audit_logs',
    'import_items',
    'imports',
    'data_exports',
    'idempotency_keys',
    'data_subject_keys',
    'audit_chain_heads',
    'audit_logs',
  ];
  for (const table of tables) await knex.schema.dropTable(table);
  await knex.raw('DROP FUNCTION app_refuse_audit_mutation()');
};
