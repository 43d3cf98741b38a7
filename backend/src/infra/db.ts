import knexFactory, { Knex } from 'knex';
import { knexSnakeCaseMappers } from 'objection';
import pg from 'pg';
import { Logger } from './logger';

// JSON shapes for the API: dates stay 'YYYY-MM-DD' (not a local-midnight Date), and numeric/bigint
// become numbers (amounts fit in 14 digits, counts and ticket numbers far below 2^53).
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value));
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface PoolOptions {
  poolMax: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
}

/** The server's pool: camelCase in code, snake_case in SQL, bounded waits so a dead database fails fast. */
export function createAppKnex(url: string, options: PoolOptions, logger?: Logger): Knex {
  return knexFactory({
    client: 'pg',
    connection: {
      connectionString: url,
      statement_timeout: options.statementTimeoutMs,
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: 'crm-api',
    },
    pool: { min: 0, max: options.poolMax },
    acquireConnectionTimeout: options.connectTimeoutMs,
    // knex would print to the console; its warnings belong in the structured log.
    log: {
      warn: (message: unknown) => logger?.warn('knex', { detail: String(message) }),
      error: (message: unknown) => logger?.error('knex', { detail: String(message) }),
      deprecate: (message: unknown) => logger?.warn('knex deprecation', { detail: String(message) }),
      debug: () => undefined,
    },
    ...knexSnakeCaseMappers(),
  });
}

/** A privileged connection for migrations and seeds, as the schema owner. */
export function createAdminKnex(url: string): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: url, application_name: 'crm-migrate' },
    pool: { min: 0, max: 2 },
  });
}

export interface PoolStats {
  used: number;
  free: number;
  pending: number;
  max: number;
}

export function poolStats(knex: Knex): PoolStats {
  const pool = knex.client.pool as
    | { numUsed(): number; numFree(): number; numPendingAcquires(): number; max: number }
    | undefined;
  if (!pool) return { used: 0, free: 0, pending: 0, max: 0 };
  return { used: pool.numUsed(), free: pool.numFree(), pending: pool.numPendingAcquires(), max: pool.max };
}
