import { Knex } from 'knex';
import { tenantScope } from '../../infra/tenant-scope';
import { keysetPage, Pagination } from '../../lib/pagination';
import { SECURITY_EVENTS_KEYSET, SecurityEventsQuery } from './security.schema';

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
}

const COLUMNS = ['id', 'tenantId', 'type', 'severity', 'summary', 'userId', 'details', 'alerted', 'requestId', 'createdAt'];

async function pageOf(trx: Knex | Knex.Transaction, query: SecurityEventsQuery): Promise<{ rows: SecurityEventRow[]; pagination: Pagination }> {
  const builder = trx('securityEvents').select(...COLUMNS);
  if (query.tenantId) builder.where('tenantId', query.tenantId);
  if (query.type) builder.where('type', query.type);
  if (query.severity) builder.where('severity', query.severity);
  if (query.userId) builder.where('userId', query.userId);
  if (query.from) builder.where('createdAt', '>=', query.from);
  if (query.to) builder.where('createdAt', '<=', query.to);
  return keysetPage<SecurityEventRow>(builder, SECURITY_EVENTS_KEYSET, query);
}

const present = ({ tenantId: _tenant, ...row }: SecurityEventRow) => row;

/** A tenant's own security events, in its transaction (row-level security keeps them to it). */
export async function tenantSecurityEvents(query: SecurityEventsQuery) {
  const { rows, pagination } = await pageOf(tenantScope().trx, query);
  return { data: rows.map(present), pagination };
}

/** Every tenant's security events, for staff: the platform role's read policy spans tenants. */
export async function platformSecurityEvents(platformKnex: Knex, query: SecurityEventsQuery) {
  const { rows, pagination } = await pageOf(platformKnex, query);
  return { data: rows, pagination };
}
