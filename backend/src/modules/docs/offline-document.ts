import knexFactory from 'knex';
import { declaredRoutes } from '../../app';
import { loadConfig } from '../../config/load-config';
import { createLogger } from '../../infra/logger';
import { createMetrics } from '../../infra/metrics';
import { createRateLimiters } from '../../middleware/rate-limits';
import { buildOpenApiDocument, OpenApiDocument } from './openapi';

/**
 * The document the server serves, built without any server: the routes only capture their dependencies,
 * so a pool that never connects and the default configuration suffice (for the lint and the tests).
 */
export function offlineOpenApiDocument(): OpenApiDocument {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' });
  const knex = knexFactory({ client: 'pg' });
  const deps = { config, knex, platformKnex: knex, logger: createLogger('silent'), metrics: createMetrics(knex), lifecycle: { draining: false } };
  return buildOpenApiDocument(declaredRoutes(deps, createRateLimiters(deps)));
}
