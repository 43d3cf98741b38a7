import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { auditBacklog, AuditBacklog } from '../audit/audit-backlog';
import { Logger } from '../../infra/logger';
import { RedisClient } from '../../infra/redis';

export type CheckStatus = 'up' | 'down' | 'disabled';
export interface Check {
  status: CheckStatus;
  latencyMs?: number;
  error?: string;
}
/** `down` when entries stay unsealed past AUDIT_SEAL_WARN_SECONDS (or the backlog cannot be read). */
export type AuditSealingCheck = Check & Partial<AuditBacklog>;
export interface HealthReport {
  status: 'healthy' | 'degraded' | 'unhealthy';
  checks: { database: Check; redis: Check; auditSealing: AuditSealingCheck };
  uptimeSeconds: number;
}

const CHECK_TIMEOUT_MS = 2_000;

export interface HealthDeps {
  knex: Knex;
  /** Reads the audit backlog across tenants. */
  platformKnex: Knex;
  redis?: RedisClient;
  lifecycle: { draining: boolean };
  config: Pick<AppConfig, 'audit'>;
  /** Where a failed check's own error text goes (the answer does not carry it). */
  logger?: Logger;
}

/**
 * Runs probe with a deadline, so a hung dependency makes a check fail rather than the endpoint hang. The
 * answer is public: a failure says only that the dependency did not answer, never the driver's text
 * (host names, user names, database names); the operator finds that in the log.
 */
async function timed(name: string, probe: () => Promise<unknown>, logger?: Logger): Promise<Check> {
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
    logger?.warn('health check failed', { check: name, error: (error as Error).message });
    return { status: 'down', latencyMs: Math.round(performance.now() - started), error: `${name} did not answer` };
  } finally {
    clearTimeout(timer);
  }
}

export const checkDatabase = (deps: Pick<HealthDeps, 'knex' | 'logger'>): Promise<Check> => timed('database', () => deps.knex.raw('select 1'), deps.logger);

async function checkAuditSealing(deps: HealthDeps): Promise<AuditSealingCheck> {
  const warnSeconds = deps.config.audit.sealWarnSeconds;
  const probe = auditBacklog(deps.platformKnex, warnSeconds);
  const check = await timed('audit backlog', () => probe, deps.logger);
  if (check.status !== 'up') return check;
  const backlog = await probe;
  if (backlog.overdue === 0) return { ...check, ...backlog };
  return { ...check, status: 'down', error: `${backlog.overdue} audit entries unsealed for more than ${warnSeconds} s`, ...backlog };
}

export async function healthReport(deps: HealthDeps): Promise<HealthReport> {
  const redis = deps.redis;
  const [database, redisCheck, auditSealing] = await Promise.all([
    checkDatabase(deps),
    redis ? timed('redis', () => redis.ping(), deps.logger) : Promise.resolve<Check>({ status: 'disabled' }),
    checkAuditSealing(deps),
  ]);
  // Without the database nothing works; without Redis, limits fall back and the API still serves; an
  // audit chain falling behind loses nothing (entries are committed) but is no longer sealed.
  const status = database.status === 'down' ? 'unhealthy' : redisCheck.status === 'down' || auditSealing.status === 'down' ? 'degraded' : 'healthy';
  return { status, checks: { database, redis: redisCheck, auditSealing }, uptimeSeconds: Math.round(process.uptime()) };
}
