import path from 'node:path';
import { AppConfig } from '../config/app-config';
import { PROJECT_ROOT } from '../lib/project-root';
import { startEmbeddedPostgres } from './embedded-postgres';
import { servingCredentials, ServingCredentials } from './db-roles';
import { loadLocalSecrets } from './local-secrets';
import { Logger } from './logger';

export interface DatabaseTarget {
  adminUrl: string;
  embedded: boolean;
  /** Secrets kept beside the embedded data, for what the configuration leaves unset. */
  localSecrets?: { jwtSecret: string; encryptionKey: Buffer };
  stop(): Promise<void>;
}

export interface ServingDatabase {
  /** The owner's URL: only for the embedded default, which migrates and seeds before serving. */
  ownerUrl?: string;
  embedded: boolean;
  credentials: ServingCredentials;
  localSecrets?: DatabaseTarget['localSecrets'];
  stop(): Promise<void>;
}

/**
 * What a serving process connects to: the roles' own URLs when given (no owner URL in the process at all),
 * else DATABASE_URL's database with derived logins, else the embedded PostgreSQL.
 */
export async function resolveServingDatabase(config: AppConfig, logger: Logger): Promise<ServingDatabase> {
  if (!config.db.adminUrl && config.db.platformUrl) {
    return { embedded: false, credentials: servingCredentials(config.db), stop: async () => undefined };
  }
  const target = await resolveDatabase(config, logger);
  return {
    ownerUrl: target.embedded ? target.adminUrl : undefined,
    embedded: target.embedded,
    credentials: servingCredentials({ ...config.db, adminUrl: target.adminUrl }),
    localSecrets: target.localSecrets,
    stop: target.stop,
  };
}

/** DATABASE_URL when given; otherwise the embedded PostgreSQL kept in EMBEDDED_PG_DIR. */
export async function resolveDatabase(config: AppConfig, logger: Logger): Promise<DatabaseTarget> {
  if (config.db.adminUrl) return { adminUrl: config.db.adminUrl, embedded: false, stop: async () => undefined };
  const dir = path.resolve(PROJECT_ROOT, config.db.embedded.dir);
  const secrets = loadLocalSecrets(path.dirname(dir));
  logger.info('DATABASE_URL is not set: starting the embedded PostgreSQL', { dir, port: config.db.embedded.port });
  const database = await startEmbeddedPostgres({
    dir,
    port: config.db.embedded.port,
    password: secrets.postgresPassword,
    database: 'crm',
    logger,
  });
  return {
    adminUrl: database.adminUrl,
    embedded: true,
    localSecrets: { jwtSecret: secrets.jwtSecret, encryptionKey: Buffer.from(secrets.encryptionKey, 'base64') },
    stop: database.stop,
  };
}
