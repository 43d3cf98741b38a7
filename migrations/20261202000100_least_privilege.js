'use strict';
const { runtimeGroupRole, platformGroupRole } = require('./support/tenant-table');
const { jobsRoleFor } = require('./support/role-names');
const { createNoLoginRole } = require('./support/no-login-role');
const { quoteIdent } = require('./support/sql-quote');

/**
 * Each role gets only what its code needs (issue 14, "Database privileges"):
 *
 * - The runtime role (tenant requests) loses every privilege on the platform's own tables: staff accounts,
 *   their sessions, refresh tokens, recovery codes, MFA challenges and the platform audit log. Staff sign-in
 *   and the console run on the platform pool, which gets them instead. A staff action that writes tenant
 *   data (a support reply, a tenant made from the console) records its platform audit entry in the same
 *   tenant transaction through app_record_platform_audit(), which writes only entries about the bound
 *   tenant, by an existing staff member.
 * - sign_in_throttles (global, keyed by address hash) gets row-level security: the runtime role sees and
 *   writes the tenant scopes (user sign-in, password reset) only, so it cannot clear or read staff lockouts;
 *   the platform role all of it (staff sign-in, and the daily clean-up).
 * - On `tenants` the runtime role may UPDATE only the columns its own flows write (settings, deletion
 *   request, Stripe references...), never plan, status, suspension or billing status. A plan or billing
 *   status that follows a verified Stripe event or a lapsed trial goes through app_set_tenant_billing_state().
 * - The job engine gets a role of its own (`<db>_jobs`): graphile-worker's schema (granted by the migrator,
 *   which installs that schema after these migrations), the audit sealer's and pruner's columns, and
 *   app_purge_due_tenant() to erase an organization whose deletion is due. No process but `npm run migrate`
 *   holds the owner's credentials any more.
 */
const PLATFORM_TABLES = [
  'platform_admins',
  'platform_admin_sessions',
  'platform_admin_refresh_tokens',
  'platform_admin_recovery_codes',
  'platform_mfa_challenges',
];

/** What the runtime role may not set on its own tenant row: the platform's (and billing's) decisions. */
const TENANT_GUARDED_COLUMNS = ['id', 'plan', 'status', 'suspended_at', 'suspended_reason', 'billing_status', 'created_at'];

const RECORD_PLATFORM_AUDIT = `
  CREATE FUNCTION app_record_platform_audit(entries jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  DECLARE
    tenant uuid := app_current_tenant();
    entry jsonb;
  BEGIN
    IF tenant IS NULL THEN RAISE EXCEPTION 'app_record_platform_audit needs a bound tenant'; END IF;
    FOR entry IN SELECT * FROM jsonb_array_elements(entries) LOOP
      IF (entry->>'tenant_id')::uuid IS DISTINCT FROM tenant THEN
        RAISE EXCEPTION 'a platform audit entry written in a tenant transaction is about that tenant';
      END IF;
      IF NOT EXISTS (SELECT 1 FROM platform_admins WHERE id = (entry->>'actor_id')::uuid) THEN
        RAISE EXCEPTION 'a platform audit entry names a staff member';
      END IF;
      INSERT INTO platform_audit_logs (actor_type, actor_id, action, tenant_id, target_type, target_id, details, ip, user_agent, request_id)
      VALUES ('platform_admin', (entry->>'actor_id')::uuid, entry->>'action', tenant, entry->>'target_type',
              (entry->>'target_id')::uuid, entry->'details', (entry->>'ip')::inet, entry->>'user_agent', entry->>'request_id');
    END LOOP;
  END $$`;

const SET_BILLING_STATE = `
  CREATE FUNCTION app_set_tenant_billing_state(new_plan text, new_billing_status text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  DECLARE
    tenant uuid := app_current_tenant();
  BEGIN
    IF tenant IS NULL THEN RAISE EXCEPTION 'app_set_tenant_billing_state needs a bound tenant'; END IF;
    UPDATE tenants SET plan = coalesce(new_plan, plan), billing_status = coalesce(new_billing_status, billing_status)
     WHERE id = tenant;
  END $$`;

/**
 * The purge, as one statement the jobs role may run: the tenant row goes only when its deletion is due
 * (a cancelled or postponed one makes it a no-op, answered false); the cascade takes every tenant table;
 * a table that kept a row aborts it all; a tombstone (tenant id and time) stays in the platform audit log.
 */
const PURGE_DUE_TENANT = `
  CREATE FUNCTION app_purge_due_tenant(tenant uuid) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  DECLARE
    tenant_table text;
    left_rows bigint;
  BEGIN
    PERFORM set_config('app.tenant_id', tenant::text, true);
    PERFORM 1 FROM tenants WHERE id = tenant AND deletion_scheduled_for IS NOT NULL AND deletion_scheduled_for <= now() FOR UPDATE;
    IF NOT FOUND THEN RETURN false; END IF;
    DELETE FROM tenants WHERE id = tenant;
    FOR tenant_table IN
      SELECT c.relname FROM pg_class c
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND c.relrowsecurity
    LOOP
      EXECUTE format('SELECT count(*) FROM %I WHERE tenant_id = $1', tenant_table) INTO left_rows USING tenant;
      IF left_rows > 0 THEN RAISE EXCEPTION 'Purge left rows of the tenant in %', tenant_table; END IF;
    END LOOP;
    INSERT INTO platform_audit_logs (actor_type, action, tenant_id, target_type, target_id)
    VALUES ('system', 'tenant.purged', tenant, 'tenant', tenant);
    RETURN true;
  END $$`;

async function tenantColumnsExcept(knex, excluded) {
  const { rows } = await knex.raw(
    "select column_name from information_schema.columns where table_schema = 'public' and table_name = 'tenants' order by ordinal_position",
  );
  return rows.map((row) => row.column_name).filter((name) => !excluded.includes(name));
}

async function jobsGroupRole(knex) {
  const { rows } = await knex.raw('select current_database() as db');
  return jobsRoleFor(rows[0].db);
}

exports.up = async function up(knex) {
  const runtime = await runtimeGroupRole(knex);
  const platform = await platformGroupRole(knex);

  for (const table of PLATFORM_TABLES) {
    await knex.raw('REVOKE ALL ON ?? FROM ??', [table, runtime]);
    await knex.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON ?? TO ??', [table, platform]);
  }
  await knex.raw('REVOKE ALL ON platform_audit_logs FROM ??', [runtime]);
  await knex.raw(RECORD_PLATFORM_AUDIT);
  await knex.raw('REVOKE ALL ON FUNCTION app_record_platform_audit(jsonb) FROM PUBLIC');
  await knex.raw('GRANT EXECUTE ON FUNCTION app_record_platform_audit(jsonb) TO ??', [runtime]);

  await knex.raw('ALTER TABLE sign_in_throttles ENABLE ROW LEVEL SECURITY');
  await knex.raw('CREATE POLICY platform_read ON sign_in_throttles FOR SELECT TO ?? USING (true)', [platform]);
  await knex.raw('CREATE POLICY platform_write ON sign_in_throttles FOR ALL TO ?? USING (true) WITH CHECK (true)', [platform]);
  await knex.raw(
    "CREATE POLICY tenant_sign_in ON sign_in_throttles FOR ALL TO ?? USING (scope <> 'staff_login') WITH CHECK (scope <> 'staff_login')",
    [runtime],
  );

  await knex.raw('REVOKE UPDATE ON tenants FROM ??', [runtime]);
  const writable = await tenantColumnsExcept(knex, TENANT_GUARDED_COLUMNS);
  await knex.raw(`GRANT UPDATE (${writable.map(quoteIdent).join(', ')}) ON tenants TO ??`, [runtime]);
  await knex.raw(SET_BILLING_STATE);
  await knex.raw('REVOKE ALL ON FUNCTION app_set_tenant_billing_state(text, text) FROM PUBLIC');
  await knex.raw('GRANT EXECUTE ON FUNCTION app_set_tenant_billing_state(text, text) TO ??', [runtime]);

  const jobs = await jobsGroupRole(knex);
  await createNoLoginRole(knex, jobs);
  await knex.raw('GRANT USAGE ON SCHEMA public TO ??', [jobs]);
  await knex.raw('GRANT EXECUTE ON FUNCTION app_current_tenant() TO ??', [jobs]);
  // The sealer: reads pending entries of the bound tenant, sets their seal (the guard trigger allows it once).
  await knex.raw('GRANT SELECT ON audit_logs TO ??', [jobs]);
  await knex.raw('GRANT UPDATE (seq, prev_hash, hash) ON audit_logs TO ??', [jobs]);
  await knex.raw('GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO ??', [jobs]);
  // Retention: archives then deletes a sealed prefix (the guard allows DELETE under app.audit_prune).
  await knex.raw('GRANT DELETE ON audit_logs TO ??', [jobs]);
  await knex.raw('GRANT INSERT ON audit_archives TO ??', [jobs]);
  await knex.raw(PURGE_DUE_TENANT);
  await knex.raw('REVOKE ALL ON FUNCTION app_purge_due_tenant(uuid) FROM PUBLIC');
  await knex.raw('GRANT EXECUTE ON FUNCTION app_purge_due_tenant(uuid) TO ??', [jobs]);
};

exports.down = async function down(knex) {
  const runtime = await runtimeGroupRole(knex);
  const platform = await platformGroupRole(knex);
  const jobs = await jobsGroupRole(knex);

  await knex.raw('DROP FUNCTION app_purge_due_tenant(uuid)');
  await knex.raw('REVOKE ALL ON audit_archives FROM ??', [jobs]);
  await knex.raw('REVOKE ALL ON audit_chain_heads FROM ??', [jobs]);
  await knex.raw('REVOKE ALL ON audit_logs FROM ??', [jobs]);
  await knex.raw('REVOKE EXECUTE ON FUNCTION app_current_tenant() FROM ??', [jobs]);
  await knex.raw('REVOKE USAGE ON SCHEMA public FROM ??', [jobs]);

  await knex.raw('DROP FUNCTION app_set_tenant_billing_state(text, text)');
  await knex.raw('REVOKE UPDATE ON tenants FROM ??', [runtime]);
  await knex.raw('GRANT UPDATE ON tenants TO ??', [runtime]);

  await knex.raw('DROP POLICY tenant_sign_in ON sign_in_throttles');
  await knex.raw('DROP POLICY platform_write ON sign_in_throttles');
  await knex.raw('DROP POLICY platform_read ON sign_in_throttles');
  await knex.raw('ALTER TABLE sign_in_throttles DISABLE ROW LEVEL SECURITY');

  await knex.raw('DROP FUNCTION app_record_platform_audit(jsonb)');
  await knex.raw('GRANT SELECT, INSERT ON platform_audit_logs TO ??', [runtime]);
  await knex.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON platform_admins TO ??', [runtime]);
  await knex.raw('GRANT SELECT, INSERT, UPDATE ON platform_admin_sessions TO ??', [runtime]);
  await knex.raw('GRANT SELECT, INSERT, UPDATE ON platform_admin_refresh_tokens TO ??', [runtime]);
  await knex.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON platform_admin_recovery_codes TO ??', [runtime]);
  await knex.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON platform_mfa_challenges TO ??', [runtime]);
  // The platform role's read of staff accounts was per column (no password hash); the rest it never had.
  for (const table of PLATFORM_TABLES) await knex.raw('REVOKE ALL ON ?? FROM ??', [table, platform]);
  const { rows } = await knex.raw(
    "select column_name from information_schema.columns where table_schema = 'public' and table_name = 'platform_admins' and column_name <> 'password_hash' order by ordinal_position",
  );
  await knex.raw(`GRANT SELECT (${rows.map((row) => quoteIdent(row.column_name)).join(', ')}) ON platform_admins TO ??`, [platform]);
};

