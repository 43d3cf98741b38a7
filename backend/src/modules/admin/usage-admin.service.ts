import { Knex } from 'knex';
import { AppError } from '../../lib/errors';
import { creationKeyset, keysetPage, Pagination } from '../../lib/pagination';
import { CRM_RESOURCES } from '../roles/permissions';
import { UsageCounters } from '../usage/usage-counters';
import { addCounts, DayCounts, emptyCounts, readDayCounts, utcDay } from '../usage/usage-store';
import { RedisClient } from '../../infra/redis';

export interface UsageQuery {
  tenantId?: string;
  from?: string;
  to?: string;
  limit: number;
  cursor?: string[];
}

/** The longest series one request returns: a quarter. */
export const MAX_USAGE_DAYS = 92;
const DEFAULT_USAGE_DAYS = 30;
const DAY_MS = 86_400_000;

interface TenantPlanRow {
  id: string;
  name: string;
  plan: string;
  quotas: Record<string, number | null>;
  requestsPerHour: number;
}

type Resource = (typeof CRM_RESOURCES)[number];

export interface UsageDeps {
  platformKnex: Knex;
  redis?: RedisClient;
  redisKeyPrefix: string;
  usage: UsageCounters;
}

/** The days from..to (inclusive, UTC), defaulting to the 30 days ending today; at most MAX_USAGE_DAYS. */
export function usageRange(query: { from?: string; to?: string }, now = new Date()): string[] {
  const to = query.to ?? utcDay(now);
  const from = query.from ?? utcDay(new Date(Date.parse(`${to}T00:00:00Z`) - (DEFAULT_USAGE_DAYS - 1) * DAY_MS));
  const start = Date.parse(`${from}T00:00:00Z`);
  const end = Date.parse(`${to}T00:00:00Z`);
  const span = Math.round((end - start) / DAY_MS) + 1;
  if (span < 1 || span > MAX_USAGE_DAYS) {
    throw new AppError('VALIDATION_ERROR', 'The request is invalid', [
      { field: 'to', message: `"to" must be on or after "from", at most ${MAX_USAGE_DAYS} days apart` },
    ]);
  }
  return Array.from({ length: span }, (_, index) => utcDay(new Date(start + index * DAY_MS)));
}

/**
 * Per-tenant usage for the console: API calls per day (usage_daily, with today's and yesterday's live
 * Redis totals laid over it, since the rollup copies them only every 10 minutes), live records per CRM
 * resource, a storage estimate and the plan's limits next to what is used.
 *
 * Storage estimate, per CRM resource table: pg_total_relation_size(table) (heap, indexes, TOAST) times
 * the tenant's share of the table's rows (soft-deleted rows included: they take space until purged).
 * Rows of one table are assumed to be of similar size; the figure is an estimate, not a measurement.
 */
export function createUsageAdminService(deps: UsageDeps) {
  const knex = deps.platformKnex;

  async function tenantsPage(query: UsageQuery): Promise<{ rows: TenantPlanRow[]; pagination: Pagination }> {
    const builder = knex('tenants as t')
      .join('plans as p', 'p.code', 't.plan')
      .select('t.id', 't.name', 't.plan', 'p.quotas', 'p.requestsPerHour');
    if (query.tenantId) builder.where('t.id', query.tenantId);
    return keysetPage<TenantPlanRow>(builder, creationKeyset('t'), query);
  }

  /**
   * usage_daily rows plus what Redis holds that no rollup has moved yet (today's and yesterday's). A batch
   * the rollup is moving at that moment is in neither for an instant: a figure may lag, never double.
   */
  async function dailyCounts(tenantIds: string[], days: string[]): Promise<Map<string, Map<string, DayCounts>>> {
    const byTenant = new Map<string, Map<string, DayCounts>>(tenantIds.map((id) => [id, new Map()]));
    const rows = await knex('usageDaily')
      .whereIn('tenantId', tenantIds)
      .whereBetween('day', [days[0]!, days.at(-1)!])
      .select<Array<{ tenantId: string; day: string; apiCalls: string; clientErrors: string; serverErrors: string }>>(
        'tenantId',
        knex.raw("to_char(day, 'YYYY-MM-DD') as day"),
        'apiCalls',
        'clientErrors',
        'serverErrors',
      );
    for (const row of rows) {
      byTenant.get(row.tenantId)?.set(row.day, {
        apiCalls: Number(row.apiCalls),
        clientErrors: Number(row.clientErrors),
        serverErrors: Number(row.serverErrors),
      });
    }
    if (deps.redis) {
      const today = utcDay();
      const live = [utcDay(new Date(Date.now() - DAY_MS)), today].filter((day) => days.includes(day));
      for (const day of live) {
        for (const [tenantId, counts] of await readDayCounts(deps.redis, deps.redisKeyPrefix, day, tenantIds)) {
          byTenant.get(tenantId)?.set(day, addCounts(byTenant.get(tenantId)?.get(day) ?? emptyCounts(), counts));
        }
      }
    }
    return byTenant;
  }

  /** Live and stored rows per tenant and resource, plus each table's size and row count for the estimate. */
  async function recordCounts(tenantIds: string[]) {
    const live = new Map<string, Record<string, number>>(tenantIds.map((id) => [id, {}]));
    const bytes = new Map<string, number>(tenantIds.map((id) => [id, 0]));
    for (const resource of CRM_RESOURCES) {
      const [perTenant, [table]] = await Promise.all([
        knex(resource)
          .whereIn('tenantId', tenantIds)
          .groupBy('tenantId')
          .select<Array<{ tenantId: string; live: string; stored: string }>>(
            'tenantId',
            knex.raw('count(*) filter (where deleted_at is null) as live'),
            knex.raw('count(*) as stored'),
          ),
        knex(resource).select<Array<{ stored: string; bytes: string }>>(
          knex.raw('count(*) as stored'),
          knex.raw('pg_total_relation_size(?::regclass) as bytes', [resource]),
        ),
      ]);
      const bytesPerRow = Number(table?.bytes ?? 0) / Math.max(Number(table?.stored ?? 0), 1);
      for (const row of perTenant) {
        live.get(row.tenantId)![resource] = Number(row.live);
        bytes.set(row.tenantId, bytes.get(row.tenantId)! + Math.round(Number(row.stored) * bytesPerRow));
      }
    }
    const users = await knex('users')
      .whereIn('tenantId', tenantIds)
      .whereNull('deletedAt')
      .groupBy('tenantId')
      .select<Array<{ tenantId: string; count: string }>>('tenantId', knex.raw('count(*) as count'));
    return { live, bytes, users: new Map(users.map((row) => [row.tenantId, Number(row.count)])) };
  }

  return {
    /** One tenant's API calls today and over the last 30 days (for the tenant detail). */
    async apiCallsSummary(tenantId: string): Promise<{ today: DayCounts; last30Days: DayCounts }> {
      await deps.usage.flush();
      const days = usageRange({});
      const counts = (await dailyCounts([tenantId], days)).get(tenantId) ?? new Map<string, DayCounts>();
      const last30Days = [...counts.values()].reduce(addCounts, emptyCounts());
      return { today: counts.get(utcDay()) ?? emptyCounts(), last30Days };
    },

    async report(query: UsageQuery) {
      const days = usageRange(query);
      // This instance's counts so far go out first, so the answer includes the request that asked.
      await deps.usage.flush();
      const { rows, pagination } = await tenantsPage(query);
      if (query.tenantId && rows.length === 0) throw new AppError('NOT_FOUND', 'Tenant not found');
      const ids = rows.map((row) => row.id);
      const [daily, records] = ids.length ? await Promise.all([dailyCounts(ids, days), recordCounts(ids)]) : [new Map(), undefined];
      const today = utcDay();
      const hoursToday = Math.max((Date.now() - Date.parse(`${today}T00:00:00Z`)) / 3_600_000, 1);
      const data = rows.map((tenant) => {
        const series = days.map((day) => ({ day, ...(daily.get(tenant.id)?.get(day) ?? emptyCounts()) }));
        const totals = series.reduce(addCounts, emptyCounts());
        const callsToday = daily.get(tenant.id)?.get(today)?.apiCalls ?? 0;
        const live = records?.live.get(tenant.id) ?? {};
        const recordsByResource = Object.fromEntries(CRM_RESOURCES.map((resource) => [resource, live[resource] ?? 0])) as Record<Resource, number>;
        return {
          tenantId: tenant.id,
          name: tenant.name,
          plan: tenant.plan,
          apiCalls: { from: days[0], to: days.at(-1), total: totals, daily: series },
          records: recordsByResource,
          storage: { estimatedBytes: records?.bytes.get(tenant.id) ?? 0 },
          limits: {
            users: { limit: tenant.quotas.users ?? null, used: records?.users.get(tenant.id) ?? 0 },
            records: Object.fromEntries(
              CRM_RESOURCES.map((resource) => [resource, { limit: tenant.quotas.records ?? null, used: recordsByResource[resource] }]),
            ),
            requestsPerHour: { limit: tenant.requestsPerHour, averageToday: Math.round((callsToday / hoursToday) * 10) / 10 },
          },
        };
      });
      return { data, pagination };
    },
  };
}
