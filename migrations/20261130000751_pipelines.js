'use strict';
/**
 * Deal pipelines per tenant. A deal's (pipeline_id, stage) is a foreign key to its pipeline's stages, so
 * a stage that is not the pipeline's, or removing a stage a deal is in, fails in the database whatever
 * path writes. Every tenant has a default pipeline holding the six stages deals had before, made by one
 * function (app_create_default_pipeline) for the tenants of today, sign-ups and the demo seeds alike.
 */
const { tenantColumns, tenantForeignKey, isolateTenantTable, touchUpdatedAt, grantPlatformRead, platformGroupRole, runtimeGroupRole } = require('./support/tenant-table');
const { distributeTenantTable, prepareTrigger } = require('./support/distribution');

const DEFAULT_PIPELINE = `
  CREATE OR REPLACE FUNCTION app_create_default_pipeline(tenant uuid) RETURNS uuid
  LANGUAGE plpgsql
  AS $$
  DECLARE
    pipeline uuid;
  BEGIN
    INSERT INTO pipelines (tenant_id, name, is_default) VALUES (tenant, 'Sales pipeline', true) RETURNING id INTO pipeline;
    INSERT INTO pipeline_stages (tenant_id, pipeline_id, key, name, probability, kind, position)
    SELECT tenant, pipeline, s.key, s.name, s.probability, s.kind, s.position
      FROM (VALUES ('qualification', 'Qualification', 10, 'open', 0),
                   ('needs_analysis', 'Needs analysis', 25, 'open', 1),
                   ('proposal', 'Proposal', 50, 'open', 2),
                   ('negotiation', 'Negotiation', 75, 'open', 3),
                   ('closed_won', 'Closed won', 100, 'won', 4),
                   ('closed_lost', 'Closed lost', 0, 'lost', 5)) AS s(key, name, probability, kind, position);
    RETURN pipeline;
  END $$`;

/** A deal written without a pipeline joins the default one, without a stage the pipeline's first (imports, seeds). */
const DEAL_DEFAULTS = `
  CREATE OR REPLACE FUNCTION app_deal_pipeline_defaults() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
  BEGIN
    IF NEW.pipeline_id IS NULL THEN
      SELECT id INTO NEW.pipeline_id FROM pipelines WHERE tenant_id = NEW.tenant_id AND is_default;
    END IF;
    IF NEW.stage IS NULL THEN
      SELECT key INTO NEW.stage FROM pipeline_stages
       WHERE tenant_id = NEW.tenant_id AND pipeline_id = NEW.pipeline_id ORDER BY position LIMIT 1;
    END IF;
    RETURN NEW;
  END $$`;

const FORCED = ['tenants', 'pipelines', 'pipeline_stages', 'deals'];

exports.up = async function up(knex) {
  await knex.schema.createTable('pipelines', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.text('name').notNullable();
    t.boolean('is_default').notNullable().defaultTo(false);
    t.unique(['tenant_id', 'name'], { indexName: 'pipelines_name_unique' });
    t.index(['tenant_id', 'created_at', 'id']);
  });
  await knex.raw('CREATE UNIQUE INDEX pipelines_default_unique ON pipelines (tenant_id) WHERE is_default');
  await isolateTenantTable(knex, 'pipelines');
  await touchUpdatedAt(knex, 'pipelines');
  await grantPlatformRead(knex, 'pipelines');

  await knex.schema.createTable('pipeline_stages', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.uuid('pipeline_id').notNullable();
    t.text('key').notNullable().checkRegex('^[a-z][a-z0-9_]{0,39}$', 'pipeline_stages_key_check');
    t.text('name').notNullable();
    t.integer('probability').notNullable().checkBetween([0, 100], 'pipeline_stages_probability_check');
    t.text('kind').notNullable().checkIn(['open', 'won', 'lost'], 'pipeline_stages_kind_check');
    t.integer('position').notNullable();
    t.unique(['tenant_id', 'pipeline_id', 'key'], { indexName: 'pipeline_stages_key_unique' });
  });
  await isolateTenantTable(knex, 'pipeline_stages');
  await touchUpdatedAt(knex, 'pipeline_stages');
  await grantPlatformRead(knex, 'pipeline_stages');
  await tenantForeignKey(knex, 'pipeline_stages', 'pipeline_id', 'pipelines', { onDelete: 'cascade' });
  await knex.raw(DEFAULT_PIPELINE);
  // Sign-up calls it as the runtime role; nobody else needs it.
  await knex.raw('REVOKE ALL ON FUNCTION app_create_default_pipeline(uuid) FROM PUBLIC');
  await knex.raw('GRANT EXECUTE ON FUNCTION app_create_default_pipeline(uuid) TO ??', [await runtimeGroupRole(knex)]);

  // Stages are the pipelines' from now on: the built-in list stops being a column check.
  await knex.raw('ALTER TABLE deals DROP CONSTRAINT deals_stage_check, ALTER COLUMN stage DROP DEFAULT');
  await knex.raw('ALTER TABLE deal_stage_changes DROP CONSTRAINT deal_stage_changes_from_stage_check, DROP CONSTRAINT deal_stage_changes_to_stage_check');
  await knex.schema.alterTable('deals', (t) => {
    t.uuid('pipeline_id');
    t.index(['tenant_id', 'pipeline_id', 'stage']);
  });

  // The owner gives every tenant of today its default pipeline; forced row-level security is lifted inside this transaction only.
  for (const table of FORCED) await knex.raw('ALTER TABLE ?? NO FORCE ROW LEVEL SECURITY', [table]);
  await knex.raw('SELECT app_create_default_pipeline(id) FROM tenants');
  // A new column is no change of the deal's: updated_at stays as it was.
  await knex.raw('ALTER TABLE deals DISABLE TRIGGER deals_touch_updated_at');
  await knex.raw('UPDATE deals d SET pipeline_id = p.id FROM pipelines p WHERE p.tenant_id = d.tenant_id AND p.is_default');
  await knex.raw('ALTER TABLE deals ENABLE TRIGGER deals_touch_updated_at');
  for (const table of FORCED) await knex.raw('ALTER TABLE ?? FORCE ROW LEVEL SECURITY', [table]);

  await knex.raw('ALTER TABLE deals ALTER COLUMN pipeline_id SET NOT NULL');
  await distributeTenantTable(knex, 'deals');
  await knex.raw(
    'ALTER TABLE deals ADD CONSTRAINT deals_stage_fkey FOREIGN KEY (tenant_id, pipeline_id, stage) REFERENCES pipeline_stages (tenant_id, pipeline_id, key)',
  );
  await knex.raw('GRANT SELECT (pipeline_id) ON deals TO ??', [await platformGroupRole(knex)]);
  await knex.raw(DEAL_DEFAULTS);
  await prepareTrigger(knex);
  await knex.raw('CREATE TRIGGER deals_pipeline_defaults BEFORE INSERT ON deals FOR EACH ROW EXECUTE FUNCTION app_deal_pipeline_defaults()');
};

exports.down = async function down(knex) {
  const stages = "'qualification', 'needs_analysis', 'proposal', 'negotiation', 'closed_won', 'closed_lost'";
  await knex.raw('DROP TRIGGER deals_pipeline_defaults ON deals');
  await knex.raw('DROP FUNCTION app_deal_pipeline_defaults()');
  await knex.raw('ALTER TABLE deals DROP CONSTRAINT deals_stage_fkey');
  await knex.schema.alterTable('deals', (t) => {
    t.dropIndex(['tenant_id', 'pipeline_id', 'stage']);
    t.dropColumn('pipeline_id');
  });
  await knex.raw(`ALTER TABLE deals ALTER COLUMN stage SET DEFAULT 'qualification', ADD CONSTRAINT deals_stage_check CHECK (stage IN (${stages})) NOT VALID`);
  await knex.raw(`ALTER TABLE deal_stage_changes ADD CONSTRAINT deal_stage_changes_from_stage_check CHECK (from_stage IN (${stages})) NOT VALID`);
  await knex.raw(`ALTER TABLE deal_stage_changes ADD CONSTRAINT deal_stage_changes_to_stage_check CHECK (to_stage IN (${stages})) NOT VALID`);
  await knex.raw('DROP FUNCTION app_create_default_pipeline(uuid)');
  await knex.schema.dropTable('pipeline_stages');
  await knex.schema.dropTable('pipelines');
};
