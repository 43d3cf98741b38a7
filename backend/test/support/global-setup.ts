import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { offlineOpenApiDocument } from '../../src/modules/docs/offline-document';
import { TEST_ENV, testServer, uniqueDatabaseName } from './test-database';

declare global {
  var __crmTestServer: { stop(): Promise<void> } | undefined;
}

/**
 * Once per run: the server to test against, and the OpenAPI document every answer is checked against
 * (openapi-validation.ts), built here once rather than in each of ~100 files (seconds of CPU each). Each jest worker makes its own database on it when its first
 * file starts (worker-database.ts), so test files running at the same time never share one.
 */
export default async function globalSetup(): Promise<void> {
  const server = await testServer();
  globalThis.__crmTestServer = server;
  process.env[TEST_ENV.serverUrl] = server.serverUrl;
  process.env[TEST_ENV.embedded] = server.embedded ? '1' : '';
  process.env[TEST_ENV.runPrefix] = uniqueDatabaseName('crm_test');
  const openApiFile = path.join(os.tmpdir(), `${process.env[TEST_ENV.runPrefix]}-openapi.json`);
  writeFileSync(openApiFile, JSON.stringify(offlineOpenApiDocument()));
  process.env[TEST_ENV.openApiFile] = openApiFile;
}
