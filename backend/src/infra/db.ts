import knexFactory, { Knex } from 'knex';
import ClientPG from 'knex/lib/dialects/postgres';
import TransactionPG from 'knex/lib/dialects/postgres/execution/pg-transaction';
import { knexSnakeCaseMappers } from 'objection';
import pg from 'pg';
import type { ServingCredentials } from './db-roles';
import { Logger } from './logger';

// JSON shapes for the API: dates stay 'YYYY-MM-DD' (not a local-midnight Date), and numeric/bigint
// become numbers (amounts fit in 14 digits, counts and ticket numbers far below 2^53).
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value));
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `knex.transaction(fn, { bindTenant })`: what a transaction of these pools may be told at its start. */
export interface BindingTransactionConfig extends Knex.TransactionConfig {
  bindTenant?: string;
}

/**
 * A transaction that binds its tenant in the round trip that begins it: `BEGIN; SET LOCAL app.tenant_id = '…'`
 * goes as one simple-protocol message, so binding costs no round trip of its own. The value is a UUID checked
 * here, so it can be written as a literal. SET LOCAL (not set_config) because Citus propagates SET LOCAL to
 * its workers (citus.propagate_set_commands = local) and set_config() not.
 *
 * On a Citus coordinator the SET LOCAL goes alone, in a second round trip: Citus forwards the whole text of
 * the query that held it to every worker the transaction uses, so a `BEGIN` sharing it would reach each
 * worker inside its open transaction (docs/SCALING.md).
 */
class TenantBindingTransaction extends TransactionPG {
  private readonly bindTenant?: string;

  constructor(client: unknown, container: unknown, config?: BindingTransactionConfig, outerTx?: unknown) {
    super(client, container, config, outerTx);
    this.bindTenant = config?.bindTenant;
  }

  override async begin(connection: unknown): Promise<unknown> {
    if (this.bindTenant === undefined) return super.begin(connection);
    if (!UUID.test(this.bindTenant)) throw new Error('A tenant id must be a UUID');
    const begin = ['BEGIN', this.isolationLevel ? `ISOLATION LEVEL ${this.isolationLevel}` : '', this.readOnly ? 'READ ONLY' : ''].filter(Boolean).join(' ');
    const bind = `SET LOCAL app.tenant_id = '${this.bindTenant.toLowerCase()}'`;
    if (!(await (this.client as TenantBindingClient).isCitusCoordinator(connection as pg.ClientBase))) {
      return this.query(connection, `${begin}; ${bind}`);
    }
    await this.query(connection, begin);
    return this.query(connection, bind);
  }
}

/**
 * Whether a pool's database is a Citus coordinator, once known, by the pool's config object: knex's
 * transaction clients are copies of the pool's client sharing its config, so a transaction (nested or not)
 * finds the answer too.
 */
const citusByPool = new WeakMap<object, boolean>();

/** knex's PostgreSQL client whose top-level transactions understand `bindTenant`. */
class TenantBindingClient extends ClientPG {
  /** Asked once per pool, on its first binding transaction: the extension does not come or go under a server. */
  private citusCoordinator?: Promise<boolean>;

  override transaction(container: unknown, config?: BindingTransactionConfig, outerTx?: unknown): Knex.Transaction {
    return new TenantBindingTransaction(this, container, config, outerTx) as unknown as Knex.Transaction;
  }

  isCitusCoordinator(connection: pg.ClientBase): Promise<boolean> {
    this.citusCoordinator ??= connection
      .query<{ citus: boolean }>("select exists (select 1 from pg_extension where extname = 'citus') as citus")
      .then(({ rows }) => {
        citusByPool.set(this.config as object, rows[0]!.citus);
        return rows[0]!.citus;
      });
    // A failed look-up (the connection dropped) is asked again by the next transaction, not remembered.
    this.citusCoordinator.catch(() => (this.citusCoordinator = undefined));
    return this.citusCoordinator;
  }
}

/**
 * Whether the pool's database is a Citus coordinator: known once the pool began a tenant transaction, so
 * always inside withTenant (of the pool or of any of its transactions). Asked before, it is a programming
 * error, never a guess.
 */
export function onCitusCoordinator(knex: Knex): boolean {
  const known = knex.client instanceof TenantBindingClient ? citusByPool.get(knex.client.config as object) : false;
  if (known === undefined) throw new Error('Whether the database is a Citus coordinator is known only inside a tenant transaction');
  return known;
}

/**
 * The RETURNING clause an `INSERT ... SELECT` into a tenant table needs on a Citus coordinator when its
 * SELECT cannot run on the tenant's shard (it reads a function, VALUES or a temporary table): Citus then
 * runs the SELECT on the coordinator and writes its rows into the shard by COPY, which row-level security
 * refuses; with a RETURNING clause it writes them by `INSERT ... SELECT` from an intermediate result
 * instead, under the policy like any insert. On plain PostgreSQL: `columns`' clause, or none.
 */
export function insertSelectReturning(knex: Knex, columns?: string): string {
  if (columns) return `returning ${columns}`;
  return onCitusCoordinator(knex) ? 'returning 1' : '';
}

/** Whether `knex.transaction(fn, { bindTenant })` binds the tenant as it begins (not for a nested transaction). */
export const bindsTenantOnBegin = (knex: Knex): boolean => knex.client instanceof TenantBindingClient && !knex.isTransaction;

export interface PoolOptions {
  poolMax: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
}

/** What every serving pool shares: tenant binding, bounded waits so a dead database fails fast, no bound values in errors. */
function servingPool(url: string, options: PoolOptions, applicationName: string): Knex.Config {
  return {
    client: TenantBindingClient,
    connection: {
      connectionString: url,
      statement_timeout: options.statementTimeoutMs,
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: applicationName,
    },
    pool: { min: 0, max: options.poolMax },
    acquireConnectionTimeout: options.connectTimeoutMs,
    // An error names the statement, never its bound values (emails, token hashes): errors reach the logs.
    compileSqlOnError: false,
  };
}

/** The server's pool: camelCase in code, snake_case in SQL. */
export function createAppKnex(url: string, options: PoolOptions, logger?: Logger): Knex {
  return knexFactory({
    ...servingPool(url, options, 'crm-api'),
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

/**
 * The jobs role's pool (audit sealing and pruning, the purge function, graphile-worker's functions): SQL
 * names as written, like the owner's pool these jobs ran on before, and the same bounded waits as the server's.
 */
export function createJobsKnex(url: string, options: PoolOptions): Knex {
  return knexFactory(servingPool(url, options, 'crm-jobs'));
}

/** The pools of a serving process (the API, the worker, a CLI task), each as its role's own login, never the owner. */
export interface ServingPools {
  knex: Knex;
  /** Admin console routes, staff sign-in and the audit backlog probes. */
  platformKnex: Knex;
  jobsKnex: Knex;
}

/**
 * The runtime pool at DB_POOL_MAX; the platform and jobs pools carry little, so two connections each suffice.
 * Pools connect on first use: one a process never queries opens no connection.
 */
export function createServingPools(credentials: ServingCredentials, options: PoolOptions, logger: Logger): ServingPools {
  return {
    knex: createAppKnex(credentials.runtime.url, options, logger),
    platformKnex: createAppKnex(credentials.platform.url, { ...options, poolMax: 2 }, logger),
    jobsKnex: createJobsKnex(credentials.jobs.url, { ...options, poolMax: 2 }),
  };
}

export const destroyServingPools = (pools: ServingPools): Promise<unknown> =>
  Promise.all([pools.jobsKnex.destroy(), pools.knex.destroy(), pools.platformKnex.destroy()]);

/** A privileged connection for migrations and seeds, as the schema owner. */
export function createAdminKnex(url: string): Knex {
  return knexFactory({
    client: TenantBindingClient,
    connection: { connectionString: url, application_name: 'crm-migrate' },
    pool: { min: 0, max: 2 },
    compileSqlOnError: false,
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
