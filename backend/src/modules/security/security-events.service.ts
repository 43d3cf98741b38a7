import { Knex } from 'knex';
import { tenantScope } from '../../infra/tenant-scope';
import { Pagination, preciseTimestampSql, toPage } from '../../lib/pagination';
import { SecurityEventsQuery } from './security.schema';

interface SecurityEventRow {
  id: string;
  tenantId: string;
  type: string;
  severity: string;
  summary: string;
  userId: string | null;
  details: Record<string, unknown>;
  alerted: boolean;
  requestId: string | null;
  createdAt: Date;
  cursorCreatedAt: string;
}

const COLUMNS = ['id', 'tenantId', 'type', 'severity', 'summary', 'userId', 'details', 'alerted', 'requestId', 'createdAt'];

/** Newest first, keyset-paged on (created_at, id) descending: events raised meanwhile never shift a page. */
async function pageOf(trx: Knex | Knex.Transaction, query: SecurityEventsQuery): Promise<{ rows: SecurityEventRow[]; pagination: Pagination }> {
  const builder = trx('securityEvents').select(...COLUMNS, trx.raw(`${preciseTimestampSql('created_at')} as cursor_created_at`));
  if (query.tenantId) builder.where('tenantId', query.tenantId);
  if (query.type) builder.where('type', query.type);
  if (query.severity) builder.where('severity', query.severity);
  if (query.userId) builder.where('userId', query.userId);
  if (query.from) builder.where('createdAt', '>=', query.from);
  if (query.to) builder.where('createdAt', '<=', query.to);
  if (query.cursor) builder.whereRaw('(created_at, id) < (?::timestamptz, ?::uuid)', query.cursor);
  const rows = (await builder
    .orderBy([
      { column: 'createdAt', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(query.limit + 1)) as SecurityEventRow[];
  return toPage(rows, query.limit, (last) => [last.cursorCreatedAt, last.id]);
}

const present = ({ cursorCreatedAt: _cursor, tenantId: _tenant, ...row }: SecurityEventRow) => row;
const presentWithTenant = ({ cursorCreatedAt: _cursor, ...row }: SecurityEventRow) => row;

/** A tenant's own security events, in its transaction (row-level security keeps them to it). */
export async function tenantSecurityEvents(query: SecurityEventsQuery) {
  const { rows, pagination } = await pageOf(tenantScope().trx, query);
  return { data: rows.map(present), pagination };
}

/** Every tenant's security events, for staff: the platform role's read policy spans tenants. */
export async function platformSecurityEvents(platformKnex: Knex, query: SecurityEventsQuery) {
  const { rows, pagination } = await pageOf(platformKnex, query);
  return { data: rows.map(presentWithTenant), pagination };
}
