'use strict';
/**
 * Custom fields per tenant (docs/ARCHITECTURE.md, "Custom fields"): a tenant's field definitions, their
 * values in a `custom_fields` jsonb column of each CRM table (what a read returns, in the row it reads), and
 * a typed copy of each value in `custom_field_values`, kept by a trigger, where generic indexes keyed by
 * (tenant_id, field_id, value) serve every field of every tenant: no DDL when a tenant adds a field (the
 * runtime role owns nothing, and thousands of tenants times 500 fields of per-field indexes would swamp the
 * catalogue). `required` and `unique` are enforced by the triggers, in the database, whatever path writes.
 */
const { tenantColumns, tenantForeignKey, isolateTenantTable, touchUpdatedAt, grantPlatformRead, platformGroupRole } = require('./support/tenant-table');
const { prepareTrigger } = require('./support/distribution');
const { addPermissions, removePermissions } = require('./support/permissions');

const CRM_TABLES = ['leads', 'contacts', 'accounts', 'deals', 'tasks', 'activities', 'tickets'];
const TYPES = ['text', 'number', 'currency', 'date', 'datetime', 'boolean', 'select', 'multiselect', 'email', 'url', 'phone'];
const QUOTAS = { free: 5, pro: 50, enterprise: 500 };
const NEW_PERMISSIONS = {
  'custom_fields:manage': 'Define, change and delete the custom fields of CRM records',
  'pipelines:manage': 'Create, change and delete deal pipelines and their stages',
};
const GRANTED = { tenant_admin: ['custom_fields:manage', 'pipelines:manage'], manager: ['pipelines:manage'] };

/**
 * BEFORE INSERT OR UPDATE OF custom_fields on a CRM table: a new record must hold a value of every required
 * field, and an update cannot take one away (the error names it as `customFields.<key>`); a record written
 * before its field became required gets a value when someone gives it one. The searchable fields' values
 * make `custom_search`. The table's name is the fields' resource.
 */
const CHECK_FUNCTION = `
  CREATE OR REPLACE FUNCTION app_custom_fields_check() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
  DECLARE
    missing text;
    words text;
    previous jsonb;
  BEGIN
    IF TG_OP = 'UPDATE' THEN
      previous := OLD.custom_fields;
    END IF;
    SELECT min(f.key) FILTER (WHERE f.required AND coalesce(jsonb_typeof(NEW.custom_fields -> f.key), 'null') = 'null'
                                AND (previous IS NULL OR coalesce(jsonb_typeof(previous -> f.key), 'null') <> 'null')),
           string_agg(NEW.custom_fields ->> f.key, ' ') FILTER (WHERE f.searchable)
      INTO missing, words
      FROM custom_fields f
     WHERE f.tenant_id = NEW.tenant_id AND f.resource = TG_TABLE_NAME AND (f.required OR f.searchable);
    IF missing IS NOT NULL THEN
      RAISE EXCEPTION 'custom field % is required', missing
        USING ERRCODE = 'not_null_violation', COLUMN = 'customFields.' || missing;
    END IF;
    NEW.custom_search := CASE WHEN words IS NULL THEN NULL ELSE to_tsvector('simple', words) END;
    RETURN NEW;
  END $$`;

/**
 * AFTER a CRM row is written: its typed values are rewritten (numbers and currencies as float8, datetimes
 * as timestamptz, the rest as text; one row per option of a multiselect). A soft-deleted record has none,
 * so it neither matches a filter nor holds a unique value. Unique values go in one at a time with ON
 * CONFLICT DO NOTHING (a concurrent writer of the same value is waited for), so a conflict names its field
 * without a subtransaction per row.
 */
const VALUES_FUNCTION = `
  CREATE OR REPLACE FUNCTION app_custom_field_values() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
  DECLARE
    field record;
  BEGIN
    IF TG_OP <> 'INSERT' THEN
      DELETE FROM custom_field_values WHERE tenant_id = OLD.tenant_id AND record_id = OLD.id;
    END IF;
    IF TG_OP = 'DELETE' THEN
      RETURN NULL;
    END IF;
    IF NEW.deleted_at IS NOT NULL OR NEW.custom_fields = '{}'::jsonb THEN
      RETURN NULL;
    END IF;
    INSERT INTO custom_field_values (tenant_id, field_id, record_id, value_text, value_number, value_time)
    SELECT NEW.tenant_id, f.id, NEW.id,
           CASE WHEN f.type NOT IN ('number', 'currency', 'datetime') THEN v.item #>> '{}' END,
           CASE WHEN f.type IN ('number', 'currency') THEN (v.item #>> '{}')::float8 END,
           CASE WHEN f.type = 'datetime' THEN (v.item #>> '{}')::timestamptz END
      FROM custom_fields f
     CROSS JOIN LATERAL jsonb_array_elements(
             CASE WHEN jsonb_typeof(NEW.custom_fields -> f.key) = 'array' THEN NEW.custom_fields -> f.key
                  ELSE jsonb_build_array(NEW.custom_fields -> f.key) END) AS v(item)
     WHERE f.tenant_id = NEW.tenant_id AND f.resource = TG_TABLE_NAME AND NOT f.is_unique
       AND coalesce(jsonb_typeof(NEW.custom_fields -> f.key), 'null') <> 'null';
    FOR field IN
      SELECT f.id, f.key, f.type FROM custom_fields f
       WHERE f.tenant_id = NEW.tenant_id AND f.resource = TG_TABLE_NAME AND f.is_unique
         AND coalesce(jsonb_typeof(NEW.custom_fields -> f.key), 'null') <> 'null'
    LOOP
      INSERT INTO custom_field_values (tenant_id, field_id, record_id, value_text, value_number, value_time, unique_value)
      SELECT NEW.tenant_id, field.id, NEW.id,
             CASE WHEN field.type NOT IN ('number', 'currency', 'datetime') THEN value END,
             CASE WHEN field.type IN ('number', 'currency') THEN value::float8 END,
             CASE WHEN field.type = 'datetime' THEN value::timestamptz END,
             CASE WHEN field.type IN ('number', 'currency') THEN value::float8::text
                  WHEN field.type = 'datetime' THEN value::timestamptz::text
                  ELSE lower(value) END
        FROM (SELECT NEW.custom_fields ->> field.key AS value) AS given
      ON CONFLICT (tenant_id, field_id, unique_value) WHERE unique_value IS NOT NULL DO NOTHING;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'custom field % must be unique', field.key
          USING ERRCODE = 'unique_violation', COLUMN = 'customFields.' || field.key;
      END IF;
    END LOOP;
    RETURN NULL;
  END $$`;

exports.up = async function up(knex) {
  await knex.schema.createTable('custom_fields', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.text('resource').notNullable().checkIn(CRM_TABLES, 'custom_fields_resource_check');
    t.text('key').notNullable().checkRegex('^[a-z][a-z0-9_]{0,39}$', 'custom_fields_key_check');
    t.text('label').notNullable();
    t.text('type').notNullable().checkIn(TYPES, 'custom_fields_type_check');
    t.jsonb('options').notNullable().defaultTo('[]');
    t.boolean('required').notNullable().defaultTo(false);
    t.boolean('is_unique').notNullable().defaultTo(false);
    t.boolean('searchable').notNullable().defaultTo(false);
    t.integer('position').notNullable().defaultTo(0);
    t.unique(['tenant_id', 'resource', 'key'], { indexName: 'custom_fields_key_unique' });
    t.index(['tenant_id', 'resource', 'position']);
  });
  await isolateTenantTable(knex, 'custom_fields');
  await touchUpdatedAt(knex, 'custom_fields');
  await grantPlatformRead(knex, 'custom_fields');

  await knex.schema.createTable('custom_field_values', (t) => {
    t.uuid('tenant_id').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.primary(['tenant_id', 'id']);
    t.uuid('field_id').notNullable();
    t.uuid('record_id').notNullable();
    t.text('value_text');
    // float8, not numeric: its comparisons are LEAKPROOF, so an index serves them under row-level security.
    t.specificType('value_number', 'double precision');
    t.timestamp('value_time', { useTz: true });
    t.text('unique_value');
    t.index(['tenant_id', 'field_id', 'value_text', 'record_id'], 'custom_field_values_text_idx');
    t.index(['tenant_id', 'field_id', 'value_number', 'record_id'], 'custom_field_values_number_idx', { predicate: knex.whereNotNull('value_number') });
    t.index(['tenant_id', 'field_id', 'value_time', 'record_id'], 'custom_field_values_time_idx', { predicate: knex.whereNotNull('value_time') });
    t.index(['tenant_id', 'record_id'], 'custom_field_values_record_idx');
  });
  await knex.raw(
    'CREATE UNIQUE INDEX custom_field_values_unique_value ON custom_field_values (tenant_id, field_id, unique_value) WHERE unique_value IS NOT NULL',
  );
  await isolateTenantTable(knex, 'custom_field_values');
  await grantPlatformRead(knex, 'custom_field_values');
  await tenantForeignKey(knex, 'custom_field_values', 'field_id', 'custom_fields', { onDelete: 'cascade' });

  const platform = await platformGroupRole(knex);
  await knex.raw(CHECK_FUNCTION);
  await knex.raw(VALUES_FUNCTION);
  await prepareTrigger(knex);
  for (const table of CRM_TABLES) {
    await knex.schema.alterTable(table, (t) => {
      t.jsonb('custom_fields').notNullable().defaultTo('{}');
      t.specificType('custom_search', 'tsvector');
      t.index(['tenant_id', 'custom_search'], `${table}_custom_search_idx`, { storageEngineIndexType: 'gin', predicate: knex.whereNotNull('custom_search') });
    });
    await knex.raw('GRANT SELECT (custom_fields, custom_search) ON ?? TO ??', [table, platform]);
    await knex.raw(
      `CREATE TRIGGER ?? BEFORE INSERT OR UPDATE OF custom_fields ON ?? FOR EACH ROW EXECUTE FUNCTION app_custom_fields_check()`,
      [`${table}_custom_fields_check`, table],
    );
    await knex.raw(
      `CREATE TRIGGER ?? AFTER INSERT OR UPDATE OF custom_fields, deleted_at OR DELETE ON ?? FOR EACH ROW EXECUTE FUNCTION app_custom_field_values()`,
      [`${table}_custom_field_values`, table],
    );
  }

  for (const [plan, limit] of Object.entries(QUOTAS)) {
    await knex.raw(`UPDATE plans SET quotas = quotas || jsonb_build_object('customFields', ?::int) WHERE code = ?`, [limit, plan]);
  }
  await addPermissions(knex, NEW_PERMISSIONS, GRANTED);
};

exports.down = async function down(knex) {
  await removePermissions(knex, Object.keys(NEW_PERMISSIONS));
  await knex.raw(`UPDATE plans SET quotas = quotas - 'customFields'`);
  for (const table of CRM_TABLES) {
    await knex.raw('DROP TRIGGER ?? ON ??', [`${table}_custom_field_values`, table]);
    await knex.raw('DROP TRIGGER ?? ON ??', [`${table}_custom_fields_check`, table]);
    await knex.schema.alterTable(table, (t) => {
      t.dropColumn('custom_search');
      t.dropColumn('custom_fields');
    });
  }
  await knex.raw('DROP FUNCTION app_custom_field_values()');
  await knex.raw('DROP FUNCTION app_custom_fields_check()');
  await knex.schema.dropTable('custom_field_values');
  await knex.schema.dropTable('custom_fields');
};
