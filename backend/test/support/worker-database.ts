import { makeWorkerUtils } from 'graphile-worker';
import { silentWorkerLogger } from '../../src/infra/worker-logger';
import { createMigratedDatabase, databaseUrl, dropDatabase, TEST_ENV } from './test-database';

/**
 * Each jest worker has a database of its own, made and migrated when its first file starts: files that
 * run at the same time share nothing in PostgreSQL. The files a worker runs one after another share it,
 * but each starts with an empty job queue, so no job is ever run by another file's runner or settings.
 */
const serverUrl = process.env[TEST_ENV.serverUrl]!;
const name = `${process.env[TEST_ENV.runPrefix]}_w${process.env.JEST_WORKER_ID ?? '1'}`;
process.env[TEST_ENV.adminUrl] = databaseUrl(serverUrl, name);

// Set in this worker process once its database is migrated; a file's own module state does not last.
const READY = 'CRM_TEST_WORKER_DATABASE_READY';

beforeAll(async () => {
  const url = process.env[TEST_ENV.adminUrl]!;
  if (process.env[READY] !== url) {
    // A half-made one (a worker that died while migrating) is made again.
    await dropDatabase(url);
    await createMigratedDatabase(serverUrl, undefined, name);
    process.env[READY] = url;
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
