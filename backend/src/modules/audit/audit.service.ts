import { tenantScope } from '../../infra/tenant-scope';
import { keysetPage, Page, Pagination } from '../../lib/pagination';
import { AUDIT_TRAIL_KEYSET, AuditFilters, AuditLogRow, entriesMatching } from './audit-entries.repository';
import { presentAuditEntry, PresentedAuditEntry } from './audit-entry.presenter';

const DEFAULT_STATS_DAYS = 30;
const DAY_MS = 86_400_000;

/** Newest first in append order, pending entries included. */
export async function listAuditEntries(filters: AuditFilters, page: Page): Promise<{ data: PresentedAuditEntry[]; pagination: Pagination }> {
  const scope = tenantScope();
  const { rows, pagination } = await keysetPage<AuditLogRow>(entriesMatching(scope, filters), AUDIT_TRAIL_KEYSET, page);
  return { data: rows.map((row) => presentAuditEntry(row, scope.tenantId)), pagination };
}

/** Counts by action, by actor and by UTC day over [from, to]; the last 30 days unless told otherwise. */
export async function auditStats(range: { from?: Date; to?: Date }) {
  const { tenantId, trx } = tenantScope();
  const to = range.to ?? new Date();
  const from = range.from ?? new Date(to.getTime() - DEFAULT_STATS_DAYS * DAY_MS);
  const inRange = () => trx('auditLogs').where({ tenantId }).whereBetween('occurredAt', [from, to]);
  const byAction = await inRange()
    .select('action')
    .count<{ action: string; count: number }[]>({ count: '*' })
    .groupBy('action')
    .orderBy([{ column: 'count', order: 'desc' }, { column: 'action' }]);
  const byActor = await inRange()
    .select('actorType', 'actorId')
    .count<{ actorType: string; actorId: string | null; count: number }[]>({ count: '*' })
    .groupBy('actorType', 'actorId')
    .orderBy([{ column: 'count', order: 'desc' }, { column: 'actorId' }]);
  const byDay = await inRange()
    .select(trx.raw(`to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD') as day`))
    .count<{ day: string; count: number }[]>({ count: '*' })
    .groupBy('day')
    .orderBy('day');
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    total: byAction.reduce((sum, row) => sum + row.count, 0),
    byAction,
    byActor: byActor.map(({ actorType, actorId, count }) => ({ type: actorType, id: actorId, count })),
    byDay,
  };
}
