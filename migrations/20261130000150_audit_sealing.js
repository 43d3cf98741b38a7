'use strict';
const { runtimeGroupRole, platformGroupRole } = require('./support/tenant-table');
const { citusInstalled } = require('./support/distribution');

/**
 * The audit chain is sealed off the request path. A request appends its entries unsealed (seq,
 * prev_hash and hash null) without touching the tenant's chain head, so a tenant's writers never
 * queue behind each other; the sealer (job `audit.seal`, as the schema owner) takes the tenant's
 * head row lock, gives the pending entries consecutive seqs in append order and hashes them.
 *
 * Append-only stays enforced by the database, for every role including the owner:
 * - an entry is born unsealed (an INSERT naming seq, prev_hash or hash is refused);
 * - the only UPDATE allowed is sealing: seq and hash from NULL to a value (prev_hash with them),
 *   once, with every other column unchanged; any other UPDATE is refused;
 * - DELETE only for retention pruning (app.audit_prune) or a purged tenant, as before;
 * - the runtime role has no UPDATE privilege at all (so it cannot even seal), may INSERT only the
 *   columns a writer fills (naming seq, prev_hash or hash is a permission error, checked before any
 *   trigger or policy), and no longer writes the chain heads: only the sealer and pruning (the owner) do.
 *
 * append_id (an identity, drawn at insert) is the append order: the order the sealer seals in, and
 * the order readers list entries in, pending ones included.
 */
const GUARD = `
  CREATE FUNCTION app_guard_audit_log() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
  DECLARE
    seal_columns constant text[] := array['seq', 'prev_hash', 'hash'];
  BEGIN
    IF TG_OP = 'INSERT' THEN
      IF NEW.seq IS NOT NULL OR NEW.prev_hash IS NOT NULL OR NEW.hash IS NOT NULL THEN
        RAISE EXCEPTION 'audit_logs entries are appended unsealed: only the sealer sets seq, prev_hash and hash';
      END IF;
      RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
      IF OLD.seq IS NULL AND OLD.hash IS NULL AND OLD.prev_hash IS NULL
         AND NEW.seq IS NOT NULL AND NEW.hash IS NOT NULL
         AND to_jsonb(NEW) - seal_columns = to_jsonb(OLD) - seal_columns THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'audit_logs is append-only: UPDATE refused (only sealing an unsealed entry, once)';
    END IF;
    IF current_setting('app.audit_prune', true) = 'on' THEN
      RETURN OLD;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id) THEN
      RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_logs is append-only: DELETE refused';
  END $$`;

/** What a writer fills: every column but the seal and the identity. A column added later needs its grant too. */
const SEALER_COLUMNS = ['seq', 'prev_hash', 'hash', 'append_id'];

async function writerColumns(knex) {
  const { rows } = await knex.raw(
    "select column_name from information_schema.columns where table_schema = 'public' and table_name = 'audit_logs' order by ordinal_position",
  );
  return rows.map((row) => row.column_name).filter((name) => !SEALER_COLUMNS.includes(name));
}

/**
 * append_id draws from an identity. Citus refuses to add an identity to a distributed table (and a sequence
 * OWNED BY one), so on a Citus coordinator it is a default drawn from a sequence of its own, evaluated on the
 * coordinator: the same numbers in the same order. Citus sends the coordinator's value to the shard as if
 * the INSERT had named the column, so there the runtime role may insert append_id and draw from the
 * sequence (a default needs USAGE, an identity not); on plain PostgreSQL it may name neither.
 */
async function drawAppendIds(knex, start, runtime) {
  if (!(await citusInstalled(knex))) {
    await knex.raw(`ALTER TABLE audit_logs ALTER COLUMN append_id ADD GENERATED ALWAYS AS IDENTITY (START WITH ${start})`);
    return;
  }
  await knex.raw(`CREATE SEQUENCE audit_logs_append_id_seq AS bigint START WITH ${start}`);
  await knex.raw("ALTER TABLE audit_logs ALTER COLUMN append_id SET DEFAULT nextval('audit_logs_append_id_seq')");
  await knex.raw('GRANT USAGE ON SEQUENCE audit_logs_append_id_seq TO ??', [runtime]);
}

const quoted = (columns) => columns.map((name) => `"${name}"`).join(', ');

/** Row-level security is forced on the owner too: the backfill must see every tenant's rows. */
async function withoutForcedRls(knex, fn) {
  await knex.raw('ALTER TABLE audit_logs NO FORCE ROW LEVEL SECURITY');
  await fn();
  await knex.raw('ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY');
}

exports.up = async function up(knex) {
  const runtime = await runtimeGroupRole(knex);
  const platform = await platformGroupRole(knex);

  await knex.raw('DROP TRIGGER audit_logs_refuse_mutation ON audit_logs');
  await knex.raw('ALTER TABLE audit_logs ADD COLUMN append_id bigint');
  await withoutForcedRls(knex, async () => {
    // Entries so far were sealed as they were written: their append order is their chain order.
    await knex.raw(`
      UPDATE audit_logs a SET append_id = n.position
      FROM (SELECT tenant_id, id, row_number() OVER (ORDER BY occurred_at, tenant_id, seq) AS position FROM audit_logs) n
      WHERE a.tenant_id = n.tenant_id AND a.id = n.id`);
    const { rows } = await knex.raw('SELECT coalesce(max(append_id), 0) + 1 AS next FROM audit_logs');
    await knex.raw('ALTER TABLE audit_logs ALTER COLUMN append_id SET NOT NULL');
    await drawAppendIds(knex, Number(rows[0].next), runtime);
  });
  await knex.raw('ALTER TABLE audit_logs ALTER COLUMN seq DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL');
  await knex.raw(`ALTER TABLE audit_logs ADD CONSTRAINT audit_logs_sealed_check
    CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NOT NULL OR prev_hash IS NULL))`);
  await knex.raw('CREATE UNIQUE INDEX audit_logs_tenant_append_idx ON audit_logs (tenant_id, append_id)');
  // What the sealer and the backlog probes read: small, since entries leave it once sealed.
  await knex.raw('CREATE INDEX audit_logs_pending_idx ON audit_logs (tenant_id, append_id) WHERE seq IS NULL');

  await knex.raw(GUARD);
  await knex.raw('CREATE TRIGGER audit_logs_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_logs FOR EACH ROW EXECUTE FUNCTION app_guard_audit_log()');

  await knex.raw('REVOKE INSERT ON audit_logs FROM ??', [runtime]);
  await knex.raw(`GRANT INSERT (${quoted(await writerColumns(knex))}) ON audit_logs TO ??`, [runtime]);
  if (await citusInstalled(knex)) await knex.raw('GRANT INSERT (append_id) ON audit_logs TO ??', [runtime]);
  await knex.raw('GRANT SELECT (append_id) ON audit_logs TO ??', [platform]);
  await knex.raw('REVOKE INSERT, UPDATE ON audit_chain_heads FROM ??', [runtime]);
};

exports.down = async function down(knex) {
  const runtime = await runtimeGroupRole(knex);
  const platform = await platformGroupRole(knex);
  await knex.raw('GRANT INSERT, UPDATE ON audit_chain_heads TO ??', [runtime]);
  await knex.raw('REVOKE SELECT (append_id) ON audit_logs FROM ??', [platform]);
  await knex.raw(`REVOKE INSERT (${quoted(await writerColumns(knex))}) ON audit_logs FROM ??`, [runtime]);
  await knex.raw('GRANT INSERT ON audit_logs TO ??', [runtime]);
  await knex.raw('DROP TRIGGER audit_logs_guard ON audit_logs');
  await knex.raw('DROP FUNCTION app_guard_audit_log()');
  await knex.raw('DROP INDEX audit_logs_pending_idx');
  await knex.raw('DROP INDEX audit_logs_tenant_append_idx');
  await knex.raw('ALTER TABLE audit_logs DROP CONSTRAINT audit_logs_sealed_check');
  // Fails while entries are pending: run the sealer (job audit.seal) before rolling back.
  await knex.raw('ALTER TABLE audit_logs ALTER COLUMN seq SET NOT NULL, ALTER COLUMN hash SET NOT NULL');
  await knex.raw('ALTER TABLE audit_logs DROP COLUMN append_id');
  await knex.raw('DROP SEQUENCE IF EXISTS audit_logs_append_id_seq');
  await knex.raw(
    "CREATE TRIGGER audit_logs_refuse_mutation BEFORE UPDATE OR DELETE ON audit_logs FOR EACH ROW EXECUTE FUNCTION app_refuse_audit_mutation('tenant')",
  );
};
