import { tenantScope } from '../infra/tenant-scope';

export interface EnqueueOptions {
  runAt?: Date;
  /** At most one pending job per key and tenant: enqueueing again replaces it. */
  jobKey?: string;
  maxAttempts?: number;
}

/**
 * Enqueues a job in the current tenant transaction, so it exists exactly when the data that needs it
 * commits. The database stamps the tenant into the payload (app_enqueue_job).
 */
export async function enqueueJob(task: string, payload: Record<string, unknown> = {}, options: EnqueueOptions = {}): Promise<string> {
  const { trx } = tenantScope();
  const { rows } = await trx.raw<{ rows: Array<{ id: string }> }>('select app_enqueue_job(?, ?::jsonb, ?, ?, ?)::text as id', [
    task,
    JSON.stringify(payload),
    options.runAt ?? null,
    options.jobKey ?? null,
    options.maxAttempts ?? null,
  ]);
  return rows[0]!.id;
}
