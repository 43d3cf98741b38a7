import http from 'node:http';
import { Knex } from 'knex';
import { Metrics } from '../infra/metrics';
import { bearerMatches } from '../lib/crypto';
import { checkDatabase } from '../modules/health/health.service';

export interface WorkerHttpDeps {
  knex: Knex;
  metrics: Metrics;
  /** As on the API: when set, /metrics needs `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** True once the worker is stopping: it takes no new jobs, so a load balancer or orchestrator should know. */
  stopping: () => boolean;
}

const json = (response: http.ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
};

/**
 * The worker's own endpoints on WORKER_PORT. GET /health answers 200 only while the database answers
 * (without it no job runs) and the worker is not stopping, else 503 with the failing check; GET /metrics
 * is the job engine's Prometheus text, behind METRICS_TOKEN as on the API.
 */
export function createWorkerServer(deps: WorkerHttpDeps): http.Server {
  return http.createServer((request, response) => {
    const route = `${request.method} ${request.url}`;
    if (route === 'GET /metrics') {
      if (deps.metricsToken && !bearerMatches(request.headers.authorization, deps.metricsToken)) {
        json(response, 401, { error: { code: 'UNAUTHORIZED', message: 'A valid metrics token is required' } });
        return;
      }
      void deps.metrics.registry.metrics().then((text) => {
        response.writeHead(200, { 'Content-Type': deps.metrics.registry.contentType });
        response.end(text);
      });
      return;
    }
    if (route === 'GET /health') {
      void checkDatabase(deps).then((database) => {
        const status = deps.stopping() ? 'stopping' : database.status === 'up' ? 'healthy' : 'unhealthy';
        // The check's own error text stays in the worker's log, not in an unauthenticated answer.
        json(response, status === 'healthy' ? 200 : 503, { data: { status, checks: { database: { status: database.status, latencyMs: database.latencyMs } } } });
      });
      return;
    }
    json(response, 404, { error: { code: 'NOT_FOUND', message: 'Not found' } });
  });
}
