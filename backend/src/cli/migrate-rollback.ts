import { loadConfigOrExit } from '../config/load-config';
import { resolveDatabase } from '../infra/database-target';
import { createLogger } from '../infra/logger';
import { rollbackLastBatch } from '../infra/migrator';

/**
 * `npm run migrate:rollback` (in the image: `node backend/dist/cli/migrate-rollback.js`): undoes the last
 * batch of migrations, the ones the last release applied, as DATABASE_URL's user. Run it with the previous
 * release's code stopped or already deployed (docs/UPGRADING.md, *Rolling back a release*).
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit(process.env);
  const logger = createLogger(config.log.level);
  const database = await resolveDatabase(config, logger);
  try {
    const rolledBack = await rollbackLastBatch(database.adminUrl);
    logger.info('migrations rolled back', { rolledBack });
  } finally {
    await database.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`Rollback failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
