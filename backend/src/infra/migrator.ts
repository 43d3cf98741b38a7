import path from 'node:path';
import { runMigrations } from 'graphile-worker';
import pg from 'pg';
import { Knex } from 'knex';
import { PROJECT_ROOT } from '../lib/project-root';
import { createAdminKnex } from './db';
import { silentWorkerLogger } from './worker-logger';
import { databaseName, jobsCredentials, platformCredentials, runtimeCredentials, RuntimeCredentials } from './db-roles';

export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'migrations');

/**
 * How long a session of a serving login may sit idle inside a transaction before PostgreSQL ends it: the
 * database's own guard that no request, download or job holds a connection and its locks while waiting
 * on something else. Far above any pause of the app's own work between two statements.
 */
export const IDLE_IN_TRANSACTION_TIMEOUT = '60s';
export const SEEDS_DIR = path.join(PROJECT_ROOT, 'seeders');

/**
 * Applies pending migrations as the privileged user, then makes sure the runtime, platform and jobs
 * login roles exist, may log in with the expected passwords, hold their group's grants and nothing more.
 */
export async function migrateDatabase(adminUrl: string, appUrl?: string): Promise<string[]> {
  return withMigrationLock(adminUrl, () => migrateUnderLock(adminUrl, appUrl));
}

/**
 * The advisory lock every migrator of a database takes first (a constant of this application). API
 * containers started together each run the migrations at start: the first applies them, the others wait
 * on the lock and then find nothing to apply, instead of failing on knex's lock table or racing to create
 * the same roles.
 */
export const MIGRATION_LOCK_KEY = 727_001;

/** How long a migrator waits for another one before giving up (a stuck migration needs a human). */
const MIGRATION_LOCK_WAIT = '10min';

/** Runs `work` holding the database's migration lock on a session of its own, released when done or failed. */
export async function withMigrationLock<T>(adminUrl: string, work: () => Promise<T>): Promise<T> {
  const session = new pg.Client({ connectionString: adminUrl, application_name: 'crm-migrate-lock' });
  await session.connect();
  try {
    await session.query(`set lock_timeout = '${MIGRATION_LOCK_WAIT}'`);
    await session.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    return await work();
  } finally {
    // Ending the session releases its advisory lock, even when unlocking failed.
    await session.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await session.end();
  }
}

/**
 * Rolls back the last batch: the migrations the last `npm run migrate` applied, i.e. the last release's,
 * under the same lock. Answers the migrations rolled back, newest first.
 */
export async function rollbackLastBatch(adminUrl: string): Promise<string[]> {
  return withMigrationLock(adminUrl, async () => {
    const knex = createAdminKnex(adminUrl);
    try {
      const [, rolledBack] = (await knex.migrate.rollback({ directory: MIGRATIONS_DIR, loadExtensions: ['.js'] })) as [number, string[]];
      return rolledBack;
    } finally {
      await knex.destroy();
    }
  });
}

async function migrateUnderLock(adminUrl: string, appUrl?: string): Promise<string[]> {
  const credentials = runtimeCredentials(adminUrl, appUrl);
  const knex = createAdminKnex(adminUrl);
  try {
    const [, applied] = (await knex.migrate.latest({ directory: MIGRATIONS_DIR, loadExtensions: ['.js'] })) as [
      number,
      string[],
    ];
    await installJobQueue(knex, adminUrl);
    await ensureLoginRole(knex, credentials, databaseName(adminUrl), appUrl === undefined);
    await ensureLoginRole(knex, platformCredentials(adminUrl), databaseName(adminUrl), true);
    await ensureLoginRole(knex, jobsCredentials(adminUrl), databaseName(adminUrl), true);
    return applied;
  } finally {
    await knex.destroy();
  }
}

/**
 * graphile-worker's schema, installed and upgraded by its own migrations as the owner. The runtime role
 * gets nothing here (it enqueues through app_enqueue_job); the platform role may read the jobs view,
 * which is how the admin console shows the queue. The jobs role uses the queue (fetching, completing,
 * failing, adding jobs: every table, sequence and function of the schema) but may not change its
 * shape: an upgrade of graphile-worker is migrated here, by the owner, never by a running engine.
 */
async function installJobQueue(knex: Knex, adminUrl: string): Promise<void> {
  await runMigrations({ connectionString: adminUrl, maxPoolSize: 1, logger: silentWorkerLogger });
  const platformGroup = platformCredentials(adminUrl).groupRole;
  await execFormatted(knex, 'GRANT USAGE ON SCHEMA graphile_worker TO %I', [platformGroup]);
  await execFormatted(knex, 'GRANT SELECT ON graphile_worker.jobs TO %I', [platformGroup]);
  const jobsGroup = jobsCredentials(adminUrl).groupRole;
  await execFormatted(knex, 'GRANT USAGE ON SCHEMA graphile_worker TO %I', [jobsGroup]);
  await execFormatted(knex, 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA graphile_worker TO %I', [jobsGroup]);
  await execFormatted(knex, 'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA graphile_worker TO %I', [jobsGroup]);
  await execFormatted(knex, 'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA graphile_worker TO %I', [jobsGroup]);
  // graphile-worker turns row-level security on for its private tables with no policy (only their owner
  // reads them): the jobs role gets a policy of its own on each, so it needs neither ownership nor BYPASSRLS.
  const { rows } = await knex.raw<{ rows: Array<{ relname: string }> }>(
    `select c.relname from pg_class c
      where c.relnamespace = 'graphile_worker'::regnamespace and c.relkind in ('r', 'p') and c.relrowsecurity
        and not exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polname = 'jobs_role')`,
  );
  for (const { relname } of rows) {
    await execFormatted(knex, 'CREATE POLICY jobs_role ON graphile_worker.%I TO %I USING (true) WITH CHECK (true)', [relname, jobsGroup]);
  }
}

async function ensureLoginRole(
  knex: Knex,
  credentials: RuntimeCredentials,
  database: string,
  derived: boolean,
): Promise<void> {
  const { rows } = await knex.raw<{ rows: Array<{ rolsuper: boolean; rolbypassrls: boolean }> }>(
    'select rolsuper, rolbypassrls from pg_roles where rolname = ?',
    [credentials.user],
  );
  const existing = rows[0];
  if (existing && (existing.rolsuper || existing.rolbypassrls)) {
    // Never altered behind anyone's back (a non-superuser owner could not anyway): refuse instead.
    throw new Error(
      `The login role "${credentials.user}" is a superuser or has BYPASSRLS; row-level security would not apply`,
    );
  }
  // A new role gets NOSUPERUSER NOBYPASSRLS NOREPLICATION by default, which is all a CREATEROLE owner may set.
  if (!existing) await execFormatted(knex, 'CREATE ROLE %I LOGIN NOCREATEDB NOCREATEROLE INHERIT', [credentials.user]);
  if (derived || !existing) {
    await execFormatted(knex, 'ALTER ROLE %I LOGIN NOCREATEDB NOCREATEROLE INHERIT', [credentials.user]);
    await execFormatted(knex, 'ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', [credentials.user, IDLE_IN_TRANSACTION_TIMEOUT]);
    if (credentials.password) {
      await execFormatted(knex, 'ALTER ROLE %I PASSWORD %L', [credentials.user, credentials.password]);
    } else {
      await execFormatted(knex, 'ALTER ROLE %I PASSWORD NULL', [credentials.user]);
    }
  }
  await execFormatted(knex, 'GRANT %I TO %I', [credentials.groupRole, credentials.user]);
  await execFormatted(knex, 'GRANT CONNECT ON DATABASE %I TO %I', [database, credentials.user]);
}

/** Utility statements take no bind parameters; format() quotes identifiers and literals safely. */
async function execFormatted(knex: Knex, template: string, args: string[]): Promise<void> {
  const placeholders = args.map(() => '?::text').join(', ');
  const { rows } = await knex.raw<{ rows: Array<{ sql: string }> }>(`select format(?, ${placeholders}) as sql`, [
    template,
    ...args,
  ]);
  await knex.raw(rows[0]!.sql);
}

/** Runs the demo seeders as the schema owner; they set the tenant scope themselves (RLS is forced). */
export async function seedDatabase(adminUrl: string): Promise<void> {
  const knex = createAdminKnex(adminUrl);
  try {
    await knex.seed.run({ directory: SEEDS_DIR, loadExtensions: ['.js'] });
  } finally {
    await knex.destroy();
  }
}
