import http from 'node:http';
import { createApp } from './app';
import { loadConfigOrExit } from './config/load-config';
import { answerClientErrors } from './infra/client-errors';
import { createServingPools, destroyServingPools } from './infra/db';
import { resolveServingDatabase } from './infra/database-target';
import { EmbeddedPostgresError } from './infra/embedded-postgres';
import { createLogger, flushLogs } from './infra/logger';
import { errorReporterOf } from './infra/error-tracking';
import { exitOnProcessErrors } from './infra/process-errors';
import { createMetrics } from './infra/metrics';
import { registerQueueMetrics } from './jobs/queue-metrics';
import { outboundCallsOf } from './infra/outbound/outbound-call';
import { registerAuditBacklogMetrics } from './modules/audit/audit-backlog';
import { registerWebhookDeliveryMetrics } from './modules/webhooks/delivery-metrics';
import { JOBS } from './jobs/job-catalog';
import { JobEngine, startJobEngine } from './jobs/job-engine';
import { migrateDatabase, seedDatabase } from './infra/migrator';
import { connectRedis } from './infra/redis';
import { closeHttpServer, stopInOrder } from './infra/shutdown';
import { consoleRuntime } from './modules/admin/console-runtime';
import { ensureSuperAdmin } from './modules/admin/platform-admins.service';
import { stopPrincipalRevocation } from './modules/auth/principal-revocation';
import { stopLiveEvents } from './modules/change-feed/live-events';
import { printDemoLogins } from './cli/demo-logins';

/**
 * Boot order: config -> database (the roles' own URLs, DATABASE_URL, or embedded when neither is set) -> app
 * -> listen. The embedded default migrates and seeds first, as the owner, on pools it closes before serving;
 * from then on this process connects only as the runtime, platform and jobs roles (none superuser,
 * BYPASSRLS or owner).
 */
async function main(): Promise<void> {
  let config = loadConfigOrExit(process.env);
  const logger = createLogger(config.log.level);
  exitOnProcessErrors(logger, errorReporterOf(config));

  const database = await resolveServingDatabase(config, logger);
  if (database.ownerUrl) {
    // Each closes its owner pool before returning: nothing below connects as the owner.
    await migrateDatabase(database.ownerUrl);
    await seedDatabase(database.ownerUrl);
    const local = database.localSecrets;
    if (local && config.jwt.secretGenerated) {
      config = { ...config, jwt: { ...config.jwt, secret: local.jwtSecret, secretGenerated: false } };
    }
    if (local && config.encryptionKeyDerived) config = { ...config, encryptionKey: local.encryptionKey, encryptionKeyDerived: false };
  }
  if (config.jwt.secretGenerated) {
    logger.warn('JWT_SECRET is not set: using a random secret, so tokens will not survive a restart');
  }
  if (!config.redisUrl && !config.redisCluster) logger.warn('REDIS_URL is not set: rate-limit counters are kept in memory, per process');

  const { credentials } = database;
  const pools = createServingPools(credentials, config.db, logger);
  const { knex, platformKnex, jobsKnex } = pools;
  await ensureSuperAdmin(platformKnex, config, logger);
  const redis = connectRedis(config, logger);
  const lifecycle = { draining: false };
  const metrics = createMetrics(knex, outboundCallsOf(config));
  registerAuditBacklogMetrics(metrics.registry, platformKnex, config.audit.sealWarnSeconds);
  registerQueueMetrics(metrics.registry, platformKnex);
  registerWebhookDeliveryMetrics(metrics.registry, platformKnex);
  const deps = { config, knex, platformKnex, redis, logger, metrics, lifecycle };
  const app = createApp(deps);

  // Jobs run here unless `npm run worker` processes take them (JOBS_IN_PROCESS=false).
  let jobs: JobEngine | undefined;
  if (config.jobs.inProcess) {
    jobs = await startJobEngine({ config, knex, platformKnex, jobsKnex, logger }, metrics, {
      databaseUrl: credentials.jobs.url,
      jobs: JOBS,
      concurrency: config.jobs.concurrency,
    });
  }

  const server = http.createServer(app);
  answerClientErrors(server);
  server.listen(config.http.port, config.http.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.http.port;
    logger.info('listening', { port, host: config.http.host, database: database.embedded ? 'embedded' : 'external' });
    if (database.embedded) printDemoLogins(port);
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    lifecycle.draining = true;
    logger.info('shutting down: draining in-flight requests', { signal });
    const force = setTimeout(() => {
      logger.error('shutdown timed out: closing remaining connections');
      server.closeAllConnections();
    }, config.http.shutdownTimeoutMs);
    force.unref();
    // Each part stops only once nothing above it can use it any more.
    void stopInOrder(logger, [
      // Live event streams never end on their own: they end first (clients resume elsewhere by Last-Event-ID).
      ['live event streams', () => stopLiveEvents(knex)],
      ['http server', () => closeHttpServer(server)],
      // The last requests' usage counts, before the pools and Redis they go to close.
      ['usage counters', () => consoleRuntime(deps).usage.stop()],
      jobs && ['job engine', () => jobs.stop()],
      ['principal revocation', () => stopPrincipalRevocation(knex)],
      ['database pools', () => destroyServingPools(pools)],
      redis && ['redis', () => redis.quit()],
      database.embedded && ['embedded PostgreSQL', () => database.stop()],
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
  // A failure the user can fix is one line saying what and how; anything else keeps its stack.
  const detail = error instanceof EmbeddedPostgresError ? error.message : ((error as Error)?.stack ?? String(error));
  process.stderr.write(`Startup failed: ${detail}\n`);
  process.exit(1);
});
