import http from 'node:http';
import { AddressInfo } from 'node:net';
import { Knex } from 'knex';
import request from 'supertest';
import { JOBS } from '../src/jobs/job-catalog';
import { JobEngine, startJobEngine } from '../src/jobs/job-engine';
import { registerTenant, Registered } from './support/api-fixtures';
import { eventually } from './support/eventually';
import { TestJobRunner } from './support/jobs';
import { mailsOf } from './support/mail-log';
import { adminUrl, buildTestApp, ownerKnex, TestApp } from './support/test-app';

/**
 * A slow webhook receiver: requests to /slow are held unanswered until released (counting how many are
 * open at once); /fast answers 200 at once. `onFirstSlow` runs before the first /slow request is held.
 */
class SlowReceiver {
  private readonly held: http.ServerResponse[] = [];
  private releasing = false;
  open = 0;
  maxOpen = 0;
  slowSeen = 0;
  fastSeen = 0;
  onFirstSlow?: () => Promise<void>;
  port = 0;
  private readonly server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => void this.handle(req.url ?? '/', res));
  });

  private async handle(url: string, res: http.ServerResponse): Promise<void> {
    if (!url.startsWith('/slow')) {
      this.fastSeen += 1;
      res.writeHead(200).end('ok');
      return;
    }
    this.slowSeen += 1;
    if (this.slowSeen === 1 && this.onFirstSlow) await this.onFirstSlow();
    if (this.releasing) {
      res.writeHead(200).end('ok');
      return;
    }
    this.open += 1;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    res.on('close', () => (this.open -= 1));
    this.held.push(res);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Answers every held request and every later one at once. */
  release(): void {
    this.releasing = true;
    for (const res of this.held.splice(0)) if (!res.writableEnded) res.writeHead(200).end('ok');
  }

  stop(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface LaneRow {
  task: string;
  priority: number;
  queue: string | null;
  tenantId: string;
}

describe('job fairness between tenants', () => {
  let t: TestApp;
  let jobs: TestJobRunner;
  let owner: Knex;
  let receiver: SlowReceiver;
  const api = () => request(t.app);
  const LEADS = 250;

  beforeAll(async () => {
    t = buildTestApp();
    jobs = new TestJobRunner(t);
    owner = ownerKnex();
    receiver = await new SlowReceiver().start();
  });
  afterAll(async () => {
    await receiver.stop();
    await owner.destroy();
    await jobs.close();
    await t.close();
  });

  /** Tenant A: a `*` webhook on the slow receiver and an import of LEADS leads, so LEADS deliveries waiting. */
  async function flooder(path: string): Promise<Registered> {
    const tenant = await registerTenant(t.app);
    const hook = await api().post('/api/v1/webhooks').set(tenant.auth).send({ url: receiver.url(path), events: ['*'] });
    expect(hook.status).toBe(201);
    const rows = Array.from({ length: LEADS }, (_, i) => ({ lastName: `Flood ${i}` }));
    const imported = await api().post('/api/v1/leads/import/bulk').set(tenant.auth).send(rows);
    expect(imported.status).toBe(201);
    expect(imported.body.data.created).toBe(LEADS);
    return tenant;
  }

  /** Asks for a reset and waits for its mail to be queued (the code is made after the 202). */
  async function askForReset(tenant: Registered): Promise<void> {
    const res = await api().post('/api/v1/auth/forgot-password').send({ email: tenant.email });
    expect(res.status).toBe(202);
    await eventually(async () => (await mailsOf(owner, tenant.tenantId, 'password_reset')).length > 0, 15_000, 'the reset mail queued');
  }

  const resetMailSent = async (tenant: Registered) => (await mailsOf(owner, tenant.tenantId, 'password_reset')).some((mail) => mail.status === 'sent');

  /** Each queued job of the given tenants with the lane the database gave it. */
  async function lanes(tenantIds: string[]): Promise<LaneRow[]> {
    const rows = await owner('graphile_worker._private_jobs as j')
      .join('graphile_worker._private_tasks as k', 'k.id', 'j.task_id')
      .leftJoin('graphile_worker._private_job_queues as q', 'q.id', 'j.job_queue_id')
      .whereRaw("j.payload->>'tenantId' = any(?)", [tenantIds])
      .select<Array<{ task: string; priority: number; queue: string | null; tenant_id: string }>>(
        'k.identifier as task',
        'j.priority',
        'q.queue_name as queue',
        owner.raw("j.payload->>'tenantId' as tenant_id"),
      );
    return rows.map((row) => ({ task: row.task, priority: row.priority, queue: row.queue, tenantId: row.tenant_id }));
  }

  it("when tenant A's import floods the queue before tenant B asks for a password reset, then B's mail is queued ahead and sent before any of A's deliveries", async () => {
    const a = await flooder('/slow/ordered');
    const b = await registerTenant(t.app);
    await askForReset(b);

    const queued = await lanes([a.tenantId, b.tenantId]);
    const deliveries = queued.filter((job) => job.task === 'webhooks.deliver');
    expect(deliveries.length).toBeGreaterThanOrEqual(Math.ceil(LEADS / 100));
    expect(new Set(deliveries.map((job) => `${job.tenantId} ${job.priority} ${job.queue}`))).toEqual(new Set([`${a.tenantId} 10 webhooks:${a.tenantId}`]));
    const mail = queued.find((job) => job.task === 'notifications.send' && job.tenantId === b.tenantId);
    expect(mail).toMatchObject({ priority: -10, queue: null });

    // One worker slot: whatever it takes first is what the queue puts first. When A's first delivery
    // reaches the receiver, B's mail must already be out.
    let mailOutBeforeA: boolean | undefined;
    receiver.release();
    receiver.onFirstSlow = async () => {
      mailOutBeforeA = await resetMailSent(b);
    };
    await jobs.runUntilIdle();
    expect(receiver.slowSeen).toBeGreaterThanOrEqual(LEADS);
    expect(mailOutBeforeA).toBe(true);
    expect(await resetMailSent(b)).toBe(true);
  });

  it("when an organization asks for its export, then the job waits in that organization's own exports queue, behind mails", async () => {
    const tenant = await registerTenant(t.app);
    expect((await api().post('/api/v1/organization/export-data').set(tenant.auth).send({})).status).toBe(202);
    const queued = (await lanes([tenant.tenantId])).filter((job) => job.task === 'organization.export');
    expect(queued).toEqual([{ task: 'organization.export', priority: 10, queue: `exports:${tenant.tenantId}`, tenantId: tenant.tenantId }]);
    await jobs.runUntilIdle(tenant.tenantId);
  });

  describe('with a worker of two slots and a receiver of A that never answers in time', () => {
    it("when A's backlog is waiting on its receiver, then it holds one slot: B's reset mail is sent and tenant C's webhook delivered meanwhile", async () => {
      const fresh = await new SlowReceiver().start();
      let engine: JobEngine | undefined;
      try {
        const a = await registerTenant(t.app);
        expect((await api().post('/api/v1/webhooks').set(a.auth).send({ url: fresh.url('/slow/a'), events: ['*'] })).status).toBe(201);
        const rows = Array.from({ length: LEADS }, (_, i) => ({ lastName: `Flood ${i}` }));
        expect((await api().post('/api/v1/leads/import/bulk').set(a.auth).send(rows)).status).toBe(201);
        const c = await registerTenant(t.app);
        expect((await api().post('/api/v1/webhooks').set(c.auth).send({ url: fresh.url('/fast/c'), events: ['lead.created'] })).status).toBe(201);
        expect((await api().post('/api/v1/leads').set(c.auth).send({ lastName: 'Punctual' })).status).toBe(201);
        const b = await registerTenant(t.app);
        await askForReset(b);

        engine = await startJobEngine(jobs.deps, t.deps.metrics, { databaseUrl: adminUrl(), jobs: JOBS, concurrency: 2 });
        await eventually(async () => fresh.fastSeen > 0 && (await resetMailSent(b)), 30_000, "B's reset mail and C's delivery");

        // A's deliveries are 100 per job, 8 requests at a time within a job: all its open requests come
        // from the one job its queue lets run, whichever of its jobs that is by now.
        expect(fresh.slowSeen).toBeGreaterThan(0);
        expect(fresh.maxOpen).toBeLessThanOrEqual(8);
        const pendingOfA = (await lanes([a.tenantId])).filter((job) => job.task === 'webhooks.deliver');
        expect(pendingOfA.length).toBeGreaterThan(0);
      } finally {
        fresh.release();
        await engine?.stop();
        await fresh.stop();
      }
    });
  });
});
