import Joi from 'joi';
import { Knex } from 'knex';
import { AppConfig } from '../config/app-config';
import { Logger } from '../infra/logger';

/** What every job runs with, in the API process and in `npm run worker` alike. */
export interface JobDeps {
  config: AppConfig;
  /** The runtime role's pool: tenant work goes through withTenant, under row-level security. */
  knex: Knex;
  /** The platform role's pool: lists tenants across the platform, reads no secret column. */
  platformKnex: Knex;
  /**
   * The jobs role's pool: only for what the runtime role may not do by design (sealing and pruning the
   * append-only audit log, purging a tenant through app_purge_due_tenant) and graphile-worker's own
   * functions. Never the owner's: every statement on it names its tenant explicitly.
   */
  jobsKnex: Knex;
  logger: Logger;
}

export interface JobRun {
  id: string;
  /** 1 on the first try. */
  attempt: number;
  maxAttempts: number;
  logger: Logger;
}

/**
 * A job declared once: the engine validates its payload, schedules it when it has a schedule, and
 * retries it with exponential backoff (graphile-worker: exp(min(attempt, 10)) seconds) when it throws.
 * Jobs must be idempotent: a retry may follow a run that did part of the work.
 */
export interface JobDefinition<P = Record<string, unknown>> {
  /** Task identifier, `area.verb`. */
  name: string;
  payload: Joi.ObjectSchema<P>;
  /** Crontab (UTC) for maintenance jobs, which then run once per tick across every instance. */
  schedule?: string;
  /** Also queued (under its name as job key, so once) when an engine starts: for a loop that queues itself again. */
  queueAtStart?: boolean;
  maxAttempts?: number;
  /**
   * A feature flag (/admin/feature-flags) the job is rolled out under, as a route declares one: for a tenant
   * the flag is off for, the job is skipped (logged, and counted in job_runs_total as `skipped_flag`).
   */
  flag?: string;
  run(payload: P, deps: JobDeps, job: JobRun): Promise<void>;
}

export const defineJob = <P>(definition: JobDefinition<P>): JobDefinition<P> => definition;

/** Payload of a job enqueued from a request: app_enqueue_job stamps the tenant, whatever the caller sent. */
export const tenantPayload = <T extends Record<string, Joi.Schema>>(keys: T) =>
  Joi.object({ tenantId: Joi.string().uuid().required(), ...keys });

/** Payload of a scheduled job: only the scheduler's own marker. */
export const schedulePayload = Joi.object({ _cron: Joi.object().unknown(true) });
