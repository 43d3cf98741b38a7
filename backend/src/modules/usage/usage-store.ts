import { Knex } from 'knex';
import { RedisClient } from '../../infra/redis';

/** Counts of one tenant on one UTC day. */
export interface DayCounts {
  apiCalls: number;
  clientErrors: number;
  serverErrors: number;
}

export type CountsByTenant = Map<string, DayCounts>;

const FIELD = { calls: 'apiCalls', '4xx': 'clientErrors', '5xx': 'serverErrors' } as const;
type FieldSuffix = keyof typeof FIELD;

/** Two days after the day ends the rollup has long copied it; a week leaves room for a stopped worker. */
export const DAY_HASH_TTL_SECONDS = 8 * 86_400;

export const utcDay = (at: Date = new Date()): string => at.toISOString().slice(0, 10);

/**
 * One hash per UTC day, shared by every instance of the deployment: `<prefix>usage:{<day>}`, fields
 * `<tenantId>:calls|4xx|5xx`. It holds the counts not yet rolled up into usage_daily. The braces make
 * the day a hash tag: on a Redis Cluster the day's hash, its batches and their set share one slot, so
 * the rollup can move one into another atomically.
 */
export const dayHashKey = (prefix: string, day: string): string => `${prefix}usage:{${day}}`;

/** A day's counters taken out by the rollup, under the batch's id, until usage_daily holds them. */
export const batchHashKey = (prefix: string, day: string, batchId: string): string => `${dayHashKey(prefix, day)}:batch:${batchId}`;

/** The ids of a day's batches not yet known to be in usage_daily. */
export const batchSetKey = (prefix: string, day: string): string => `${dayHashKey(prefix, day)}:batches`;

export const fieldOf = (tenantId: string, suffix: FieldSuffix): string => `${tenantId}:${suffix}`;

export const emptyCounts = (): DayCounts => ({ apiCalls: 0, clientErrors: 0, serverErrors: 0 });

export const addCounts = (a: DayCounts, b: DayCounts): DayCounts => ({
  apiCalls: a.apiCalls + b.apiCalls,
  clientErrors: a.clientErrors + b.clientErrors,
  serverErrors: a.serverErrors + b.serverErrors,
});

/** A day hash (HGETALL) as counts per tenant; fields that are not ours are ignored. */
export function parseDayHash(hash: Record<string, string>): CountsByTenant {
  const counts: CountsByTenant = new Map();
  for (const [field, value] of Object.entries(hash)) {
    const separator = field.lastIndexOf(':');
    const tenantId = field.slice(0, separator);
    const suffix = field.slice(separator + 1) as FieldSuffix;
    if (separator < 0 || !(suffix in FIELD) || !/^[0-9a-f-]{36}$/i.test(tenantId)) continue;
    const entry = counts.get(tenantId) ?? emptyCounts();
    entry[FIELD[suffix]] = Number(value) || 0;
    counts.set(tenantId, entry);
  }
  return counts;
}

/** The named tenants' counts of one day from Redis (HMGET: a page of tenants, not the whole hash). */
export async function readDayCounts(redis: RedisClient, prefix: string, day: string, tenantIds: string[]): Promise<CountsByTenant> {
  const counts: CountsByTenant = new Map();
  if (tenantIds.length === 0) return counts;
  const fields = tenantIds.flatMap((id) => (Object.keys(FIELD) as FieldSuffix[]).map((suffix) => fieldOf(id, suffix)));
  const values = await redis.hmget(dayHashKey(prefix, day), ...fields);
  const hash: Record<string, string> = {};
  fields.forEach((field, index) => {
    const value = values[index];
    if (value !== null && value !== undefined) hash[field] = value;
  });
  for (const [tenantId, entry] of parseDayHash(hash)) counts.set(tenantId, entry);
  return counts;
}

/**
 * Adds counts of one day to usage_daily through the platform role: in-process deltas when there is no
 * Redis, a rolled-up batch otherwise (once per batch: usage-rollup.job.ts). Tenants deleted meanwhile
 * are skipped.
 */
export async function writeDayCounts(knex: Knex, day: string, counts: CountsByTenant): Promise<number> {
  if (counts.size === 0) return 0;
  const rows = [...counts].map(([tenantId, entry]) => ({
    tenant_id: tenantId,
    calls: entry.apiCalls,
    client_errors: entry.clientErrors,
    server_errors: entry.serverErrors,
  }));
  // updated_at from excluded (its default, the statement's now()): Citus refuses now() in DO UPDATE SET.
  const result = await knex.raw(
    `insert into usage_daily (tenant_id, day, api_calls, client_errors, server_errors)
     select v.tenant_id, ?::date, v.calls, v.client_errors, v.server_errors
     from jsonb_to_recordset(?::jsonb) as v(tenant_id uuid, calls bigint, client_errors bigint, server_errors bigint)
     where exists (select 1 from tenants t where t.id = v.tenant_id)
     on conflict (tenant_id, day) do update set
       api_calls = usage_daily.api_calls + excluded.api_calls,
       client_errors = usage_daily.client_errors + excluded.client_errors,
       server_errors = usage_daily.server_errors + excluded.server_errors,
       updated_at = excluded.updated_at`,
    [day, JSON.stringify(rows)],
  );
  return (result as { rowCount: number }).rowCount;
}
