import { gunzipSync } from 'node:zlib';
import Joi from 'joi';
import { Knex } from 'knex';
import request from 'supertest';
import { runtimeCredentials } from '../src/infra/db-roles';
import { withTenant } from '../src/infra/tenant-scope';
import { enqueueJob } from '../src/jobs/enqueue';
import { defineJob, JobDefinition, tenantPayload } from '../src/jobs/job-definition';
import { pruneTenantAudit } from '../src/modules/audit/audit-retention';
import { sealTenantAudit } from '../src/modules/audit/audit-sealer';
import { login, registerTenant, Registered } from './support/api-fixtures';
import { eventually } from './support/eventually';
import { TestJobRunner } from './support/jobs';
import { startServer } from './support/server-process';
import { adminUrl, buildTestApp, runtimeKnex, TestApp } from './support/test-app';

describe('background jobs', () => {
  let t: TestApp;
  let jobs: TestJobRunner;
  let runtime: Knex;
  let tenant: Registered;

  beforeAll(async () => {
    t = buildTestApp();
    jobs = new TestJobRunner(t);
    runtime = runtimeKnex();
    tenant = await registerTenant(t.app);
  });
  afterAll(async () => {
    await jobs.close();
    await runtime.destroy();
    await t.close();
  });

  describe('enqueueing from a request transaction', () => {
    it('stamps the tenant of the transaction into the payload, whatever the caller wrote there', async () => {
      const other = await registerTenant(t.app);
      const seen: Array<{ tenantId: string }> = [];
      const capture = defineJob({
        name: 'test.capture',
        payload: tenantPayload({}),
        async run(payload) {
          seen.push(payload);
        },
      });
      const capturing = new TestJobRunner(t, [capture as JobDefinition<never>]);
      try {
        await withTenant(runtime, tenant.tenantId, () => enqueueJob('test.capture', { tenantId: other.tenantId }));
        await capturing.runUntilIdle();
      } finally {
        await capturing.close();
      }
      expect(seen).toEqual([{ tenantId: tenant.tenantId }]);
    });

    it('is refused outside a tenant scope', async () => {
      await expect(runtime.raw("select app_enqueue_job('idempotency.purge')")).rejects.toThrow(/tenant scope/);
    });

    it('gives the runtime role no access to the queue tables themselves', async () => {
      await expect(runtime.raw('select count(*) from graphile_worker.jobs')).rejects.toThrow(/permission denied/);
      await expect(runtime.raw("select graphile_worker.add_job('audit.retention')")).rejects.toThrow(/permission denied/);
    });

    it('rolls back with the work: a job enqueued in a failed transaction never exists', async () => {
      let id: string | undefined;
      await expect(
        withTenant(runtime, tenant.tenantId, async () => {
          id = await enqueueJob('idempotency.purge');
          throw new Error('the work failed');
        }),
      ).rejects.toThrow('the work failed');
      expect(id).toBeDefined();
      expect(await jobs.owner('graphile_worker.jobs').where({ id }).first()).toBeUndefined();
    });
  });

  describe('failures', () => {
    const failing = defineJob({
      name: 'test.failing',
      payload: tenantPayload({ mode: Joi.string().valid('throw').required() }),
      async run() {
        throw new Error('the downstream service is down');
      },
    });
    let failingJobs: TestJobRunner;
    beforeAll(() => {
      failingJobs = new TestJobRunner(t, [failing as JobDefinition<never>]);
    });
    afterAll(() => failingJobs.close());

    const metric = async (labels: string): Promise<number> => {
      const text = (await request(t.app).get('/metrics')).text;
      const line = text.split('\n').find((l) => l.startsWith(`job_runs_total{${labels}}`));
      return line ? Number(line.split(' ').at(-1)) : 0;
    };

    it('are retried later with backoff, logged and counted in /metrics', async () => {
      const id = await withTenant(runtime, tenant.tenantId, () => enqueueJob('test.failing', { mode: 'throw' }));
      const tried = Date.now();
      await failingJobs.runDueOnce();

      const job = await jobs.owner('graphile_worker.jobs').where({ id }).first<{ attempts: number; run_at: Date; last_error: string }>('attempts', 'run_at', 'last_error');
      expect(job?.attempts).toBe(1);
      // The first backoff is exp(1) s after the failure, which came after `tried`.
      expect(job!.run_at.getTime()).toBeGreaterThanOrEqual(tried + 2_000);
      expect(job?.last_error).toMatch(/downstream service is down/);
      expect(await metric('task="test.failing",outcome="error"')).toBe(1);
      expect(t.logs).toContainEqual(expect.objectContaining({ level: 'warn', message: 'job failed: will retry', task: 'test.failing', attempt: 1 }));
      await failingJobs.removeJobs([id]);
    });

    it('drop a job whose payload can never be valid instead of retrying it', async () => {
      const id = await withTenant(runtime, tenant.tenantId, () => enqueueJob('test.failing', { mode: 'bogus' }));
      await failingJobs.runUntilIdle(tenant.tenantId);
      expect(await jobs.owner('graphile_worker.jobs').where({ id }).first()).toBeUndefined();
      expect(await metric('task="test.failing",outcome="invalid"')).toBe(1);
    });
  });

  describe('idempotency.purge', () => {
    it('deletes expired keys, so the key can be used for a new request', async () => {
      const key = `purge-${Date.now()}`;
      const first = await request(t.app).post('/api/v1/leads').set(tenant.auth).set('Idempotency-Key', key).send({ lastName: 'First' });
      expect(first.status).toBe(201);
      await withTenant(jobs.owner, tenant.tenantId, (trx) => trx('idempotency_keys').where({ key }).update({ expires_at: new Date(Date.now() - 1000) }));

      await jobs.enqueueScheduled('idempotency.purge');
      await jobs.runUntilIdle();

      expect(await withTenant(jobs.owner, tenant.tenantId, (trx) => trx('idempotency_keys').where({ key }).first())).toBeUndefined();
      const reused = await request(t.app).post('/api/v1/leads').set(tenant.auth).set('Idempotency-Key', key).send({ lastName: 'Second' });
      expect(reused.status).toBe(201);
      expect(reused.headers['idempotent-replayed']).toBeUndefined();
      expect(reused.body.data.id).not.toBe(first.body.data.id);
    });

    it('keeps keys that have not expired: a replay still answers the first result', async () => {
      const key = `keep-${Date.now()}`;
      const first = await request(t.app).post('/api/v1/leads').set(tenant.auth).set('Idempotency-Key', key).send({ lastName: 'Kept' });
      await jobs.enqueueScheduled('idempotency.purge');
      await jobs.runUntilIdle();
      const replay = await request(t.app).post('/api/v1/leads').set(tenant.auth).set('Idempotency-Key', key).send({ lastName: 'Kept' });
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body.data.id).toBe(first.body.data.id);
    });
  });

  describe('sessions.cleanup', () => {
    it('deletes sessions that ended longer ago than the retention period and keeps live ones', async () => {
      const signedIn = await login(t.app, { email: tenant.email, password: tenant.password });
      const oldToken = signedIn.body.data.tokens.accessToken as string;
      const loggedOut = await request(t.app).post('/api/v1/auth/logout').set({ Authorization: `Bearer ${oldToken}` });
      expect(loggedOut.status).toBe(204);
      const ended = await withTenant(jobs.owner, tenant.tenantId, (trx) =>
        trx('sessions').whereNotNull('revoked_at').update({ revoked_at: new Date(Date.now() - 31 * 86_400_000) }, ['id']),
      );
      expect(ended.length).toBeGreaterThan(0);

      await jobs.enqueueScheduled('sessions.cleanup');
      await jobs.runUntilIdle();

      const left = await withTenant(jobs.owner, tenant.tenantId, (trx) => trx('sessions').whereIn('id', ended.map((row: { id: string }) => row.id)));
      expect(left).toHaveLength(0);
      const me = await request(t.app).get('/api/v1/auth/me').set(tenant.auth);
      expect(me.status).toBe(200);
      // The logged-out token stays dead after its session row is gone.
      const stale = await request(t.app).get('/api/v1/auth/me').set({ Authorization: `Bearer ${oldToken}` });
      expect(stale.status).toBe(401);
    });
  });

  describe('audit sealing', () => {
    const verify = async (account: Registered) => (await request(t.app).get('/api/v1/audit-logs/verify').set(account.auth)).body.data;

    it('the scheduled audit.seal job seals every tenant with pending entries and queues its next sweep a second later', async () => {
      const first = await registerTenant(t.app);
      const second = await registerTenant(t.app);
      for (const account of [first, second]) {
        expect((await request(t.app).post('/api/v1/leads').set(account.auth).send({ lastName: 'Sealed' })).status).toBe(201);
        expect(await verify(account)).toMatchObject({ valid: true, sealed: 0, pending: expect.any(Number) });
      }
      await jobs.enqueueScheduled('audit.seal');
      await jobs.runUntilIdle();
      // Another file's runner may be mid-sweep over these tenants (this sweep skips them then): wait for it.
      for (const account of [first, second]) {
        const deadline = Date.now() + 10_000;
        while ((await verify(account)).pending > 0) {
          if (Date.now() > deadline) throw new Error('the entries were never sealed');
          await jobs.runUntilIdle();
        }
        expect(await verify(account)).toEqual({ valid: true, sealed: expect.any(Number), pending: 0, oldestPendingAt: null });
      }
      const next = await jobs.owner('graphile_worker.jobs').where({ task_identifier: 'audit.seal', key: 'audit.seal' }).first<{ run_at: Date } | undefined>('run_at');
      expect(next).toBeDefined();
      expect(next!.run_at.getTime()).toBeGreaterThan(Date.now() - 60_000);
      // The loop runs in production; here tests seal when they need to.
      await jobs.owner.raw("select graphile_worker.remove_job('audit.seal')");
    });
  });

  describe('audit retention', () => {
    it('archives, then prunes, entries older than the cutoff; the chain still verifies and the archive holds them', async () => {
      const owner = await registerTenant(t.app);
      for (const name of ['One', 'Two', 'Three']) {
        expect((await request(t.app).post('/api/v1/leads').set(owner.auth).send({ lastName: name })).status).toBe(201);
      }
      // Retention prunes a prefix of the chain: entries are sealed first (the sealer runs every second or two).
      await sealTenantAudit(jobs.owner, owner.tenantId);
      const before = await request(t.app).get('/api/v1/audit-logs?limit=500').set(owner.auth);
      const prunedCount = before.body.data.length as number;
      // The database stamps entries to the millisecond: the next entry must come after every one above.
      const newest = Math.max(...before.body.data.map((entry: { occurredAt: string }) => Date.parse(entry.occurredAt)));
      const databaseNow = async () => (await jobs.owner.raw<{ rows: Array<{ now: Date }> }>('select clock_timestamp() as now')).rows[0]!.now.getTime();
      await eventually(async () => (await databaseNow()) > newest, 5_000, 'the database clock passing the newest entry');
      expect((await request(t.app).post('/api/v1/leads').set(owner.auth).send({ lastName: 'After' })).status).toBe(201);
      const kept = (await request(t.app).get('/api/v1/audit-logs?limit=500').set(owner.auth)).body.data.filter(
        (entry: { seq: number }) => !before.body.data.some((old: { seq: number }) => old.seq === entry.seq),
      );
      // The retention cutoff: everything stamped before the newest write is old enough.
      const cutoff = new Date(Math.min(...kept.map((entry: { occurredAt: string }) => Date.parse(entry.occurredAt))));

      const result = await pruneTenantAudit(jobs.owner, owner.tenantId, cutoff);
      expect(result).toEqual({ archives: 1, entries: prunedCount });

      const after = await request(t.app).get('/api/v1/audit-logs?limit=500').set(owner.auth);
      expect(after.body.data).toHaveLength(1);
      expect(after.body.data[0].resourceType).toBe('lead');
      await sealTenantAudit(jobs.owner, owner.tenantId);
      const verify = await request(t.app).get('/api/v1/audit-logs/verify').set(owner.auth);
      expect(verify.body.data).toEqual({ valid: true, sealed: 1, pending: 0, oldestPendingAt: null });

      const archives = await request(t.app).get('/api/v1/audit-logs/archives').set(owner.auth);
      expect(archives.status).toBe(200);
      expect(archives.body.data).toHaveLength(1);
      const archive = archives.body.data[0];
      expect(archive).toMatchObject({ firstSeq: 1, lastSeq: prunedCount, entryCount: prunedCount });

      const download = await request(t.app)
        .get(`/api/v1/audit-logs/archives/${archive.id}/download`)
        .set(owner.auth)
        .buffer(true)
        .parse((res, done) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => done(null, Buffer.concat(chunks)));
        });
      expect(download.status).toBe(200);
      const lines = gunzipSync(download.body as Buffer).toString().trim().split('\n').map((line) => JSON.parse(line));
      expect(lines.map((line) => line.seq)).toEqual(before.body.data.map((entry: { seq: number }) => entry.seq).reverse());
      expect(lines.at(-1).hash).toBe(archive.lastHash);
    });

    it('is a no-op when nothing is older than the retention period, and the scheduled job runs clean', async () => {
      const owner = await registerTenant(t.app);
      await jobs.enqueueScheduled('audit.retention');
      await jobs.runUntilIdle();
      const archives = await request(t.app).get('/api/v1/audit-logs/archives').set(owner.auth);
      expect(archives.body.data).toEqual([]);
      expect((await request(t.app).get('/api/v1/audit-logs/verify').set(owner.auth)).body.data.valid).toBe(true);
    });

    it('archives are tenant data: another tenant neither lists nor downloads them', async () => {
      const owner = await registerTenant(t.app);
      await sealTenantAudit(jobs.owner, owner.tenantId);
      await pruneTenantAudit(jobs.owner, owner.tenantId, new Date(Date.now() + 1000));
      const mine = await request(t.app).get('/api/v1/audit-logs/archives').set(owner.auth);
      expect(mine.body.data).toHaveLength(1);
      const theirs = await request(t.app).get('/api/v1/audit-logs/archives').set(tenant.auth);
      expect(theirs.body.data.map((a: { id: string }) => a.id)).not.toContain(mine.body.data[0].id);
      const download = await request(t.app).get(`/api/v1/audit-logs/archives/${mine.body.data[0].id}/download`).set(tenant.auth);
      expect(download.status).toBe(404);
      expect(download.body.error.code).toBe('NOT_FOUND');
    });
  });

  describe('npm run worker', () => {
    it('runs jobs in its own process, counts them in its /metrics (behind METRICS_TOKEN), and stops cleanly on SIGTERM', async () => {
      const token = 'worker-metrics-token-0123456789';
      const worker = await startServer({ DATABASE_URL: adminUrl(), LOG_LEVEL: 'info', JOBS_CONCURRENCY: '1', METRICS_TOKEN: token }, { entry: 'worker.ts' });
      const metrics = (authorization?: string) => fetch(`http://127.0.0.1:${worker.port}/metrics`, { headers: authorization ? { authorization } : {} });
      try {
        const health = await fetch(`http://127.0.0.1:${worker.port}/health`);
        expect(health.status).toBe(200);
        expect(await health.json()).toEqual({ data: { status: 'healthy', checks: { database: { status: 'up', latencyMs: expect.any(Number) } } } });
        const refused = await metrics();
        expect(refused.status).toBe(401);
        expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
        expect((await metrics('Bearer not-the-token')).status).toBe(401);
        // The queue is this file's: the job is the worker's to run.
        await jobs.enqueueScheduled('idempotency.purge');
        const succeeded = async () => {
          const text = await (await metrics(`Bearer ${token}`)).text();
          return /job_runs_total\{task="idempotency.purge",outcome="success"\} 1\b/.test(text);
        };
        await eventually(succeeded, 30_000, 'the worker running the job');
      } finally {
        worker.child.kill('SIGTERM');
      }
      expect(await worker.exited).toBe(0);
      // The worker started the audit sealing loop; here tests seal when they need to.
      await jobs.owner.raw("select graphile_worker.remove_job('audit.seal')");
    }, 60_000);

    it('answers 503 on /health while its database refuses it, and 200 again once it is back', async () => {
      const worker = await startServer({ DATABASE_URL: adminUrl(), LOG_LEVEL: 'info', JOBS_CONCURRENCY: '1' }, { entry: 'worker.ts' });
      const health = async () => {
        const answer = await fetch(`http://127.0.0.1:${worker.port}/health`);
        return { status: answer.status, body: (await answer.json()) as { data: { status: string } } };
      };
      // What a database outage looks like to the worker's pool: its connections dropped, new ones refused.
      const { user } = runtimeCredentials(adminUrl());
      const role = `"${user.replace(/"/g, '""')}"`;
      try {
        await jobs.owner.raw(`alter role ${role} nologin`);
        await jobs.owner.raw('select pg_terminate_backend(pid) from pg_stat_activity where usename = ? and datname = current_database()', [user]);
        await eventually(async () => (await health()).status === 503, 20_000, 'the worker reporting its database down');
        expect((await health()).body.data.status).toBe('unhealthy');
      } finally {
        await jobs.owner.raw(`alter role ${role} login`);
      }
      await eventually(async () => (await health()).status === 200, 20_000, 'the worker healthy again');
      worker.child.kill('SIGTERM');
      await worker.exited;
      await jobs.owner.raw("select graphile_worker.remove_job('audit.seal')");
    }, 60_000);
  });
});
