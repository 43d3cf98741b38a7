'use strict';
/**
 * Job fairness: app_enqueue_job puts each job in a lane the database picks from its task, so no code
 * path (and no tenant) can choose its own place in the shared queue.
 *
 * - Mails (`notifications.*`) get priority -10: graphile-worker fetches by `priority asc, run_at asc`,
 *   so a password-reset or invitation mail is the next job taken even behind hours of bulk work.
 * - Bulk work gets priority 10 and a named queue per tenant (`webhooks:<tenant>`, `exports:<tenant>`):
 *   graphile-worker runs the jobs of one named queue one at a time, so one tenant's backlog (a 100k-row
 *   import fanned out to a `*` webhook on a slow receiver) holds at most one worker slot per queue while
 *   the other slots serve everyone else. This relies on the engine running without `localQueue`
 *   (graphile/worker#621: with it, jobs of one named queue may run concurrently).
 * - Everything else keeps priority 0 and no queue, as before.
 *
 * CREATE OR REPLACE with the same signature keeps the function's owner and grants.
 */
const define = (body) => `
  CREATE OR REPLACE FUNCTION app_enqueue_job(
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
    lane_priority integer := 0;
    lane_queue text := NULL;
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
${body}
    SELECT (graphile_worker.add_job(
      identifier => task,
      payload => (payload || jsonb_build_object('tenantId', tenant))::json,
      queue_name => lane_queue,
      run_at => run_at,
      max_attempts => max_attempts,
      job_key => CASE WHEN job_key IS NULL THEN NULL ELSE tenant::text || ':' || job_key END,
      priority => lane_priority
    )).id INTO job_id;
    RETURN job_id;
  END $$`;

const LANES = `
    IF task LIKE 'notifications.%' THEN
      lane_priority := -10;
    ELSIF task = 'webhooks.deliver' THEN
      lane_priority := 10;
      lane_queue := 'webhooks:' || tenant::text;
    ELSIF task = 'organization.export' THEN
      lane_priority := 10;
      lane_queue := 'exports:' || tenant::text;
    END IF;`;

exports.up = async function up(knex) {
  await knex.raw(define(LANES));
};

exports.down = async function down(knex) {
  await knex.raw(define(''));
};
