'use strict';
/**
 * Settings for the knex CLI (`npx knex migrate:make name`, `npx knex migrate:status`), read from the
 * same validated config as the app. `npm run migrate` is the way to apply migrations: it also
 * provisions the runtime login role the server connects as.
 */
require('tsx/cjs/api').register();
const { loadConfig } = require('./backend/src/config/load-config');
const { MIGRATIONS_DIR, SEEDS_DIR } = require('./backend/src/infra/migrator');

const config = loadConfig(process.env);
if (!config.db.adminUrl) {
  throw new Error('The knex CLI needs DATABASE_URL; `npm run migrate` also works with the embedded default');
}

module.exports = {
  client: 'pg',
  connection: config.db.adminUrl,
  migrations: { directory: MIGRATIONS_DIR, loadExtensions: ['.js'] },
  seeds: { directory: SEEDS_DIR, loadExtensions: ['.js'] },
};
