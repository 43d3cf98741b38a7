import { makeWorkerUtils, WorkerUtils } from 'graphile-worker';
import { Knex } from 'knex';
import { silentWorkerLogger } from '../../src/infra/worker-logger';
import { JOBS } from '../../src/jobs/job-catalog';
import { JobDefinition, JobDeps } from '../../src/jobs/job-definition';
import { runDueJobs } from '../../src/jobs/job-engine';
import { jobsCredentials } from '../../src/infra/db-roles';
import { adminUrl, jobsRoleKnex, ownerKnex, TestApp } from './test-app';

export interface QueuedJob {
  id: string;
  task: string;
  attempts: number;
  maxAttempts: number;
  runAt: Date;
  lastError: string | null;
  lockedBy: string | null;
}

/**
 * Runs the job engine in the test process until no job is due, on the jobs role as the server does. The
 * queue is the file's own (each file starts with an empty one, see worker-database.ts), so what runs is
 * what this file enqueued. Jobs are changed only through graphile-worker's administration functions;
 * `owner` is for the tests' own look at the queue.
 */
export class TestJobRunner {
  readonly owner: Knex = ownerKnex();
  readonly jobs: Knex = jobsRoleKnex();
  readonly deps: JobDeps;
  private utils?: Promise<WorkerUtils>;

  constructor(
    private readonly testApp: TestApp,
    /** Jobs only this runner knows: a runner never fetches a task it does not know. */
    private readonly extraJobs: readonly JobDefinition<never>[] = [],
  ) {
    const { config, knex, platformKnex, logger } = testApp.deps;
    this.deps = { config, knex, platformKnex, jobsKnex: this.jobs, logger };
  }

  /** Runs due jobs until none is left (of the tenant, when given): what a worker would do, right now. */
  async runUntilIdle(tenantId?: string): Promise<void> {
    for (let round = 0; round < 100; round += 1) {
      await this.runDueOnce();
      if ((await this.queuedJobs({ tenantId, due: true })).length === 0) return;
    }
    throw new Error('Jobs did not settle');
  }

  /** One pass: each job due now runs once (a failed one is not run again, however slow the machine). */
  runDueOnce(): Promise<void> {
    return runDueJobs(this.deps, this.testApp.deps.metrics, { databaseUrl: jobsCredentials(adminUrl()).url, jobs: [...JOBS, ...this.extraJobs] });
  }

  /**
   * Jobs in the queue, of the tasks this runner knows, oldest first: all of them, only those due now and
   * not out of attempts, of one task, of one tenant. graphile-worker's `jobs` view leaves the payload,
   * where the tenant is, out; this one read goes to the table behind it.
   */
  async queuedJobs(filter: { task?: string; tenantId?: string; due?: boolean } = {}): Promise<QueuedJob[]> {
    const tasks = filter.task ? [filter.task] : [...JOBS, ...this.extraJobs].map((job) => job.name);
    const query = this.owner('graphile_worker._private_jobs as j')
      .join('graphile_worker._private_tasks as t', 't.id', 'j.task_id')
      .whereIn('t.identifier', tasks)
      .orderBy('j.id');
    if (filter.due) query.where('j.run_at', '<=', this.owner.fn.now()).andWhereRaw('j.attempts < j.max_attempts');
    if (filter.tenantId) query.andWhereRaw("j.payload->>'tenantId' = ?", [filter.tenantId]);
    const rows = await query.select<Array<Record<string, unknown>>>(
      'j.id',
      't.identifier as task',
      'j.attempts',
      'j.max_attempts',
      'j.run_at',
      'j.last_error',
      'j.locked_by',
    );
    return rows.map((row) => ({
      id: String(row.id),
      task: String(row.task),
      attempts: Number(row.attempts),
      maxAttempts: Number(row.max_attempts),
      runAt: row.run_at as Date,
      lastError: (row.last_error as string | null) ?? null,
      lockedBy: (row.locked_by as string | null) ?? null,
    }));
  }

  /** Makes jobs due now, as if their backoff or their run date had passed. */
  async makeDue(ids: string[]): Promise<void> {
    await (await this.workerUtils()).rescheduleJobs(ids, { runAt: new Date() });
  }

  /** Removes jobs from the queue (graphile-worker's "complete"), as a lost job would be. */
  async removeJobs(ids: string[]): Promise<void> {
    await (await this.workerUtils()).completeJobs(ids);
  }

  /** Enqueues a scheduled job now, as its crontab tick would; `tick` is the time the tick says it is (a test's injected clock). */
  async enqueueScheduled(task: string, tick: Date = new Date()): Promise<void> {
    await (await this.workerUtils()).addJob(task, { _cron: { ts: tick.toISOString() } });
  }

  private workerUtils(): Promise<WorkerUtils> {
    this.utils ??= makeWorkerUtils({ connectionString: adminUrl(), logger: silentWorkerLogger });
    return this.utils;
  }

  async close(): Promise<void> {
    if (this.utils) await (await this.utils).release();
    await this.owner.destroy();
    await this.jobs.destroy();
  }
}
