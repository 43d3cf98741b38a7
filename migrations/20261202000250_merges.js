'use strict';
/**
 * Duplicates and merge (GET /{leads|contacts|accounts}/:id/duplicates, POST .../:id/merge, POST
 * /merges/:id/undo). A merged record is soft-deleted with `merged_into` naming its survivor; `merges`
 * keeps what each merge moved (links of activities, tasks, deals, contacts, tickets, converted leads) and
 * the survivor's fields it overwrote, so that an undo restores every record and link.
 *
 * The indexes serve the duplicate search (backend/src/modules/merges/duplicate-rules.ts builds the very
 * same expressions): a normalized email (lowercase, `+tag` dropped), the last 8 digits of a phone (the
 * candidates; the E.164 comparison is made in the application), the email's domain, and name trigrams
 * (pg_trgm, created by 20261122000100_platform_foundation.js).
 */
const { tenantColumns, isolateTenantTable, grantPlatformRead, touchUpdatedAt } = require('./support/tenant-table');

const EMAIL = "lower(regexp_replace(email::text, '\\+[^@]*@', '@'))";
const EMAIL_DOMAIN = "lower(split_part(email::text, '@', 2))";
const PHONE_TAIL = "right(regexp_replace(phone, '[^0-9]', '', 'g'), 8)";
const PERSON_NAME = "lower(btrim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')))";
const ACCOUNT_NAME = 'lower(name)';

const INDEXES = {
  leads: { email: EMAIL, email_domain: EMAIL_DOMAIN, phone_tail: PHONE_TAIL, name_trgm: PERSON_NAME },
  contacts: { email: EMAIL, email_domain: EMAIL_DOMAIN, phone_tail: PHONE_TAIL, name_trgm: PERSON_NAME },
  accounts: { domain: 'lower(domain)', phone_tail: PHONE_TAIL, name_trgm: ACCOUNT_NAME },
};

exports.up = async function up(knex) {
  for (const [table, indexes] of Object.entries(INDEXES)) {
    await knex.schema.alterTable(table, (t) => {
      t.uuid('merged_into');
      t.index(['tenant_id', 'merged_into'], `${table}_merged_into_idx`, { predicate: knex.whereNotNull('merged_into') });
    });
    for (const [name, expression] of Object.entries(indexes)) {
      const trigram = name.endsWith('_trgm');
      await knex.raw(
        trigram
          ? `CREATE INDEX ?? ON ?? USING gin (tenant_id, (${expression}) gin_trgm_ops) WHERE deleted_at IS NULL`
          : `CREATE INDEX ?? ON ?? (tenant_id, (${expression})) WHERE deleted_at IS NULL`,
        [`${table}_dup_${name}_idx`, table],
      );
    }
  }

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
  for (const [table, indexes] of Object.entries(INDEXES)) {
    for (const name of Object.keys(indexes)) await knex.raw('DROP INDEX IF EXISTS ??', [`${table}_dup_${name}_idx`]);
    await knex.schema.alterTable(table, (t) => {
      t.dropIndex([], `${table}_merged_into_idx`);
      t.dropColumn('merged_into');
    });
  }
};
