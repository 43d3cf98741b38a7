import { Knex } from 'knex';
import { Keyset, keysetPage, Pagination } from '../../lib/pagination';

export const JOB_STATES = ['queued', 'running', 'retrying', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];

/**
 * A job's visible state, from graphile_worker.jobs (completed jobs are deleted by the engine, so they
 * never show): failed = out of attempts; running = locked by a worker; retrying = failed before and
 * due again; queued = never tried yet (including jobs whose run_at is still ahead).
 */
const STATE_SQL = `case when j.attempts >= j.max_attempts then 'failed'
  when j.locked_at is not null then 'running'
  when j.attempts > 0 then 'retrying'
  else 'queued' end`;

/** A job's last error, first line and capped: enough to tell failures apart, too short to carry a payload dump. */
const LAST_ERROR_MAX = 300;

/** Newest first: job ids only grow. */
export const JOBS_KEYSET: Keyset = { keys: [{ sql: 'j.id', type: 'bigint' }], order: 'desc' };

export interface ListJobsQuery {
  task?: string;
  state?: JobState;
  limit: number;
  cursor?: string[];
}

interface JobRow {
  id: string;
  queueName: string | null;
  task: string;
  state: JobState;
  priority: number;
  runAt: Date;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  lockedAt: Date | null;
  createdAt: Date;
}

/** The queue as the platform role sees it: the jobs view, never the payloads (the view leaves them out). */
export function createJobsAdminService(knex: Knex) {
  const jobs = () => knex('graphile_worker.jobs as j');

  return {
    /** Newest first (by id). */
    async list(query: ListJobsQuery): Promise<{ data: JobRow[]; pagination: Pagination }> {
      const builder = jobs().select<JobRow[]>(
        knex.raw('j.id::text as id'),
        'j.queueName',
        'j.taskIdentifier as task',
        knex.raw(`${STATE_SQL} as state`),
        'j.priority',
        'j.runAt',
        'j.attempts',
        'j.maxAttempts',
        knex.raw(`left(split_part(j.last_error, E'\\n', 1), ${LAST_ERROR_MAX}) as last_error`),
        'j.lockedAt',
        'j.createdAt',
      );
      if (query.task) builder.where('j.taskIdentifier', query.task);
      if (query.state) builder.whereRaw(`${STATE_SQL} = ?`, [query.state]);
      const { rows, pagination } = await keysetPage<JobRow>(builder, JOBS_KEYSET, query);
      return { data: rows, pagination };
    },

    /** Counts by task and state, for the dashboard. */
    async counts(): Promise<{ byState: Record<JobState, number>; byTask: Array<{ task: string; state: JobState; count: number }> }> {
      const rows = (await jobs()
        .select('j.taskIdentifier as task', knex.raw(`${STATE_SQL} as state`), knex.raw('count(*) as count'))
        .groupBy('j.taskIdentifier', 'state')
        .orderBy([{ column: 'task' }, { column: 'state' }])) as Array<{ task: string; state: JobState; count: string }>;
      const byState = Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;
      const byTask = rows.map((row) => ({ task: row.task, state: row.state, count: Number(row.count) }));
      for (const row of byTask) byState[row.state] += row.count;
      return { byState, byTask };
    },
  };
}
