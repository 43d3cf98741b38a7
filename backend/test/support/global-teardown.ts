import { dropDatabase, TEST_ENV } from './test-database';

export default async function globalTeardown(): Promise<void> {
  const adminUrl = process.env[TEST_ENV.adminUrl];
  if (adminUrl) await dropDatabase(adminUrl);
  await globalThis.__crmTestServer?.stop();
}
