import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Knex } from 'knex';
import winston from 'winston';
import { createApp } from '../../src/app';
import { AppDeps } from '../../src/app-deps';
import { AppConfig } from '../../src/config/app-config';
import { loadConfig } from '../../src/config/load-config';
import { createAdminKnex, createAppKnex, createJobsKnex } from '../../src/infra/db';
import { jobsCredentials, platformCredentials, runtimeCredentials } from '../../src/infra/db-roles';
import { createLogger } from '../../src/infra/logger';
import { createMetrics } from '../../src/infra/metrics';
import { outboundCallsOf } from '../../src/infra/outbound/outbound-call';
import { connectRedis } from '../../src/infra/redis';
import { registerQueueMetrics } from '../../src/jobs/queue-metrics';
import { registerAuditBacklogMetrics } from '../../src/modules/audit/audit-backlog';
import { registerWebhookDeliveryMetrics } from '../../src/modules/webhooks/delivery-metrics';
import { withTenant } from '../../src/infra/tenant-scope';
import { stopPrincipalRevocation } from '../../src/modules/auth/principal-revocation';
import { stopLiveEvents } from '../../src/modules/change-feed/live-events';
import { provisionTenant } from '../../src/modules/tenants/tenants.service';
import { createUser } from '../../src/modules/users/users.service';
import { TEST_ENV } from './test-database';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export const adminUrl = (): string => {
  const url = process.env[TEST_ENV.adminUrl];
  if (!url) throw new Error('The test database is not set up (jest globalSetup)');
  return url;
};

/** The config a test app runs with: the test database, Redis when REDIS_URL is set, quiet logs. */
export function testConfig(env: Record<string, string | undefined> = {}): AppConfig {
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: adminUrl(),
    REDIS_URL: process.env.REDIS_URL,
    LOG_LEVEL: 'silent',
    JWT_SECRET: TEST_JWT_SECRET,
    BCRYPT_COST: '4',
    // Each app counts alone, and budgets are wide: rate-limit tests set their own.
    REDIS_KEY_PREFIX: `test:${randomUUID().slice(0, 8)}:`,
    RATE_LIMIT_ANONYMOUS_MAX: '100000',
    RATE_LIMIT_LOGIN_MAX: '100000',
    RATE_LIMIT_SIGNUP_MAX: '100000',
    // A loaded CI machine can slow a Redis round trip past its timeout; only the tests of that policy fail closed.
    RATE_LIMIT_AUTH_FAIL_OPEN: 'true',
    // Twenty requests at once on a loaded 2-core machine can wait on the pool for seconds: a wait is not what
    // these tests are about.
    DB_CONNECT_TIMEOUT_MS: '20000',
    // No sealer runs beside the tests (they seal when they need to), so other files' entries stay pending:
    // only the tests of the audit backlog warning set a bound a test run can reach.
    AUDIT_SEAL_WARN_SECONDS: '86400',
    // Deliveries go to receivers on 127.0.0.1; the SSRF guard's refusals are tested with apps and deps that set this to false.
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    // Sweeps and fuzzers probe foreign and unknown ids by the hundred, and lockout tests fail sign-ins on
    // purpose: the id-walk throttle and the stuffing delay are off but in the tests of those responses.
    SECURITY_WALK_REFUSALS: '100000',
    SECURITY_SIGNIN_DELAY_MS: '0',
    ...env,
  });
}

export interface TestApp {
  app: ReturnType<typeof createApp>;
  deps: AppDeps;
  /** Every line the app logged, parsed. */
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** An app wired like server.ts does it, against the test database as the runtime role. */
export function buildTestApp(options: { env?: Record<string, string | undefined>; knex?: Knex } = {}): TestApp {
  const config = testConfig(options.env);
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger('info');
  logger.clear();
  logger.add(
    new winston.transports.Stream({
      stream: new Writable({
        write(chunk: Buffer, _encoding, done) {
          logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      }),
    }),
  );
  const knex = options.knex ?? createAppKnex(runtimeCredentials(adminUrl()).url, config.db, logger);
  const platformKnex = createAppKnex(platformCredentials(adminUrl()).url, { ...config.db, poolMax: 2 }, logger);
  const redis = connectRedis(config, logger);
  const metrics = createMetrics(knex, outboundCallsOf(config));
  registerAuditBacklogMetrics(metrics.registry, platformKnex, config.audit.sealWarnSeconds);
  registerQueueMetrics(metrics.registry, platformKnex);
  registerWebhookDeliveryMetrics(metrics.registry, platformKnex);
  const deps: AppDeps = { config, knex, platformKnex, redis, logger, metrics, lifecycle: { draining: false } };
  return {
    app: createApp(deps),
    deps,
    logs,
    close: async () => {
      await stopPrincipalRevocation(knex);
      await stopLiveEvents(knex);
      await knex.destroy();
      await platformKnex.destroy();
      redis?.disconnect();
    },
  };
}

/** The runtime role's pool, as the server has it. */
export const runtimeKnex = (poolMax = 2): Knex =>
  createAppKnex(runtimeCredentials(adminUrl()).url, { poolMax, statementTimeoutMs: 10_000, connectTimeoutMs: 5_000 });

/** The platform role's pool, as the server has it. */
export const platformRoleKnex = (): Knex =>
  createAppKnex(platformCredentials(adminUrl()).url, { poolMax: 2, statementTimeoutMs: 10_000, connectTimeoutMs: 5_000 });

/** The jobs role's pool, as the job engine has it (audit sealing and pruning, the purge function). */
export const jobsRoleKnex = (): Knex => createJobsKnex(jobsCredentials(adminUrl()).url, { poolMax: 2, statementTimeoutMs: 10_000, connectTimeoutMs: 5_000 });

/** The schema owner, for assertions about the catalogue and for bypassing the app on purpose. */
export const ownerKnex = (): Knex => createAdminKnex(adminUrl());

export interface TenantFixture {
  tenantId: string;
  subdomain: string;
  users: Record<string, { id: string; email: string; password: string }>;
}

const PASSWORD = 'Fixture-Passw0rd';

/** A tenant with one user per given role, made through the service layer. */
export async function createTenantFixture(
  knex: Knex,
  roles: string[] = ['tenant_admin'],
): Promise<TenantFixture> {
  const tenantId = randomUUID();
  const subdomain = `t-${tenantId.slice(0, 8)}`;
  const users: TenantFixture['users'] = {};
  await withTenant(knex, tenantId, async () => {
    await provisionTenant({ name: `Tenant ${subdomain}`, subdomain, plan: 'pro' });
    for (const role of roles) {
      const email = `${role}.${subdomain}@example.com`;
      const user = await createUser(
        { email, password: PASSWORD, firstName: 'Test', lastName: role, roleKey: role },
        4,
      );
      users[role] = { id: user.id, email, password: PASSWORD };
    }
  });
  return { tenantId, subdomain, users };
}
