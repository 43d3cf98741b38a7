import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createLogger } from '../../src/infra/logger';
import { startEmbeddedPostgres } from '../../src/infra/embedded-postgres';
import { databaseName, platformCredentials, runtimeCredentials } from '../../src/infra/db-roles';
import { migrateDatabase } from '../../src/infra/migrator';
import { PROJECT_ROOT } from '../../src/lib/project-root';

/** What the global setup hands the test workers, through the environment. */
export const TEST_ENV = {
  adminUrl: 'CRM_TEST_ADMIN_URL',
  serverUrl: 'CRM_TEST_SERVER_URL',
  embedded: 'CRM_TEST_EMBEDDED',
} as const;

const EMBEDDED_TEST_PORT = 54339;

/** The server to test against: DATABASE_URL's, or an embedded cluster just for tests. */
export async function testServer(): Promise<{ serverUrl: string; embedded: boolean; stop(): Promise<void> }> {
  const given = process.env.DATABASE_URL;
  if (given) return { serverUrl: given, embedded: false, stop: async () => undefined };
  const cluster = await startEmbeddedPostgres({
    dir: path.join(os.tmpdir(), `crm-test-postgres-${process.getuid?.() ?? 'user'}`),
    port: EMBEDDED_TEST_PORT,
    password: 'test-only-password',
    database: 'postgres',
    logger: createLogger('silent'),
    persistent: false,
  });
  return { serverUrl: cluster.adminUrl, embedded: true, stop: cluster.stop };
}

/** A new database on the server, migrated; every test run gets its own. */
export async function createMigratedDatabase(serverUrl: string, prefix = 'crm_test'): Promise<string> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await withClient(serverUrl, (client) => client.query(`create database ${client.escapeIdentifier(name)}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  await migrateDatabase(url.toString());
  return url.toString();
}

/** Drops a test database and the roles derived from its name (roles outlive databases otherwise). */
export async function dropDatabase(adminUrl: string): Promise<void> {
  const name = databaseName(adminUrl);
  const { user, groupRole } = runtimeCredentials(adminUrl);
  const platform = platformCredentials(adminUrl);
  await withClient(adminUrl.replace(/\/[^/]*$/, '/postgres'), async (client) => {
    await client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`);
    for (const role of [user, groupRole, platform.user, platform.groupRole]) await client.query(`drop role if exists ${client.escapeIdentifier(role)}`);
  });
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

export const projectRoot = PROJECT_ROOT;
