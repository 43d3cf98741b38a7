import request from 'supertest';
import winston from 'winston';
import { PassThrough } from 'node:stream';
import { errorReporterOf } from '../src/infra/error-tracking';
import { exitOnProcessErrors } from '../src/infra/process-errors';
import { withTenant } from '../src/infra/tenant-scope';
import { enqueueJob } from '../src/jobs/enqueue';
import { defineJob, JobDefinition, tenantPayload } from '../src/jobs/job-definition';
import { registerTenant, Registered } from './support/api-fixtures';
import { eventually } from './support/eventually';
import { TestJobRunner } from './support/jobs';
import { SentryIngest, startSentryIngest } from './support/sentry-ingest';
import { buildTestApp, runtimeKnex, TestApp } from './support/test-app';

/** A job that always fails, its message quoting what must never reach Sentry. */
const failingJob = defineJob({
  name: 'test.always-fails',
  payload: tenantPayload({}),
  maxAttempts: 1,
  async run() {
    throw new Error('supplier refused olive.owner@example.com with Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl');
  },
});

describe('error tracking (Sentry, through @sentry/node against a local ingest double)', () => {
  let ingest: SentryIngest;
  let t: TestApp;
  let tenant: Registered;

  beforeAll(async () => {
    ingest = await startSentryIngest();
    t = buildTestApp({ env: { SENTRY_DSN: ingest.dsn, SENTRY_RELEASE: 'crm-backend@test-release' } });
    tenant = await registerTenant(t.app);
  });
  afterAll(async () => {
    await t.close();
    await ingest.close();
  });

  const eventTagged = (key: string, value: string) => ingest.events.find((event) => event.tags?.[key] === value);

  it('when a request fails with a 500, then Sentry gets its request id, route, tenant and release, and never the body, the token or the caller', async () => {
    const broken = buildTestApp({ env: { SENTRY_DSN: ingest.dsn, SENTRY_RELEASE: 'crm-backend@test-release' } });
    const working = runtimeKnex();
    try {
      // The database goes away under the tenant's requests: an unexpected error, as a 500.
      await broken.deps.knex.destroy();
      const failed = await request(broken.app)
        .post('/api/v1/leads')
        .set(tenant.auth)
        .set('X-Request-Id', 'sentry-broken-1')
        .send({ lastName: 'Secret-Body-Value', email: 'secret.person@example.com' });
      expect(failed.status).toBe(500);
      await eventually(() => Boolean(eventTagged('request_id', 'sentry-broken-1')), 15_000, 'the 500 at the ingest');
      const event = eventTagged('request_id', 'sentry-broken-1')!;
      expect(event).toMatchObject({
        release: 'crm-backend@test-release',
        environment: 'test',
        tags: { source: 'request', request_id: 'sentry-broken-1', route: '/leads', method: 'POST', status: '500', tenant_id: tenant.tenantId },
      });
      expect(event.exception?.values[0]?.type).toEqual(expect.any(String));
      for (const field of ['request', 'user', 'breadcrumbs', 'extra', 'server_name'] as const) expect(event[field]).toBeUndefined();
      const sent = ingest.raw.join('\n');
      expect(sent).not.toMatch(/Secret-Body-Value|secret\.person@example\.com/);
      expect(sent).not.toContain(tenant.accessToken);
      expect(sent).not.toContain(tenant.email);
    } finally {
      broken.deps.knex = working;
      await broken.close().catch(() => undefined);
    }
  });

  it('when a request is refused (4xx), then nothing is reported', async () => {
    const refused = await request(t.app).post('/api/v1/leads').set(tenant.auth).set('X-Request-Id', 'sentry-refused-1').send({ email: 'not-an-email' });
    expect(refused.status).toBe(400);
    const failed = await request(t.app).get('/api/v1/leads').set('X-Request-Id', 'sentry-unauthenticated-1');
    expect(failed.status).toBe(401);
    await errorReporterOf(t.deps.config).flush(5000);
    expect(ingest.raw.join('\n')).not.toMatch(/sentry-refused-1|sentry-unauthenticated-1/);
  });

  it('when a job fails for good, then Sentry gets its task, id and tenant, with e-mail addresses and tokens scrubbed from the message', async () => {
    const jobs = new TestJobRunner(t, [failingJob as JobDefinition<never>]);
    try {
      const jobId = await withTenant(t.deps.knex, tenant.tenantId, () => enqueueJob(failingJob.name, {}, { maxAttempts: 1 }));
      await jobs.runDueOnce();
      await eventually(() => Boolean(eventTagged('job_id', jobId)), 15_000, 'the failed job at the ingest');
      const event = eventTagged('job_id', jobId)!;
      expect(event.tags).toMatchObject({ source: 'job', job_task: failingJob.name, job_attempt: '1', tenant_id: tenant.tenantId });
      expect(event.exception?.values[0]?.value).toBe('supplier refused [email] with Bearer [token]');
      expect(ingest.raw.join('\n')).not.toMatch(/olive\.owner@example\.com|eyJhbGciOiJIUzI1NiJ9/);
    } finally {
      await jobs.close();
    }
  });

  it('when a rejection escapes to the process, then it is reported before the process exits', async () => {
    const logger = winston.createLogger({ transports: [new winston.transports.Stream({ stream: new PassThrough() })] });
    const exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const crashListeners = process.listeners('uncaughtException');
    const rejectionListeners = process.listeners('unhandledRejection');
    try {
      exitOnProcessErrors(logger, errorReporterOf(t.deps.config));
      process.emit('unhandledRejection', new TypeError('escaped-to-the-process'), Promise.resolve());
      await eventually(() => exit.mock.calls.length > 0, 10_000, 'the exit');
      // The exit waited for the report: it is at the ingest already.
      const event = ingest.events.find((candidate) => candidate.exception?.values[0]?.value === 'escaped-to-the-process');
      expect(event).toMatchObject({ release: 'crm-backend@test-release', tags: { source: 'process' } });
      expect(event!.exception!.values[0]!.type).toBe('TypeError');
    } finally {
      exit.mockRestore();
      for (const listener of process.listeners('uncaughtException')) if (!crashListeners.includes(listener)) process.off('uncaughtException', listener);
      for (const listener of process.listeners('unhandledRejection')) if (!rejectionListeners.includes(listener)) process.off('unhandledRejection', listener);
    }
  });

  it('when SENTRY_DSN is unset, then a 500 sends nothing anywhere', async () => {
    const untracked = buildTestApp();
    const working = runtimeKnex();
    try {
      expect(untracked.deps.config.errorTracking).toBeUndefined();
      await untracked.deps.knex.destroy();
      const failed = await request(untracked.app).post('/api/v1/leads').set(tenant.auth).set('X-Request-Id', 'sentry-untracked-1').send({ lastName: 'X' });
      expect(failed.status).toBe(500);
      await errorReporterOf(untracked.deps.config).flush(1000);
      expect(ingest.raw.join('\n')).not.toContain('sentry-untracked-1');
      expect(untracked.logs.some((line) => line.message === 'request failed')).toBe(true);
    } finally {
      untracked.deps.knex = working;
      await untracked.close().catch(() => undefined);
    }
  });
});
