import { loadConfigOrExit } from '../config/load-config';
import { createAppKnex } from '../infra/db';
import { platformCredentials, runtimeCredentials } from '../infra/db-roles';
import { createLogger } from '../infra/logger';
import { rotateCredentials } from '../modules/credentials/credential-rotation';

/**
 * `npm run credentials:rotate`: re-encrypts every stored credential (webhook signing secrets,
 * integration secrets, queued e-mails) under the first key of CREDENTIALS_KEYS. Run it after putting a
 * new key first; remove an old key only once this reports nothing left to re-encrypt.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit(process.env);
  const logger = createLogger(config.log.level).child({ component: 'credentials' });
  const adminUrl = config.db.adminUrl;
  if (!adminUrl) {
    process.stderr.write('credentials:rotate needs DATABASE_URL\n');
    process.exit(1);
  }
  const knex = createAppKnex(runtimeCredentials(adminUrl, config.db.appUrl).url, config.db, logger);
  const platformKnex = createAppKnex(platformCredentials(adminUrl).url, { ...config.db, poolMax: 2 }, logger);
  try {
    const result = await rotateCredentials(knex, platformKnex, config.credentialKeys);
    logger.info('credentials re-encrypted under the current key', { currentKeyId: config.credentialKeys[0]!.id, ...result });
  } finally {
    await Promise.all([knex.destroy(), platformKnex.destroy()]);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`Credential rotation failed: ${(error as Error)?.message ?? String(error)}\n`);
  process.exit(1);
});
