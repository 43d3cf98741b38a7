import { TenantModel } from '../../infra/tenant-model';

/** An objection model for a CRM table; JSON columns (custom field values, and the table's own) are (de)serialized by objection. */
export function recordModel(table: string, jsonColumns: string[] = []): typeof TenantModel {
  return class extends TenantModel {
    static override tableName = table;
    static override jsonAttributes = ['customFields', ...jsonColumns];
  };
}

/** What the API shows of a row: every column but the tenant (implied) and the search vectors. */
export function presentRecord(row: object, present?: (record: Record<string, unknown>) => Record<string, unknown>): Record<string, unknown> {
  const { tenantId: _tenantId, search: _search, customSearch: _customSearch, ...visible } = row as Record<string, unknown>;
  return present ? present(visible) : visible;
}
