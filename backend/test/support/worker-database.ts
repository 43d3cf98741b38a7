import { makeWorkerUtils } from 'graphile-worker';
import { silentWorkerLogger } from '../../src/infra/worker-logger';
import { createMigratedDatabase, databaseUrl, dropDatabase, TEST_ENV, withClient } from './test-database';

/**
 * Each jest worker has a database of its own, made and migrated when its first file starts: files that
 * run at the same time share nothing in PostgreSQL. The files a worker runs one after another share it,
 * but each starts with an empty job queue, so no job is ever run by another file's runner or settings.
 */
const serverUrl = process.env[TEST_ENV.serverUrl]!;
const name = `${process.env[TEST_ENV.runPrefix]}_w${process.env.JEST_WORKER_ID ?? '1'}`;
process.env[TEST_ENV.adminUrl] = databaseUrl(serverUrl, name);

/**
 * The database says itself that it is ready: a comment set once it is migrated. Jest gives each file its own
 * copy of process.env and of every module, so nothing kept in the process would reach the worker's next file
 * (an earlier marker there made every file build its database again: ~3 s a file).
 */
const READY = 'crm test database: migrated';

beforeAll(async () => {
  const url = process.env[TEST_ENV.adminUrl]!;
  const ready = await withClient(serverUrl, async (client) => {
    const { rows } = await client.query<{ comment: string | null }>("select shobj_description(oid, 'pg_database') as comment from pg_database where datname = $1", [name]);
    return rows[0]?.comment === READY;
  });
  if (!ready) {
    // A half-made one (a worker that died while migrating) is made again.
    await dropDatabase(url);
    await createMigratedDatabase(serverUrl, undefined, name);
    await withClient(serverUrl, (client) => client.query(`comment on database ${client.escapeIdentifier(name)} is '${READY}'`));
  }
  await emptyJobQueue(url);
}, 180_000);

/** Jobs left by the files this worker ran before, through graphile-worker's own administration functions. */
async function emptyJobQueue(url: string): Promise<void> {
  const utils = await makeWorkerUtils({ connectionString: url, logger: silentWorkerLogger });
  try {
    const { rows } = await utils.withPgClient((client) =>
      client.query<{ id: string; locked_by: string | null }>('select id, locked_by from graphile_worker.jobs'),
    );
    const lockers = [...new Set(rows.flatMap((row) => (row.locked_by ? [row.locked_by] : [])))];
    if (lockers.length) await utils.forceUnlockWorkers(lockers);
    if (rows.length) await utils.completeJobs(rows.map((row) => row.id));
  } finally {
    await utils.release();
  }
}
