import { TenantModel } from '../../infra/tenant-model';

/** An objection model for a CRM table; JSON columns (custom field values, and the table's own) are (de)serialized by objection. */
export function recordModel(table: string, jsonColumns: string[] = []): typeof TenantModel {
  return class extends TenantModel {
    static override tableName = table;
    static override jsonAttributes = ['customFields', ...jsonColumns];
  };
}

/**
 * Generated columns the duplicate search compares (`dup_email`, `dup_name`, ...; 20261202000250_merges.js):
 * derived from the record's own fields, never shown.
 */
export const isDuplicateKey = (key: string): boolean => /^dup[A-Z]/.test(key);

/** What the API shows of a row: every column but the tenant (implied), the search vectors and the duplicate keys. */
export function presentRecord(row: object, present?: (record: Record<string, unknown>) => Record<string, unknown>): Record<string, unknown> {
  const { tenantId: _tenantId, search: _search, customSearch: _customSearch, ...rest } = row as Record<string, unknown>;
  const visible = Object.fromEntries(Object.entries(rest).filter(([key]) => !isDuplicateKey(key)));
  return present ? present(visible) : visible;
}
