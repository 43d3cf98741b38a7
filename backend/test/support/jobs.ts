import { Knex } from 'knex';
import { JOBS } from '../../src/jobs/job-catalog';
import { JobDefinition, JobDeps } from '../../src/jobs/job-definition';
import { runDueJobs } from '../../src/jobs/job-engine';
import { adminUrl, ownerKnex, TestApp } from './test-app';

/**
 * Runs the job engine in the test process until no job is due (for one tenant, or at all). Test files
 * share one database, so a job may be run by another file's worker, with that file's config: settings
 * that change what a job does must be the same in every test app (see testConfig).
 */
export class TestJobRunner {
  readonly owner: Knex = ownerKnex();
  readonly deps: JobDeps;

  constructor(
    private readonly testApp: TestApp,
    /** Jobs only this runner knows; other files' runners never fetch a task they do not know. */
    private readonly extraJobs: readonly JobDefinition<never>[] = [],
  ) {
    const { config, knex, platformKnex, logger } = testApp.deps;
    this.deps = { config, knex, platformKnex, ownerKnex: this.owner, logger };
  }

  async runUntilIdle(tenantId?: string): Promise<void> {
    for (let round = 0; round < 100; round += 1) {
      await runDueJobs(this.deps, this.testApp.deps.metrics, { databaseUrl: adminUrl(), jobs: [...JOBS, ...this.extraJobs] });
      if ((await this.dueJobs(tenantId)) === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('Jobs did not settle');
  }

  /** Jobs due now and not out of attempts, including ones another worker holds; only tasks this runner knows. */
  async dueJobs(tenantId?: string): Promise<number> {
    const tasks = [...JOBS, ...this.extraJobs].map((job) => job.name);
    // The jobs view leaves the payload out; the tenant is in it.
    const query = this.owner('graphile_worker._private_jobs as j')
      .join('graphile_worker._private_tasks as t', 't.id', 'j.task_id')
      .where('j.run_at', '<=', this.owner.fn.now())
      .andWhereRaw('j.attempts < j.max_attempts')
      .whereIn('t.identifier', tasks);
    if (tenantId) query.andWhereRaw("j.payload->>'tenantId' = ?", [tenantId]);
    const rows = await query.count<Array<{ count: string }>>('* as count');
    return Number(rows[0]?.count ?? 0);
  }

  /** Enqueues a scheduled job now, as its crontab tick would. */
  async enqueueScheduled(task: string): Promise<void> {
    await this.owner.raw('select graphile_worker.add_job(?, ?::json)', [task, JSON.stringify({ _cron: { ts: new Date().toISOString() } })]);
  }

  close(): Promise<void> {
    return this.owner.destroy();
  }
}
