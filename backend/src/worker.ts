import { loadConfigOrExit } from './config/load-config';
import { createServingPools, destroyServingPools } from './infra/db';
import { servingCredentials } from './infra/db-roles';
import { createLogger, flushLogs } from './infra/logger';
import { errorReporterOf } from './infra/error-tracking';
import { exitOnProcessErrors } from './infra/process-errors';
import { createMetrics } from './infra/metrics';
import { outboundCallsOf } from './infra/outbound/outbound-call';
import { connectRedis } from './infra/redis';
import { closeHttpServer, stopInOrder } from './infra/shutdown';
import { JOBS } from './jobs/job-catalog';
import { registerQueueMetrics } from './jobs/queue-metrics';
import { registerAuditBacklogMetrics } from './modules/audit/audit-backlog';
import { registerWebhookDeliveryMetrics } from './modules/webhooks/delivery-metrics';
import { startJobEngine } from './jobs/job-engine';
import { createWorkerServer } from './jobs/worker-http';
import { startPrincipalRevocation, stopPrincipalRevocation } from './modules/auth/principal-revocation';
import { startLiveEvents, stopLiveEvents } from './modules/change-feed/live-events';

/**
 * `npm run worker`: the job engine alone, for deployments that scale jobs apart from the API (set
 * JOBS_IN_PROCESS=false on the API then). Serves GET /metrics and GET /health on WORKER_PORT.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit(process.env);
  const logger = createLogger(config.log.level).child({ service: 'crm-worker' });
  exitOnProcessErrors(logger, errorReporterOf(config));
  if (!config.db.adminUrl && !config.db.platformUrl) {
    process.stderr.write(
      'The worker needs DATABASE_URL (or APP_, PLATFORM_ and JOBS_DATABASE_URL): the embedded database belongs to `npm start`, which runs jobs itself\n',
    );
    process.exit(1);
  }
  // The roles' own URLs, or DATABASE_URL to derive them from: the worker never connects as the owner.
  const credentials = servingCredentials(config.db);
  const pools = createServingPools(credentials, config.db, logger);
  const { knex, platformKnex, jobsKnex } = pools;
  const metrics = createMetrics(knex, outboundCallsOf(config));
  registerAuditBacklogMetrics(metrics.registry, platformKnex, config.audit.sealWarnSeconds);
  registerQueueMetrics(metrics.registry, platformKnex);
  registerWebhookDeliveryMetrics(metrics.registry, platformKnex);
  // Jobs that change who may call (the organization purge) tell the API instances, which cache callers.
  const redis = connectRedis(config, logger);
  startPrincipalRevocation({ config, knex, platformKnex, redis, logger }, 'announces');
  // Jobs that write CRM records wake the API instances' live event streams.
  startLiveEvents({ config, knex, redis, logger }, 'announces');
  const engine = await startJobEngine({ config, knex, platformKnex, jobsKnex, logger }, metrics, {
    databaseUrl: credentials.jobs.url,
    jobs: JOBS,
    concurrency: config.jobs.concurrency,
  });

  let stopping = false;
  const server = createWorkerServer({ knex, metrics, metricsToken: config.metricsToken, stopping: () => stopping });
  server.listen(config.jobs.workerPort, config.http.host, () => {
    const address = server.address();
    logger.info('listening', { port: typeof address === 'object' && address ? address.port : config.jobs.workerPort, jobs: JOBS.length });
  });

  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('worker shutting down: finishing running jobs', { signal });
    void stopInOrder(logger, [
      ['http server', () => closeHttpServer(server)],
      ['job engine', () => engine.stop()],
      ['principal revocation', () => stopPrincipalRevocation(knex)],
      ['live events', () => stopLiveEvents(knex)],
      ['database pools', () => destroyServingPools(pools)],
      redis && ['redis', () => redis.quit()],
    ]).then(async (clean) => {
      logger.info('shutdown complete');
      await flushLogs();
      process.exit(clean ? 0 : 1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`Worker startup failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
