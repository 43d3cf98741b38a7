import { EventEmitter } from 'node:events';
import pg from 'pg';
import { Logger as WorkerLogger, LogLevel, parseCronItems, run, runOnce, Runner, TaskList, WorkerEvents } from 'graphile-worker';
import { errorReporterOf } from '../infra/error-tracking';
import { Metrics } from '../infra/metrics';
import { createFeatureFlagsCache } from '../modules/feature-flags/feature-flags-cache';
import { JobDefinition, JobDeps } from './job-definition';
import { jobFlagOn } from './job-flags';

export interface JobEngineOptions {
  /**
   * The jobs role's URL (jobsCredentials): graphile-worker's schema is the owner's, installed by
   * `npm run migrate`; the jobs role uses it and the runtime role never touches it.
   */
  databaseUrl: string;
  jobs: readonly JobDefinition<never>[];
  concurrency: number;
}

const LEVELS: Record<string, string> = { error: 'error', warning: 'warn', info: 'debug', debug: 'debug' };

/** graphile-worker's chatter goes to our structured log; its routine info lines are debug for us. */
function workerLogger(deps: JobDeps): WorkerLogger {
  return new WorkerLogger((scope) => (level: LogLevel, message: string) => {
    deps.logger.log(LEVELS[level] ?? 'debug', message, { component: 'jobs', task: scope.taskIdentifier, jobId: scope.jobId });
  });
}

/** Wraps each definition: payload validated, its feature flag checked, attempt logged and counted. */
function taskList(deps: JobDeps, metrics: Metrics, jobs: readonly JobDefinition<never>[]): TaskList {
  const list: TaskList = {};
  const flags = createFeatureFlagsCache(deps);
  for (const definition of jobs as readonly JobDefinition<unknown>[]) {
    list[definition.name] = async (payload, helpers) => {
      const { value, error } = definition.payload.validate(payload ?? {}, { convert: true });
      const logger = deps.logger.child({ component: 'jobs', task: definition.name, jobId: helpers.job.id });
      if (error) {
        // Retrying cannot fix a payload; the job is dropped, loudly.
        metrics.jobRuns.inc({ task: definition.name, outcome: 'invalid' });
        logger.error('job payload is invalid: dropped', { detail: error.message });
        return;
      }
      if (definition.flag && !(await jobFlagOn(deps, flags, definition.flag, value))) {
        // Off for this tenant: the job is done as far as the queue goes, and says why.
        metrics.jobRuns.inc({ task: definition.name, outcome: 'skipped_flag' });
        logger.info('job skipped: its feature flag is off for the tenant', { flag: definition.flag, tenantId: (value as { tenantId?: string }).tenantId });
        return;
      }
      await definition.run(value, deps, {
        id: helpers.job.id,
        attempt: helpers.job.attempts,
        maxAttempts: helpers.job.max_attempts,
        logger,
      });
    };
  }
  return list;
}

function observe(deps: JobDeps, metrics: Metrics): WorkerEvents {
  const events: WorkerEvents = new EventEmitter();
  const started = new Map<string, bigint>();
  events.on('job:start', ({ job }) => started.set(job.id, process.hrtime.bigint()));
  events.on('job:complete', ({ job }) => {
    const start = started.get(job.id);
    started.delete(job.id);
    if (start !== undefined) metrics.jobDuration.observe({ task: job.task_identifier }, Number(process.hrtime.bigint() - start) / 1e9);
  });
  events.on('job:success', ({ job }) => metrics.jobRuns.inc({ task: job.task_identifier, outcome: 'success' }));
  events.on('job:error', ({ job, error }) => {
    const final = job.attempts >= job.max_attempts;
    metrics.jobRuns.inc({ task: job.task_identifier, outcome: final ? 'failed' : 'error' });
    deps.logger.log(final ? 'error' : 'warn', final ? 'job failed for good' : 'job failed: will retry', {
      component: 'jobs',
      task: job.task_identifier,
      jobId: job.id,
      attempt: job.attempts,
      maxAttempts: job.max_attempts,
      error,
    });
    // A job out of attempts is a failure someone must look at; one that will be retried is not yet.
    if (final) {
      const tenantId = (job.payload as { tenantId?: unknown } | null)?.tenantId;
      errorReporterOf(deps.config).report(error, {
        source: 'job',
        tenantId: typeof tenantId === 'string' ? tenantId : undefined,
        job: { task: job.task_identifier, id: String(job.id), attempt: job.attempts },
      });
    }
  });
  return events;
}

export interface JobEngine {
  stop(): Promise<void>;
}

/** Our own pool, so a connection dropped while idle (a database restart) is logged, not an unhandled 'error'. */
function queuePool(deps: JobDeps, databaseUrl: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, application_name: 'crm-jobs' });
  const lost = (error: Error) => deps.logger.warn('job queue connection lost', { component: 'jobs', error });
  pool.on('error', lost);
  pool.on('connect', (client) => client.on('error', lost));
  return pool;
}

/** Runs jobs continuously (the API process by default, or `npm run worker`), scheduled ones included. */
export async function startJobEngine(deps: JobDeps, metrics: Metrics, options: JobEngineOptions): Promise<JobEngine> {
  const scheduled = options.jobs.filter((job) => job.schedule);
  const pgPool = queuePool(deps, options.databaseUrl, options.concurrency + 2);
  // No `localQueue`: with it, jobs of one named queue may run at once (graphile/worker#621), and the
  // per-tenant queues app_enqueue_job assigns (webhooks:<tenant>, exports:<tenant>) rely on one at a time.
  const runner: Runner = await run({
    pgPool,
    concurrency: options.concurrency,
    noHandleSignals: true,
    pollInterval: 2000,
    taskList: taskList(deps, metrics, options.jobs),
    parsedCronItems: parseCronItems(
      scheduled.map((job) => ({
        task: job.name,
        match: job.schedule!,
        identifier: job.name,
        // A missed tick is not replayed: each run catches up on everything due anyway.
        options: { backfillPeriod: 0, maxAttempts: job.maxAttempts ?? 5, jobKey: job.name, jobKeyMode: 'replace' },
      })),
    ),
    logger: workerLogger(deps),
    events: observe(deps, metrics),
  });
  for (const job of options.jobs.filter((definition) => definition.queueAtStart)) {
    await runner.addJob(job.name, {}, { jobKey: job.name, jobKeyMode: 'preserve_run_at', maxAttempts: job.maxAttempts ?? 5 });
  }
  return {
    stop: async () => {
      await runner.stop();
      await pgPool.end();
    },
  };
}

/** Runs every job that is due now, then returns: for tests and one-off operator runs. */
export async function runDueJobs(deps: JobDeps, metrics: Metrics, options: Omit<JobEngineOptions, 'concurrency'>): Promise<void> {
  const pgPool = queuePool(deps, options.databaseUrl, 2);
  try {
    await runOnce({
      pgPool,
      noHandleSignals: true,
      taskList: taskList(deps, metrics, options.jobs),
      logger: workerLogger(deps),
      events: observe(deps, metrics),
    });
  } finally {
    await pgPool.end();
  }
}
