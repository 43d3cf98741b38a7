import { Knex } from 'knex';
import client from 'prom-client';
import { readOncePerScrape } from '../infra/metrics';

type QueueState = 'ready' | 'scheduled' | 'running' | 'failed';

interface TaskDepth {
  task: string;
  ready: number;
  scheduled: number;
  running: number;
  failed: number;
  oldestReadySeconds: number;
}

/**
 * The job queue by task, read through the platform role (it may read graphile_worker.jobs): due and
 * waiting for a worker (`ready`), due later (`scheduled`, including retries in backoff), taken by a worker
 * (`running`), and out of attempts (`failed`, kept until an operator deletes them).
 */
async function queueDepth(platformKnex: Knex): Promise<TaskDepth[]> {
  const { rows } = await platformKnex.raw<{ rows: TaskDepth[] }>(`
    select task_identifier as task,
      (count(*) filter (where locked_at is null and attempts < max_attempts and run_at <= now()))::int as ready,
      (count(*) filter (where locked_at is null and attempts < max_attempts and run_at > now()))::int as scheduled,
      (count(*) filter (where locked_at is not null))::int as running,
      (count(*) filter (where locked_at is null and attempts >= max_attempts))::int as failed,
      coalesce(extract(epoch from now() - min(run_at) filter (where locked_at is null and attempts < max_attempts and run_at <= now())), 0)::float8 as "oldestReadySeconds"
    from graphile_worker.jobs group by task_identifier`);
  return rows;
}

/** `job_queue_depth{task,state}` and `job_queue_oldest_ready_seconds`: is the queue keeping up? */
export function registerQueueMetrics(registry: client.Registry, platformKnex: Knex): void {
  const read = readOncePerScrape(() => queueDepth(platformKnex));
  new client.Gauge({
    name: 'job_queue_depth',
    help: 'Jobs in the queue by task and state: ready (due, waiting for a worker), scheduled, running, failed (out of attempts)',
    labelNames: ['task', 'state'] as const,
    registers: [registry],
    async collect() {
      const tasks = await read();
      this.reset();
      if (!tasks) return;
      for (const row of tasks) {
        for (const state of ['ready', 'scheduled', 'running', 'failed'] as const satisfies readonly QueueState[]) this.set({ task: row.task, state }, row[state]);
      }
    },
  });
  new client.Gauge({
    name: 'job_queue_oldest_ready_seconds',
    help: 'How long the oldest due job has waited for a worker, 0 when none waits',
    registers: [registry],
    async collect() {
      const tasks = await read();
      this.set(tasks ? Math.max(0, ...tasks.map((row) => row.oldestReadySeconds)) : Number.NaN);
    },
  });
}
