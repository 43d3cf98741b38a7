import { loadConfigOrExit } from '../config/load-config';
import { resolveDatabase } from '../infra/database-target';
import { createLogger } from '../infra/logger';
import { migrateDatabase } from '../infra/migrator';

/** `npm run migrate`: applies migrations as DATABASE_URL's user and provisions the runtime role. */
async function main(): Promise<void> {
  const config = loadConfigOrExit(process.env);
  const logger = createLogger(config.log.level);
  const database = await resolveDatabase(config, logger);
  try {
    const applied = await migrateDatabase(database.adminUrl, config.db.appUrl);
    logger.info('migrations done', { applied });
  } finally {
    await database.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`Migration failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
