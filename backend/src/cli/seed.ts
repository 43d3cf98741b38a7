import { loadConfigOrExit } from '../config/load-config';
import { resolveDatabase } from '../infra/database-target';
import { createLogger } from '../infra/logger';
import { seedDatabase } from '../infra/migrator';

/** `npm run seed`: loads the demo tenants (idempotent). */
async function main(): Promise<void> {
  const config = loadConfigOrExit(process.env);
  const logger = createLogger(config.log.level);
  const database = await resolveDatabase(config, logger);
  try {
    await seedDatabase(database.adminUrl);
    logger.info('demo data seeded');
  } finally {
    await database.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`Seeding failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
