import { Redis } from 'ioredis';
import { Knex } from 'knex';

export type CheckStatus = 'up' | 'down' | 'disabled';
export interface Check {
  status: CheckStatus;
  latencyMs?: number;
  error?: string;
}
export interface HealthReport {
  status: 'healthy' | 'degraded' | 'unhealthy';
  checks: { database: Check; redis: Check };
  uptimeSeconds: number;
}

const CHECK_TIMEOUT_MS = 2_000;

export interface HealthDeps {
  knex: Knex;
  redis?: Redis;
  lifecycle: { draining: boolean };
}

/** Runs probe with a deadline, so a hung dependency makes a check fail rather than the endpoint hang. */
async function timed(probe: () => Promise<unknown>): Promise<Check> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { status: 'up', latencyMs: Math.round((performance.now() - started) * 100) / 100 };
  } catch (error) {
    return { status: 'down', latencyMs: Math.round(performance.now() - started), error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export const checkDatabase = (deps: HealthDeps): Promise<Check> => timed(() => deps.knex.raw('select 1'));

export async function healthReport(deps: HealthDeps): Promise<HealthReport> {
  const redis = deps.redis;
  const [database, redisCheck] = await Promise.all([
    checkDatabase(deps),
    redis ? timed(() => redis.ping()) : Promise.resolve<Check>({ status: 'disabled' }),
  ]);
  // Without the database nothing works; without Redis, limits fall back and the API still serves.
  const status = database.status === 'down' ? 'unhealthy' : redisCheck.status === 'down' ? 'degraded' : 'healthy';
  return { status, checks: { database, redis: redisCheck }, uptimeSeconds: Math.round(process.uptime()) };
}
