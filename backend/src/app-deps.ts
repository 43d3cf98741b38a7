import { Knex } from 'knex';
import { AppConfig } from './config/app-config';
import { Logger } from './infra/logger';
import { Metrics } from './infra/metrics';
import { RedisClient } from './infra/redis';

/** What the app is built from; server.ts makes the real ones, tests make their own. */
export interface AppDeps {
  config: AppConfig;
  knex: Knex;
  /** The platform role's small pool, for admin console routes only: reads across tenants, bypassing no policy. */
  platformKnex: Knex;
  redis?: RedisClient;
  logger: Logger;
  metrics: Metrics;
  lifecycle: { draining: boolean };
}
