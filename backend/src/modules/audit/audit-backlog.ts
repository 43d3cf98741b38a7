import { Knex } from 'knex';
import client from 'prom-client';
import { readOncePerScrape } from '../../infra/metrics';

/** Entries appended but not yet sealed, across every tenant. */
export interface AuditBacklog {
  pending: number;
  /** Pending for longer than AUDIT_SEAL_WARN_SECONDS: the sealer is not keeping up, or not running. */
  overdue: number;
  oldestPendingSeconds: number;
}

/**
 * Read through the platform role, which sees every tenant's rows; the pending entries are a small
 * partial index (audit_logs_pending_idx), so this stays cheap however long the trail.
 */
export async function auditBacklog(platformKnex: Knex, warnSeconds: number): Promise<AuditBacklog> {
  const row = await platformKnex('auditLogs')
    .whereNull('seq')
    .first<{ pending: number; overdue: number; oldestPendingSeconds: number }>(
      platformKnex.raw('count(*)::int as pending'),
      platformKnex.raw('(count(*) filter (where occurred_at < now() - make_interval(secs => ?)))::int as overdue', [warnSeconds]),
      platformKnex.raw('coalesce(extract(epoch from now() - min(occurred_at)), 0)::float8 as oldest_pending_seconds'),
    );
  return { pending: row?.pending ?? 0, overdue: row?.overdue ?? 0, oldestPendingSeconds: Math.max(0, row?.oldestPendingSeconds ?? 0) };
}

/**
 * The backlog as Prometheus gauges, read once per scrape. While the database cannot answer they read
 * NaN (unknown) rather than failing the whole scrape or claiming an empty backlog.
 */
export function registerAuditBacklogMetrics(registry: client.Registry, platformKnex: Knex, warnSeconds: number): void {
  const read = readOncePerScrape(() => auditBacklog(platformKnex, warnSeconds));
  const backlog = async (field: keyof AuditBacklog): Promise<number> => (await read())?.[field] ?? Number.NaN;
  new client.Gauge({
    name: 'audit_pending_entries',
    help: 'Audit entries appended but not yet sealed into their tenant chain',
    registers: [registry],
    async collect() {
      this.set(await backlog('pending'));
    },
  });
  new client.Gauge({
    name: 'audit_pending_overdue_entries',
    help: 'Audit entries still unsealed after AUDIT_SEAL_WARN_SECONDS (the sealer is behind or not running)',
    registers: [registry],
    async collect() {
      this.set(await backlog('overdue'));
    },
  });
  new client.Gauge({
    name: 'audit_pending_oldest_seconds',
    help: 'Age of the oldest unsealed audit entry, 0 when none',
    registers: [registry],
    async collect() {
      this.set(await backlog('oldestPendingSeconds'));
    },
  });
}
