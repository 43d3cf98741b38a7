'use strict';
/**
 * Duplicates and merge (GET /{leads|contacts|accounts}/:id/duplicates, POST .../:id/merge, POST
 * /merges/:id/undo). A merged record is soft-deleted with `merged_into` naming its survivor; `merges`
 * keeps what each merge moved (links of activities, tasks, deals, contacts, tickets, converted leads) and
 * the survivor's fields it overwrote, so that an undo restores every record and link.
 *
 * The duplicate search compares `dup_*` columns, generated from the record (a normalized email: lowercase,
 * `+tag` dropped; its domain; the last 8 digits of a phone, whose E.164 form the application compares; a
 * lowercased name), each indexed. Stored columns rather than expression indexes: under row-level security
 * PostgreSQL uses an index only for a condition whose functions are all LEAKPROOF, and `lower()` or
 * `regexp_replace()` in the condition are not, so an expression index was never used (a sequential scan of
 * the tenant's rows, 2.7 s at 200,000 leads). A plain column compared with `=` is. The name's trigram
 * match (`%`, pg_trgm's similarity_op) is marked LEAKPROOF when migrations run as a superuser (it compares
 * two texts and raises no error that depends on them), as 20261122001000_search_under_rls.js does for
 * full-text search; docker/postgres/init-owner.sh does it for a schema owner without superuser rights.
 * Without either, the search still works, reading the tenant's live rows.
 */
const { tenantColumns, isolateTenantTable, grantPlatformRead, touchUpdatedAt } = require('./support/tenant-table');

const EMAIL = "lower(regexp_replace(email::text, '\\+[^@]*@', '@'))";
const EMAIL_DOMAIN = "nullif(lower(split_part(email::text, '@', 2)), '')";
const PHONE_TAIL = "nullif(right(regexp_replace(phone, '[^0-9]', '', 'g'), 8), '')";
const PERSON_NAME = "nullif(lower(btrim(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))), '')";

const DUPLICATE_KEYS = {
  leads: { dup_email: EMAIL, dup_email_domain: EMAIL_DOMAIN, dup_phone_tail: PHONE_TAIL, dup_name: PERSON_NAME },
  contacts: { dup_email: EMAIL, dup_email_domain: EMAIL_DOMAIN, dup_phone_tail: PHONE_TAIL, dup_name: PERSON_NAME },
  accounts: { dup_domain: 'lower(domain)', dup_phone_tail: PHONE_TAIL, dup_name: 'lower(name)' },
};

const MARK = 'ALTER FUNCTION similarity_op(text, text) LEAKPROOF';
const UNMARK = 'ALTER FUNCTION similarity_op(text, text) NOT LEAKPROOF';

async function asSuperuser(knex, statement) {
  const { rows } = await knex.raw('select rolsuper from pg_roles where rolname = current_user');
  if (rows[0]?.rolsuper) await knex.raw(statement);
}

exports.up = async function up(knex) {
  for (const [table, keys] of Object.entries(DUPLICATE_KEYS)) {
    await knex.schema.alterTable(table, (t) => {
      t.uuid('merged_into');
      t.index(['tenant_id', 'merged_into'], `${table}_merged_into_idx`, { predicate: knex.whereNotNull('merged_into') });
      for (const [column, expression] of Object.entries(keys)) t.specificType(column, `text GENERATED ALWAYS AS (${expression}) STORED`);
    });
    for (const column of Object.keys(keys)) {
      await knex.raw(
        column === 'dup_name'
          ? 'CREATE INDEX ?? ON ?? USING gin (tenant_id, ?? gin_trgm_ops) WHERE deleted_at IS NULL'
          : 'CREATE INDEX ?? ON ?? (tenant_id, ??) WHERE deleted_at IS NULL',
        [`${table}_${column}_idx`, table, column],
      );
    }
  }
  await asSuperuser(knex, MARK);

  await knex.schema.createTable('merges', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.enu('resource', ['lead', 'contact', 'account']).notNullable();
    t.uuid('survivor_id').notNullable();
    t.specificType('duplicate_ids', 'uuid[]').notNullable();
    // The survivor's fields the merge overwrote, as they stood before.
    t.jsonb('survivor_before').notNullable().defaultTo('{}');
    // [{table, column, from, ids}]: rows whose `column` pointed at `from` (a duplicate) and now at the survivor.
    t.jsonb('moved').notNullable().defaultTo('[]');
    t.timestamp('undone_at', { useTz: true });
    t.uuid('undone_by');
    t.index(['tenant_id', 'survivor_id']);
  });
  // Kept as the record of what happened: an undo marks the row, nothing deletes it but a tenant's purge.
  await isolateTenantTable(knex, 'merges', { privileges: 'SELECT, INSERT, UPDATE' });
  await touchUpdatedAt(knex, 'merges');
  await grantPlatformRead(knex, 'merges');
};

exports.down = async function down(knex) {
  await knex.schema.dropTable('merges');
  await asSuperuser(knex, UNMARK);
  for (const [table, keys] of Object.entries(DUPLICATE_KEYS)) {
    await knex.schema.alterTable(table, (t) => {
      t.dropIndex([], `${table}_merged_into_idx`);
      t.dropColumn('merged_into');
      for (const column of Object.keys(keys)) t.dropColumn(column);
    });
  }
};
