import { createMigratedDatabase, TEST_ENV, testServer } from './test-database';

declare global {
  var __crmTestServer: { stop(): Promise<void> } | undefined;
}

/** Once per run: a fresh database, migrated; the workers find it through the environment. */
export default async function globalSetup(): Promise<void> {
  const server = await testServer();
  globalThis.__crmTestServer = server;
  process.env[TEST_ENV.serverUrl] = server.serverUrl;
  process.env[TEST_ENV.embedded] = server.embedded ? '1' : '';
  process.env[TEST_ENV.adminUrl] = await createMigratedDatabase(server.serverUrl);
}
