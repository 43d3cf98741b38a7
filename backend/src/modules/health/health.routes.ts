import Joi from 'joi';
import { bearerMatches } from '../../lib/crypto';
import { AppError } from '../../lib/errors';
import { defineRoute, raw, RouteDefinition } from '../../http/route';
import { Metrics } from '../../infra/metrics';
import { checkDatabase, healthReport, HealthDeps } from './health.service';

const checkSchema = Joi.object({
  status: Joi.string().valid('up', 'down', 'disabled').required(),
  latencyMs: Joi.number(),
  error: Joi.string(),
});
const auditSealingSchema = checkSchema.keys({
  pending: Joi.number().integer().description('Audit entries appended but not yet sealed, all tenants'),
  overdue: Joi.number().integer().description('Of those, unsealed for longer than AUDIT_SEAL_WARN_SECONDS: the check is down when any'),
  oldestPendingSeconds: Joi.number(),
});
const readySchema = Joi.object({ status: Joi.string().valid('ready', 'draining', 'unavailable').required(), database: checkSchema });
const healthSchema = Joi.object({
  status: Joi.string().valid('healthy', 'degraded', 'unhealthy').required(),
  checks: Joi.object({ database: checkSchema.required(), redis: checkSchema.required(), auditSealing: auditSealingSchema.required() }).required(),
  uptimeSeconds: Joi.number().integer().required(),
});

export interface HealthRouteDeps extends HealthDeps {
  metrics: Metrics;
  metricsToken?: string;
}

/** Operational endpoints for load balancers, orchestrators and Prometheus; outside /api/v1. */
export function healthRoutes(deps: HealthRouteDeps): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/live',
      permission: 'public',
      versioned: false,
      summary: 'Liveness: the process answers',
      response: { status: 200, description: 'Alive', raw: true, schema: Joi.object({ status: Joi.string().valid('alive').required() }) },
      tags: ['Operations'],
      handler: async () => raw(200, { status: 'alive' }),
    }),
    defineRoute({
      method: 'get',
      path: '/ready',
      permission: 'public',
      versioned: false,
      summary: 'Readiness: 503 while the database is unreachable or the server drains',
      response: { status: 200, description: 'Ready (503: not ready)', raw: true, alsoStatus: [503], schema: readySchema },
      tags: ['Operations'],
      handler: async () => {
        if (deps.lifecycle.draining) return raw(503, { status: 'draining' });
        const database = await checkDatabase(deps);
        return database.status === 'up' ? raw(200, { status: 'ready' }) : raw(503, { status: 'unavailable', database });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/health',
      permission: 'public',
      versioned: false,
      summary: 'Health of the service and its dependencies, with latencies',
      response: { status: 200, description: 'The report (503: unhealthy)', raw: true, alsoStatus: [503], schema: healthSchema },
      tags: ['Operations'],
      handler: async () => {
        const report = await healthReport(deps);
        return raw(report.status === 'unhealthy' ? 503 : 200, report, { 'Cache-Control': 'no-store' });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/metrics',
      permission: 'public',
      versioned: false,
      summary: 'Prometheus metrics (bearer METRICS_TOKEN when configured)',
      response: { status: 200, description: 'Prometheus text exposition', contentType: 'text/plain', errors: [401] },
      tags: ['Operations'],
      handler: async (input) => {
        if (deps.metricsToken && !bearerMatches(input.headers.authorization, deps.metricsToken)) {
          throw new AppError('UNAUTHORIZED', 'A valid metrics token is required');
        }
        return { kind: 'text', status: 200, contentType: deps.metrics.registry.contentType, text: await deps.metrics.registry.metrics() };
      },
    }),
  ];
}

