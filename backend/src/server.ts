import http from 'node:http';
import { createApp } from './app';
import { loadConfigOrExit } from './config/load-config';
import { answerClientErrors } from './infra/client-errors';
import { createAdminKnex, createAppKnex } from './infra/db';
import { platformCredentials, runtimeCredentials } from './infra/db-roles';
import { resolveDatabase } from './infra/database-target';
import { createLogger, flushLogs, Logger } from './infra/logger';
import { createMetrics } from './infra/metrics';
import { registerAuditBacklogMetrics } from './modules/audit/audit-backlog';
import { JOBS } from './jobs/job-catalog';
import { JobEngine, startJobEngine } from './jobs/job-engine';
import { migrateDatabase, seedDatabase } from './infra/migrator';
import { createRedis } from './infra/redis';
import { consoleRuntime } from './modules/admin/console-runtime';
import { ensureSuperAdmin } from './modules/admin/platform-admins.service';
import { stopPrincipalRevocation } from './modules/auth/principal-revocation';
import { printDemoLogins } from './cli/demo-logins';

/** Boot order: config -> database (embedded when DATABASE_URL is unset) -> app -> listen. */
async function main(): Promise<void> {
  let config = loadConfigOrExit(process.env);
  const logger = createLogger(config.log.level);

  const database = await resolveDatabase(config, logger);
  if (database.embedded) {
    await migrateDatabase(database.adminUrl);
    await seedDatabase(database.adminUrl);
    const local = database.localSecrets;
    if (local && config.jwt.secretGenerated) {
      config = { ...config, jwt: { ...config.jwt, secret: local.jwtSecret, secretGenerated: false } };
    }
    if (local && config.encryptionKeyDerived) config = { ...config, encryptionKey: local.encryptionKey, encryptionKeyDerived: false };
  }
  if (config.jwt.secretGenerated) {
    logger.warn('JWT_SECRET is not set: using a random secret, so tokens will not survive a restart');
  }
  if (!config.redisUrl) logger.warn('REDIS_URL is not set: rate-limit counters are kept in memory, per process');

  const credentials = runtimeCredentials(database.adminUrl, config.db.appUrl);
  const knex = createAppKnex(credentials.url, config.db, logger);
  // Admin console routes and the audit backlog probes; two connections suffice.
  const platformKnex = createAppKnex(platformCredentials(database.adminUrl).url, { ...config.db, poolMax: 2 }, logger);
  await ensureSuperAdmin(knex, config, logger);
  const redis = config.redisUrl ? createRedis(config.redisUrl, logger) : undefined;
  const lifecycle = { draining: false };
  const metrics = createMetrics(knex);
  registerAuditBacklogMetrics(metrics.registry, platformKnex, config.audit.sealWarnSeconds);
  const deps = { config, knex, platformKnex, redis, logger, metrics, lifecycle };
  const app = createApp(deps);

  // Jobs run here unless `npm run worker` processes take them (JOBS_IN_PROCESS=false).
  const ownerKnex = createAdminKnex(database.adminUrl);
  let jobs: JobEngine | undefined;
  if (config.jobs.inProcess) {
    jobs = await startJobEngine({ config, knex, platformKnex, ownerKnex, logger }, metrics, {
      databaseUrl: database.adminUrl,
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
    server.close(() => {
      void closeResources(logger, [
        // The last requests' usage counts, before the pools and Redis they go to close.
        () => consoleRuntime(deps).usage.stop(),
        async () => jobs?.stop(),
        () => stopPrincipalRevocation(knex),
        () => ownerKnex.destroy(),
        () => knex.destroy(),
        () => platformKnex.destroy(),
        async () => {
          if (redis) await redis.quit();
        },
        () => database.stop(),
      ]).then(async (clean) => {
        logger.info('shutdown complete');
        await flushLogs();
        process.exit(clean ? 0 : 1);
      });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function closeResources(logger: Logger, closers: Array<() => Promise<unknown>>): Promise<boolean> {
  let clean = true;
  for (const close of closers) {
    try {
      await close();
    } catch (error) {
      clean = false;
      logger.error('error while closing a resource', { error });
    }
  }
  return clean;
}

main().catch((error: unknown) => {
  process.stderr.write(`Startup failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
