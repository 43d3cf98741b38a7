import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { withTenant } from '../../infra/tenant-scope';
import { runWithEvents } from '../events/event-context';
import { publishRecordedEvents, settleCommittedEvents } from '../events/event-registry';

/**
 * A unit of work no tenant caller started (a Stripe webhook, the trial sweep): the tenant's transaction
 * under row-level security, its domain events published before the commit (audit entries by `system`,
 * e-mails), exactly as a request's (pipeline/unit-of-work.ts).
 */
export function inSystemUnit<T>(
  deps: { knex: Knex; config: AppConfig },
  tenantId: string,
  requestId: string | null,
  work: () => Promise<T>,
): Promise<T> {
  return runWithEvents({ tenantId, actor: { actorType: 'system', actorId: null, requestId } }, async () => {
    const result = await withTenant(deps.knex, tenantId, async () => {
      const value = await work();
      await publishRecordedEvents(deps.config);
      return value;
    });
    await settleCommittedEvents(deps.config);
    return result;
  });
}
