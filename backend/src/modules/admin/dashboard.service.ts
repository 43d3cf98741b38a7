import { Knex } from 'knex';
import { poolStats } from '../../infra/db';
import { Metrics } from '../../infra/metrics';
import { RecentErrors } from '../../infra/recent-errors';
import { checkDatabase, Check } from '../health/health.service';
import { UsageCounters } from '../usage/usage-counters';
import { addCounts, DayCounts, dayHashKey, parseDayHash, utcDay } from '../usage/usage-store';
import { createJobsAdminService, JobState } from './jobs-admin.service';
import { RedisClient } from '../../infra/redis';
import { OutboundCalls } from '../../infra/outbound/outbound-call';

export interface DashboardDeps {
  knex: Knex;
  platformKnex: Knex;
  redis?: RedisClient;
  redisKeyPrefix: string;
  metrics: Metrics;
  usage: UsageCounters;
  recentErrors: RecentErrors;
  outbound: OutboundCalls;
}

/** Below this many requests an error rate says nothing yet, so the score ignores it. */
const MIN_REQUESTS_FOR_RATE = 20;
const GROWTH_DAYS = 30;
const RECENT_ERRORS_SHOWN = 20;

export interface HttpStats {
  total: number;
  clientErrors: number;
  serverErrors: number;
  serverErrorRate: number;
  requestsPerMinute: number;
  /** Upper bound of the histogram bucket holding the 95th percentile; null before any request. */
  p95Seconds: number | null;
}

/** This instance's HTTP figures since it started, from its prom-client histogram (what /metrics exports). */
export async function httpStats(metrics: Metrics, uptimeSeconds = process.uptime()): Promise<HttpStats> {
  const { values } = await metrics.httpDuration.get();
  let total = 0;
  let clientErrors = 0;
  let serverErrors = 0;
  const buckets = new Map<number, number>();
  for (const value of values) {
    const name = (value as { metricName?: string }).metricName ?? '';
    if (name.endsWith('_count')) {
      total += value.value;
      const status = Number(value.labels.status_code);
      if (status >= 500) serverErrors += value.value;
      else if (status >= 400) clientErrors += value.value;
    } else if (name.endsWith('_bucket')) {
      const labels = value.labels as Record<string, string | number | undefined>;
      const le = labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + value.value);
    }
  }
  let p95Seconds: number | null = null;
  if (total > 0) {
    const bound = [...buckets].sort(([a], [b]) => a - b).find(([, cumulative]) => cumulative >= 0.95 * total)?.[0];
    p95Seconds = bound === undefined || !Number.isFinite(bound) ? null : bound;
  }
  return {
    total,
    clientErrors,
    serverErrors,
    serverErrorRate: total ? Math.round((serverErrors / total) * 10_000) / 10_000 : 0,
    requestsPerMinute: Math.round((total / Math.max(uptimeSeconds / 60, 1 / 60)) * 10) / 10,
    p95Seconds,
  };
}

export interface HealthInputs {
  database: Check['status'];
  redis: Check['status'];
  http: Pick<HttpStats, 'total' | 'serverErrorRate' | 'p95Seconds'>;
  failedJobs: number;
}

/**
 * 100 minus deductions (docs/OPERATIONS.md): database down 50; Redis configured and down 20; 5xx rate
 * (once 20 requests are in) 200 points per unit, at most 20 (10 % of 5xx costs all 20); p95 latency
 * above 1 s 10, above 0.5 s 5; failed jobs 2 each, at most 10. Never below 0.
 */
export function healthScore(inputs: HealthInputs): { score: number; deductions: Array<{ reason: string; points: number }> } {
  const deductions: Array<{ reason: string; points: number }> = [];
  if (inputs.database === 'down') deductions.push({ reason: 'database down', points: 50 });
  if (inputs.redis === 'down') deductions.push({ reason: 'redis down', points: 20 });
  if (inputs.http.total >= MIN_REQUESTS_FOR_RATE && inputs.http.serverErrorRate > 0) {
    const points = Math.min(20, Math.round(inputs.http.serverErrorRate * 200));
    if (points > 0) deductions.push({ reason: `5xx rate ${(inputs.http.serverErrorRate * 100).toFixed(2)} %`, points });
  }
  if (inputs.http.p95Seconds !== null && inputs.http.p95Seconds > 1) deductions.push({ reason: 'p95 latency above 1 s', points: 10 });
  else if (inputs.http.p95Seconds !== null && inputs.http.p95Seconds > 0.5) deductions.push({ reason: 'p95 latency above 0.5 s', points: 5 });
  if (inputs.failedJobs > 0) deductions.push({ reason: `${inputs.failedJobs} failed jobs`, points: Math.min(10, inputs.failedJobs * 2) });
  const score = Math.max(0, 100 - deductions.reduce((sum, deduction) => sum + deduction.points, 0));
  return { score, deductions };
}

async function redisCheck(redis: RedisClient | undefined): Promise<Check> {
  if (!redis) return { status: 'disabled' };
  const started = performance.now();
  try {
    await redis.ping();
    return { status: 'up', latencyMs: Math.round((performance.now() - started) * 100) / 100 };
  } catch (error) {
    return { status: 'down', latencyMs: Math.round(performance.now() - started), error: (error as Error).message };
  }
}

export function createDashboardService(deps: DashboardDeps) {
  const knex = deps.platformKnex;
  const jobs = createJobsAdminService(knex);

  async function tenantFigures() {
    const [byPlan, byStatus, growth] = await Promise.all([
      knex('tenants').select<Array<{ plan: string; count: string }>>('plan', knex.raw('count(*) as count')).groupBy('plan').orderBy('plan'),
      knex('tenants').select<Array<{ status: string; count: string }>>('status', knex.raw('count(*) as count')).groupBy('status'),
      knex
        .select<Array<{ day: string; count: string }>>(
          knex.raw("to_char(d.day, 'YYYY-MM-DD') as day"),
          knex.raw(
            "(select count(*) from tenants t where t.created_at >= (d.day at time zone 'UTC') and t.created_at < ((d.day + interval '1 day') at time zone 'UTC')) as count",
          ),
        )
        .from(
          knex.raw("generate_series((now() at time zone 'UTC')::date - ?::int, (now() at time zone 'UTC')::date, interval '1 day') as d(day)", [
            GROWTH_DAYS - 1,
          ]),
        )
        .orderBy('d.day'),
    ]);
    return {
      total: byStatus.reduce((sum, row) => sum + Number(row.count), 0),
      byPlan: byPlan.map((row) => ({ plan: row.plan, count: Number(row.count) })),
      byStatus: { active: 0, suspended: 0, ...Object.fromEntries(byStatus.map((row) => [row.status, Number(row.count)])) },
      growth: growth.map((row) => ({ day: row.day, newTenants: Number(row.count) })),
    };
  }

  /** A user is active in a period if they signed in, or used a session, within it. */
  async function activeUsers() {
    const activeSince = (days: number) =>
      knex('users as u')
        .whereNull('u.deletedAt')
        .where((where) =>
          where
            .where('u.lastLoginAt', '>=', knex.raw(`now() - interval '${days} days'`))
            .orWhereExists(
              knex('sessions as s')
                .select(knex.raw('1'))
                .whereRaw('s.tenant_id = u.tenant_id and s.user_id = u.id')
                .where('s.lastUsedAt', '>=', knex.raw(`now() - interval '${days} days'`)),
            ),
        )
        .count<Array<{ count: string }>>({ count: '*' });
    const [[week], [month]] = await Promise.all([activeSince(7), activeSince(30)]);
    return { last7Days: Number(week?.count ?? 0), last30Days: Number(month?.count ?? 0) };
  }

  /** Every tenant's calls today: what usage_daily holds, plus the shared counters no rollup has moved yet. */
  async function callsToday() {
    await deps.usage.flush();
    const today = utcDay();
    const [row] = await knex('usageDaily')
      .where('day', today)
      .select<Array<{ apiCalls: string | null; clientErrors: string | null; serverErrors: string | null }>>(
        knex.raw('sum(api_calls) as api_calls'),
        knex.raw('sum(client_errors) as client_errors'),
        knex.raw('sum(server_errors) as server_errors'),
      );
    let sums: DayCounts = { apiCalls: Number(row?.apiCalls ?? 0), clientErrors: Number(row?.clientErrors ?? 0), serverErrors: Number(row?.serverErrors ?? 0) };
    if (deps.redis) {
      for (const entry of parseDayHash(await deps.redis.hgetall(dayHashKey(deps.redisKeyPrefix, today))).values()) sums = addCounts(sums, entry);
    }
    return { day: today, ...sums };
  }

  return {
    async dashboard() {
      const [tenants, users, http, database, redis, jobCounts] = await Promise.all([
        tenantFigures(),
        activeUsers(),
        httpStats(deps.metrics),
        checkDatabase({ knex: deps.knex }),
        redisCheck(deps.redis),
        jobs.counts(),
      ]);
      // Redis being down must not fail the dashboard that reports it.
      const today = redis.status === 'down' ? null : await callsToday();
      const failed: JobState = 'failed';
      return {
        generatedAt: new Date().toISOString(),
        tenants,
        activeUsers: users,
        requests: { instance: http, today },
        database: { ...database, pool: poolStats(deps.knex) },
        redis,
        jobs: jobCounts,
        health: healthScore({ database: database.status, redis: redis.status, http, failedJobs: jobCounts.byState[failed] }),
        recentErrors: deps.recentErrors.list(RECENT_ERRORS_SHOWN),
        outbound: deps.outbound.snapshot(),
      };
    },
  };
}
