/** Tests run against real PostgreSQL and Redis (DATABASE_URL / REDIS_URL), else the embedded default. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/backend/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  globalSetup: '<rootDir>/backend/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/backend/test/support/global-teardown.ts',
  setupFilesAfterEnv: [
    // The jest worker's own database, and an empty job queue for each file.
    '<rootDir>/backend/test/support/worker-database.ts',
    // Every supertest answer is validated against the OpenAPI document (status, media type, body).
    '<rootDir>/backend/test/support/openapi-validation.ts',
  ],
  // A bound on a hang, not on speed: a test slowed by a loaded machine (a CPU burner beside the suite) still passes.
  testTimeout: 60000,
  maxWorkers: 2,
  // A leaked handle must never hang CI; `npx jest --detectOpenHandles` is how to find one.
  forceExit: true,
};
