import { TEST_ENV, testServer, uniqueDatabaseName } from './test-database';

declare global {
  var __crmTestServer: { stop(): Promise<void> } | undefined;
}

/**
 * Once per run: the server to test against. Each jest worker makes its own database on it when its first
 * file starts (worker-database.ts), so test files running at the same time never share one.
 */
export default async function globalSetup(): Promise<void> {
  const server = await testServer();
  globalThis.__crmTestServer = server;
  process.env[TEST_ENV.serverUrl] = server.serverUrl;
  process.env[TEST_ENV.embedded] = server.embedded ? '1' : '';
  process.env[TEST_ENV.runPrefix] = uniqueDatabaseName('crm_test');
}
