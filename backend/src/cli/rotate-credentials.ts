import { loadConfigOrExit } from '../config/load-config';
import { createServingPools, destroyServingPools } from '../infra/db';
import { servingCredentials } from '../infra/db-roles';
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
  // The pools the server and the worker use (no database named: servingCredentials says which variables to set).
  const pools = createServingPools(servingCredentials(config.db), config.db, logger);
  try {
    const result = await rotateCredentials(pools.knex, pools.platformKnex, config.credentialKeys);
    logger.info('credentials re-encrypted under the current key', { currentKeyId: config.credentialKeys[0]!.id, ...result });
  } finally {
    await destroyServingPools(pools);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`Credential rotation failed: ${(error as Error)?.message ?? String(error)}\n`);
  process.exit(1);
});
