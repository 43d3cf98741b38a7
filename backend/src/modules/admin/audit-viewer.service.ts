import { Knex } from 'knex';
import { Pagination, preciseTimestampSql, toPage } from '../../lib/pagination';
import { AuditFilters } from '../audit/audit-entries.repository';

/** The tenant trail's filters, across tenants. */
export type AuditViewerQuery = AuditFilters & {
  tenantId?: string;
  limit: number;
  cursor?: [occurredAt: string, id: string];
};

export interface PlatformAuditQuery {
  tenantId?: string;
  action?: string;
  actorId?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: [occurredAt: string, id: string];
}

interface TimedRow {
  id: string;
  cursorOccurredAt: string;
}

/** Newest first, keyset-paged on (occurred_at, id) descending. */
async function pageNewestFirst<R extends TimedRow>(
  builder: Knex.QueryBuilder,
  alias: string,
  query: { limit: number; cursor?: [string, string] },
): Promise<{ rows: Array<Omit<R, 'cursorOccurredAt'>>; pagination: Pagination }> {
  if (query.cursor) builder.whereRaw(`(${alias}.occurred_at, ${alias}.id) < (?::timestamptz, ?::uuid)`, query.cursor);
  const rows = (await builder
    .orderBy([
      { column: `${alias}.occurredAt`, order: 'desc' },
      { column: `${alias}.id`, order: 'desc' },
    ])
    .limit(query.limit + 1)) as R[];
  const page = toPage(rows, query.limit, (last) => [last.cursorOccurredAt, last.id]);
  return { rows: page.rows.map(({ cursorOccurredAt: _cursor, ...row }) => row), pagination: page.pagination };
}

/**
 * Cross-tenant audit reading for the console, on the platform role. Personal data in `changes` stays
 * as stored, encrypted with each data subject's key: the platform role cannot read key material
 * (a secret column), so support staff see who did what and when, never the personal values. Reading
 * those takes a tenant's own audit endpoint, i.e. a tenant_admin or an audited impersonation session.
 */
export function createAuditViewerService(knex: Knex) {
  return {
    async tenantEntries(query: AuditViewerQuery) {
      const builder = knex('auditLogs as a').select(
        'a.id',
        'a.tenantId',
        'a.seq',
        'a.occurredAt',
        'a.actorType',
        'a.actorId',
        'a.impersonatorId',
        'a.action',
        'a.resourceType',
        'a.resourceId',
        'a.changes',
        'a.ip',
        'a.userAgent',
        'a.requestId',
        'a.result',
        'a.errorCode',
        knex.raw(`${preciseTimestampSql('a.occurred_at')} as cursor_occurred_at`),
      );
      if (query.tenantId) builder.where('a.tenantId', query.tenantId);
      if (query.action) builder.where('a.action', query.action);
      if (query.resourceType) builder.where('a.resourceType', query.resourceType);
      if (query.resourceId) builder.where('a.resourceId', query.resourceId);
      if (query.userId) builder.where('a.actorId', query.userId);
      if (query.from) builder.where('a.occurredAt', '>=', query.from);
      if (query.to) builder.where('a.occurredAt', '<=', query.to);
      const { rows, pagination } = await pageNewestFirst<TimedRow & Record<string, unknown>>(builder, 'a', query);
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
        knex.raw(`${preciseTimestampSql('p.occurred_at')} as cursor_occurred_at`),
      );
      if (query.tenantId) builder.where('p.tenantId', query.tenantId);
      if (query.action) builder.where('p.action', query.action);
      if (query.actorId) builder.where('p.actorId', query.actorId);
      if (query.from) builder.where('p.occurredAt', '>=', query.from);
      if (query.to) builder.where('p.occurredAt', '<=', query.to);
      const { rows, pagination } = await pageNewestFirst<TimedRow & Record<string, unknown>>(builder, 'p', query);
      return { data: rows, pagination };
    },
  };
}
