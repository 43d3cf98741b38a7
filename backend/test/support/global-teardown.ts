import { rmSync } from 'node:fs';
import { dropDatabase, TEST_ENV, workerDatabases } from './test-database';

export default async function globalTeardown(): Promise<void> {
  const serverUrl = process.env[TEST_ENV.serverUrl];
  const runPrefix = process.env[TEST_ENV.runPrefix];
  if (serverUrl && runPrefix) {
    for (const url of await workerDatabases(serverUrl, runPrefix)) await dropDatabase(url);
  }
  const openApiFile = process.env[TEST_ENV.openApiFile];
  if (openApiFile) rmSync(openApiFile, { force: true });
  await globalThis.__crmTestServer?.stop();
}
