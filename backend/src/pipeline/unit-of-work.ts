import { AppDeps } from '../app-deps';
import { withTenant } from '../infra/tenant-scope';
import { publishRecordedEvents, settleCommittedEvents } from '../modules/events/event-registry';

const isDownload = (value: unknown): boolean => (value as { kind?: unknown } | null)?.kind === 'download';

/**
 * Stage 14: the caller's tenant transaction, bound to the tenant (row-level security applies). `work`
 * runs in it; the domain events it recorded are published (stage 16) just before it commits, then
 * `beforeCommit` runs (storing an idempotency key's answer); once it has committed, the registry's
 * after-commit subscribers run.
 */
export async function inUnitOfWork<T>(deps: AppDeps, tenantId: string, work: () => Promise<T>, beforeCommit?: (result: T) => Promise<void>): Promise<T> {
  const result = await withTenant(deps.knex, tenantId, async () => {
    const value = await work();
    // A download's events wait for its last byte (an export counts the rows it sent): send-download.ts publishes them.
    if (!isDownload(value)) await publishRecordedEvents(deps.config);
    await beforeCommit?.(value);
    return value;
  });
  await settleCommittedEvents(deps.config);
  return result;
}
