import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createLogger } from '../../src/infra/logger';
import { startEmbeddedPostgres } from '../../src/infra/embedded-postgres';
import { databaseName, jobsCredentials, platformCredentials, runtimeCredentials } from '../../src/infra/db-roles';
import { migrateDatabase } from '../../src/infra/migrator';
import { freePort } from './private-servers';

/** What the global setup hands the test workers, through the environment. */
export const TEST_ENV = {
  /** The file's database (its jest worker's): set by worker-database.ts before the file loads. */
  adminUrl: 'CRM_TEST_ADMIN_URL',
  serverUrl: 'CRM_TEST_SERVER_URL',
  embedded: 'CRM_TEST_EMBEDDED',
  /** This run's prefix of database names: each jest worker's database is `<prefix>_w<JEST_WORKER_ID>`. */
  runPrefix: 'CRM_TEST_RUN_PREFIX',
  /** The OpenAPI document, built once per run (global-setup.ts) into this JSON file for every file's checks. */
  openApiFile: 'CRM_TEST_OPENAPI_FILE',
  /**
   * Opt-in, outside CI: `host:port` of each Citus worker, comma-separated, when DATABASE_URL is a Citus
   * coordinator (docs/SCALING.md). Each test database is then made on the coordinator and every worker,
   * with the citus extension and the workers registered, before it is migrated.
   */
  citusWorkers: 'CRM_TEST_CITUS_WORKERS',
} as const;

/** The server to test against: DATABASE_URL's, or an embedded cluster of this run's own, on a free port. */
export async function testServer(): Promise<{ serverUrl: string; embedded: boolean; stop(): Promise<void> }> {
  const given = process.env.DATABASE_URL;
  if (given) return { serverUrl: given, embedded: false, stop: async () => undefined };
  const cluster = await startEmbeddedPostgres({
    dir: path.join(os.tmpdir(), `crm-test-postgres-${randomBytes(4).toString('hex')}`),
    port: await freePort(),
    password: 'test-only-password',
    database: 'postgres',
    logger: createLogger('silent'),
    persistent: false,
  });
  return { serverUrl: cluster.adminUrl, embedded: true, stop: cluster.stop };
}

/** A fresh name for a database of this test run. */
export const uniqueDatabaseName = (prefix: string): string => `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;

export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

const CITUS_TEST_SHARDS = 4;

/**
 * How many times longer a test may take on the opted-in Citus cluster than on one server: each request
 * there commits on several nodes (two-phase commits to reference tables, a connection per worker).
 */
export const clusterSlowdown = (): number => (process.env[TEST_ENV.citusWorkers] ? 8 : 1);

/** The Citus workers' server URLs (the coordinator's, on each worker's host and port), when opted in. */
function citusWorkerServers(serverUrl: string): URL[] {
  const workers = process.env[TEST_ENV.citusWorkers];
  if (!workers) return [];
  return workers.split(',').map((worker) => {
    const [host, port] = worker.trim().split(':');
    const url = new URL(serverUrl);
    url.hostname = host!;
    url.port = port ?? '5432';
    return url;
  });
}

/**
 * On a Citus cluster: the database on every worker too, the extension in each, the coordinator told where
 * it is and where its workers are, so the migrations distribute tables as they create them.
 */
async function prepareCitusDatabase(serverUrl: string, name: string): Promise<void> {
  const workers = citusWorkerServers(serverUrl);
  if (!workers.length) return;
  for (const worker of workers) {
    await withClient(worker.toString(), (client) => client.query(`create database ${client.escapeIdentifier(name)}`));
    await withClient(databaseUrl(worker.toString(), name), (client) => client.query('create extension citus'));
  }
  const coordinator = new URL(serverUrl);
  // Four shards per table, not Citus's 32: placement, colocation and routing are the same, and migrating
  // creates an eighth of the shards (32 took about three minutes, past the suites' setup timeouts).
  await withClient(serverUrl, (client) => client.query(`alter database ${client.escapeIdentifier(name)} set citus.shard_count = ${CITUS_TEST_SHARDS}`));
  await withClient(databaseUrl(serverUrl, name), async (client) => {
    await client.query('create extension citus');
    await client.query('select citus_set_coordinator_host($1, $2)', [coordinator.hostname, Number(coordinator.port || 5432)]);
    for (const worker of workers) await client.query('select citus_add_node($1, $2)', [worker.hostname, Number(worker.port)]);
  });
}

/** A new database on the server, migrated (named `name`, or a fresh name from `prefix`). */
export async function createMigratedDatabase(serverUrl: string, prefix = 'crm_test', name = uniqueDatabaseName(prefix)): Promise<string> {
  await withClient(serverUrl, (client) => client.query(`create database ${client.escapeIdentifier(name)}`));
  await prepareCitusDatabase(serverUrl, name);
  const url = databaseUrl(serverUrl, name);
  await migrateDatabase(url);
  return url;
}

/** The databases of this run's jest workers (whichever were made). */
export async function workerDatabases(serverUrl: string, runPrefix: string): Promise<string[]> {
  const { rows } = await withClient(serverUrl, (client) =>
    client.query<{ datname: string }>("select datname from pg_database where datname like $1 || '\\_w%'", [runPrefix]),
  );
  return rows.map((row) => databaseUrl(serverUrl, row.datname));
}

/** Drops a test database and the roles derived from its name (roles outlive databases otherwise). */
export async function dropDatabase(adminUrl: string): Promise<void> {
  const name = databaseName(adminUrl);
  const { user, groupRole } = runtimeCredentials(adminUrl);
  const platform = platformCredentials(adminUrl);
  const jobs = jobsCredentials(adminUrl);
  const serverUrl = databaseUrl(adminUrl, 'postgres');
  // The coordinator first: its database holds the connections to the workers' databases.
  for (const server of [serverUrl, ...citusWorkerServers(serverUrl).map(String)]) {
    await withClient(server, async (client) => {
      await client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`);
      for (const role of [user, groupRole, platform.user, platform.groupRole, jobs.user, jobs.groupRole]) await client.query(`drop role if exists ${client.escapeIdentifier(role)}`);
    });
  }
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
