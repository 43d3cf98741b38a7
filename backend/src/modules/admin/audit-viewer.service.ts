import { Knex } from 'knex';
import { keysetPage, Page, timeKeyset } from '../../lib/pagination';
import { AuditFilters, ENTRY_COLUMNS, whereAuditFilters } from '../audit/audit-entries.repository';

/** The tenant trail's filters, across tenants. */
export type AuditViewerQuery = AuditFilters & Page & { tenantId?: string };

export interface PlatformAuditQuery {
  tenantId?: string;
  action?: string;
  actorId?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string[];
}

/** Newest first: (occurred_at, id) descending. */
export const newestFirst = (table: string) => timeKeyset({ table, column: 'occurred_at', order: 'desc' });

/**
 * Cross-tenant audit reading for the console, on the platform role. Personal data in `changes` stays
 * as stored, encrypted with each data subject's key: the platform role cannot read key material
 * (a secret column), so support staff see who did what and when, never the personal values. Reading
 * those takes a tenant's own audit endpoint, i.e. a tenant_admin or an audited impersonation session.
 */
export function createAuditViewerService(knex: Knex) {
  return {
    async tenantEntries(query: AuditViewerQuery) {
      const builder = knex('auditLogs as a').select('a.tenantId', ...ENTRY_COLUMNS.filter((column) => column !== 'hash').map((column) => `a.${column}`));
      if (query.tenantId) builder.where('a.tenantId', query.tenantId);
      const { rows, pagination } = await keysetPage<Record<string, unknown>>(whereAuditFilters(builder, query), newestFirst('a'), query);
      return {
        data: rows.map((row) => ({
          id: row.id,
          tenantId: row.tenantId,
          seq: row.seq,
          occurredAt: row.occurredAt,
          actor: { type: row.actorType, id: row.actorId, impersonatorId: row.impersonatorId },
          action: row.action,
          resourceType: row.resourceType,
          resourceId: row.resourceId,
          changes: row.changes,
          ip: row.ip,
          userAgent: row.userAgent,
          requestId: row.requestId,
          result: row.result,
          errorCode: row.errorCode,
        })),
        pagination,
      };
    },

    async platformEntries(query: PlatformAuditQuery) {
      const builder = knex('platformAuditLogs as p').select(
        'p.id',
        'p.occurredAt',
        'p.actorType',
        'p.actorId',
        'p.action',
        'p.tenantId',
        'p.targetType',
        'p.targetId',
        'p.details',
        'p.ip',
        'p.userAgent',
        'p.requestId',
        'p.result',
        'p.errorCode',
      );
      if (query.tenantId) builder.where('p.tenantId', query.tenantId);
      if (query.action) builder.where('p.action', query.action);
      if (query.actorId) builder.where('p.actorId', query.actorId);
      if (query.from) builder.where('p.occurredAt', '>=', query.from);
      if (query.to) builder.where('p.occurredAt', '<=', query.to);
      const { rows, pagination } = await keysetPage<Record<string, unknown>>(builder, newestFirst('p'), query);
      return { data: rows, pagination };
    },
  };
}
