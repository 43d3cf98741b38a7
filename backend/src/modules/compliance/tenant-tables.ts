import { Knex } from 'knex';
import { isSecretName } from '../../lib/secret-names';

/**
 * Columns withheld by name: a stored idempotent answer may carry what was shown once (a new API key,
 * an invitation token).
 */
const WITHHELD_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  idempotency_keys: ['response_body', 'response_headers'],
};

/**
 * The export's own content is not part of the next export; staff's notes on support tickets are the
 * platform's; lead_rollups are counts derived from the leads the export holds (a report rebuilds them from
 * those), with no personal data.
 */
const NOT_EXPORTED = new Set(['data_export_chunks', 'lead_rollups', 'support_ticket_notes']);

export interface TenantTable {
  name: string;
  /** Exported columns, in table order: secrets and generated search vectors left out. */
  columns: string[];
  /** Primary key columns, for keyset paging. */
  key: string[];
}

/**
 * Every tenant table, read from the catalogue, so a new one is included on its own: a table with a
 * tenant_id column under row-level security. (platform_audit_logs names tenants too, but is the
 * platform's own trail: no row-level security, and it keeps the tombstones of purged tenants.)
 */
export async function tenantTableNames(knex: Knex): Promise<string[]> {
  const { rows } = await knex.raw<{ rows: Array<{ name: string }> }>(
    `select c.relname as name from pg_class c
      join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
     where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p') and c.relrowsecurity
     order by c.relname`,
  );
  return rows.map((row) => row.name);
}

/** The tables an organization export writes, with the columns it may write and the keys it pages by. */
export async function exportedTables(trx: Knex): Promise<TenantTable[]> {
  const { rows } = await trx.raw<{ rows: Array<{ name: string; columns: string[]; key: string[] | null }> }>(
    `select c.relname as name,
            array(select a.attname::text from pg_attribute a
                   where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
                     and a.atttypid <> 'tsvector'::regtype
                   order by a.attnum) as columns,
            array(select a.attname::text from pg_index i
                    cross join lateral unnest(i.indkey) with ordinality as k(attnum, position)
                    join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
                   where i.indrelid = c.oid and i.indisprimary
                   order by k.position) as key
       from pg_class c
      where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p') and c.relrowsecurity
        and exists (select 1 from pg_attribute t where t.attrelid = c.oid and t.attname = 'tenant_id' and not t.attisdropped)
      order by c.relname`,
  );
  return rows
    .filter((row) => !NOT_EXPORTED.has(row.name))
    .map((row) => {
      const withheld = WITHHELD_COLUMNS[row.name] ?? [];
      const key = row.key ?? [];
      // Paging needs a key; a tenant table without one is a schema mistake worth failing loudly on.
      if (key.length === 0) throw new Error(`Tenant table ${row.name} has no primary key to page an export by`);
      return { name: row.name, key, columns: row.columns.filter((column) => !isSecretName(column) && !withheld.includes(column)) };
    });
}
