import { Knex } from 'knex';
import { TenantScope } from '../../infra/tenant-scope';
import { Keyset } from '../../lib/pagination';

/** A type, not an interface: a validated query (a plain record) must convert to it. */
export type AuditFilters = {
  action?: string;
  resourceType?: string;
  resourceId?: string;
  /** The acting user or API key (actor_id). */
  userId?: string;
  from?: Date;
  to?: Date;
};

/** An audit_logs row as readers get it, with the wrapped keys of its subjects (null once destroyed). */
export interface AuditLogRow {
  id: string;
  /** Null until the sealer puts the entry in the chain. */
  seq: number | null;
  /** The append order, pending entries included: what readers page on. */
  appendId: number;
  occurredAt: Date;
  actorType: string;
  actorId: string | null;
  impersonatorId: string | null;
  action: string;
  resourceType: string | null;
  resourceId: string | null;
  changes: unknown;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  result: string;
  errorCode: string | null;
  /** Null until sealed. */
  hash: string | null;
  subjectKeys: Record<string, string | null> | null;
}

/** Readers page on the append order (pending entries have no seq yet): it only grows, so pages never shift. */
export const AUDIT_TRAIL_KEYSET: Keyset = { keys: [{ sql: 'a.append_id', type: 'bigint' }], order: 'desc' };

/** The stored columns readers get, in the order exports write them. */
export const ENTRY_COLUMNS = [
  'id',
  'seq',
  'occurredAt',
  'actorType',
  'actorId',
  'impersonatorId',
  'action',
  'resourceType',
  'resourceId',
  'changes',
  'ip',
  'userAgent',
  'requestId',
  'result',
  'errorCode',
  'hash',
] as const;

/**
 * The tenant's entries matching the filters, each with its subjects' keys in the same row, so one
 * query (or one stream, during which the connection can run nothing else) is all a reader needs.
 */
export function entriesMatching({ tenantId, trx }: TenantScope, filters: AuditFilters): Knex.QueryBuilder<AuditLogRow, AuditLogRow[]> {
  const query = trx<AuditLogRow>('auditLogs as a')
    .where('a.tenantId', tenantId)
    .select(
      ...ENTRY_COLUMNS.map((column) => `a.${column}`),
      'a.appendId',
      trx.raw(
        `(select jsonb_object_agg(k.id, encode(k.key_material, 'base64')) from data_subject_keys k
          where k.tenant_id = a.tenant_id and k.id = any(a.subject_key_ids)) as subject_keys`,
      ),
    );
  return whereAuditFilters(query, filters) as unknown as Knex.QueryBuilder<AuditLogRow, AuditLogRow[]>;
}

/** The filters on an audit_logs query aliased `a`: the tenant's own trail and the console's read the same way. */
export function whereAuditFilters<B extends Knex.QueryBuilder>(query: B, filters: AuditFilters): B {
  if (filters.action) query.where('a.action', filters.action);
  if (filters.resourceType) query.where('a.resourceType', filters.resourceType);
  if (filters.resourceId) query.where('a.resourceId', filters.resourceId);
  if (filters.userId) query.where('a.actorId', filters.userId);
  if (filters.from) query.where('a.occurredAt', '>=', filters.from);
  if (filters.to) query.where('a.occurredAt', '<=', filters.to);
  return query;
}
