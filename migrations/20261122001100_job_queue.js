'use strict';
/**
 * Background jobs run on graphile-worker, whose schema (graphile_worker) the migrator installs after
 * these migrations, as the same owner. The runtime role gets no access to that schema: a request
 * enqueues through app_enqueue_job, which runs as the owner, stamps the caller's tenant into the
 * payload and namespaces the job key by tenant, so a tenant can only ever cause work on its own data
 * and can neither see nor replace another tenant's jobs.
 *
 * audit_archives holds what audit retention pruned: the stored rows as gzipped NDJSON (personal
 * values still encrypted under their subjects' keys, so erasure shreds archives too).
 */
const {
  tenantColumns,
  isolateTenantTable,
  grantPlatformRead,
  runtimeGroupRole,
} = require('./support/tenant-table');

const ENQUEUE = `
  CREATE FUNCTION app_enqueue_job(
    task text,
    payload jsonb DEFAULT '{}'::jsonb,
    run_at timestamptz DEFAULT NULL,
    job_key text DEFAULT NULL,
    max_attempts integer DEFAULT NULL
  ) RETURNS bigint
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path = pg_catalog, public
  AS $$
  DECLARE
    tenant uuid := app_current_tenant();
    job_id bigint;
  BEGIN
    IF tenant IS NULL THEN
      RAISE EXCEPTION 'app_enqueue_job needs a tenant scope' USING ERRCODE = '42501';
    END IF;
    IF task !~ '^[a-z][a-z0-9_.-]{0,100}$' THEN
      RAISE EXCEPTION 'invalid job task name' USING ERRCODE = '22023';
    END IF;
    IF octet_length(payload::text) > 65536 THEN
      RAISE EXCEPTION 'job payload too large' USING ERRCODE = '22023';
    END IF;
    SELECT (graphile_worker.add_job(
      identifier => task,
      payload => (payload || jsonb_build_object('tenantId', tenant))::json,
      run_at => run_at,
      max_attempts => max_attempts,
      job_key => CASE WHEN job_key IS NULL THEN NULL ELSE tenant::text || ':' || job_key END
    )).id INTO job_id;
    RETURN job_id;
  END $$`;

exports.up = async function up(knex) {
  await knex.raw(ENQUEUE);
  await knex.raw('REVOKE ALL ON FUNCTION app_enqueue_job(text, jsonb, timestamptz, text, integer) FROM PUBLIC');
  await knex.raw('GRANT EXECUTE ON FUNCTION app_enqueue_job(text, jsonb, timestamptz, text, integer) TO ??', [
    await runtimeGroupRole(knex),
  ]);

  await knex.schema.createTable('audit_archives', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.bigInteger('first_seq').notNullable();
    t.bigInteger('last_seq').notNullable();
    t.integer('entry_count').notNullable();
    t.timestamp('oldest_at', { useTz: true }).notNullable();
    t.timestamp('newest_at', { useTz: true }).notNullable();
    // Hash of the last archived entry: the chain's anchor after this prune.
    t.text('last_hash').notNullable();
    t.text('content_sha256').notNullable();
    t.binary('content').notNullable();
    t.unique(['tenant_id', 'first_seq']);
    t.index(['tenant_id', 'created_at', 'id']);
  });
  // Written by the retention job as the owner; the runtime role only reads (download).
  await isolateTenantTable(knex, 'audit_archives', { privileges: 'SELECT' });
  await grantPlatformRead(knex, 'audit_archives');
};

exports.down = async function down(knex) {
  await knex.schema.dropTable('audit_archives');
  await knex.raw('DROP FUNCTION app_enqueue_job(text, jsonb, timestamptz, text, integer)');
};
