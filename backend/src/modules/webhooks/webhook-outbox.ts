import { randomUUID } from 'node:crypto';
import { tenantScope } from '../../infra/tenant-scope';
import { enqueueJob } from '../../jobs/enqueue';
import { AuditEvent } from '../audit/audit-context';
import { CRM_RESOURCE_DEFINITIONS } from '../crm/crm-resources';
import { presentRecord } from '../crm/record-model';
import { RecordData, ResourceDefinition } from '../crm/resource-definition';
import { slackEventOf } from '../integrations/slack-message';
import { matchesAny } from './event-catalog';

/** An event as stored in the outbox and sent: `data.object` is the record as the API shows it. */
export interface OutboxEvent {
  id: string;
  type: string;
  resourceType: string | null;
  resourceId: string | null;
  data: { object: RecordData; previousAttributes?: RecordData };
}

interface Target {
  subscriptionId?: string;
  integrationId?: string;
  accepts(event: OutboxEvent): boolean;
}

export const DELIVERY_JOB = 'webhooks.deliver';
/** Deliveries per job: an import of 100k rows makes a few hundred jobs, not 100k. */
export const DELIVERIES_PER_JOB = 100;
/** Rows of an import turned into events at a time. */
const IMPORT_EVENT_CHUNK = 500;
export const RETRY_WINDOW_MS = 24 * 3600_000;

const BY_SINGULAR = new Map([...CRM_RESOURCE_DEFINITIONS.values()].map((def) => [def.singular, def]));
const VERBS: Record<string, string> = { create: 'created', update: 'updated', delete: 'deleted', purge: 'deleted', convert: 'converted' };

type Change = { def: ResourceDefinition; type: string; id: string; audit: AuditEvent };
type ImportChange = { def: ResourceDefinition; importId: string; undo: boolean };

/**
 * The one place CRM writes become webhook events: the audit entries the request queued (every create,
 * update, delete, conversion, import and import undo of a CRM resource is audited) are read just
 * before the audit writer takes them, in the same transaction, so an event commits exactly when its
 * change does. Nothing is stored unless an active subscription or integration wants the event.
 */
export async function publishWebhookEvents(audit: readonly AuditEvent[]): Promise<void> {
  const changes: Change[] = [];
  const imports: ImportChange[] = [];
  for (const event of audit) {
    const [resource, verb] = event.action.split('.') as [string, string | undefined];
    const def = BY_SINGULAR.get(resource);
    if (!def || !verb) continue;
    if (event.resourceType === 'import' && event.resourceId && (verb === 'import' || verb === 'import_undo')) {
      imports.push({ def, importId: event.resourceId, undo: verb === 'import_undo' });
    } else if (event.resourceType === def.singular && event.resourceId && VERBS[verb]) {
      changes.push({ def, type: `${def.singular}.${VERBS[verb]}`, id: event.resourceId, audit: event });
    }
  }
  if (changes.length === 0 && imports.length === 0) return;
  const targets = await activeTargets();
  if (targets.length === 0) return;
  if (changes.length) await store(await eventsOf(changes), targets);
  for (const change of imports) await publishImport(change, targets);
}

async function activeTargets(): Promise<Target[]> {
  const { trx } = tenantScope();
  const [subscriptions, integrations] = await Promise.all([
    trx('webhookSubscriptions').where({ active: true }).select<Array<{ id: string; events: string[] }>>('id', 'events'),
    trx('integrations')
      .where({ active: true })
      .whereIn('type', ['slack_notification', 'custom_webhook'])
      .select<Array<{ id: string; type: string; config: { events?: string[] } }>>('id', 'type', 'config'),
  ]);
  return [
    ...subscriptions.map((s) => ({ subscriptionId: s.id, accepts: (e: OutboxEvent) => matchesAny(s.events, e.type) })),
    ...integrations.map((i) => ({
      integrationId: i.id,
      accepts:
        i.type === 'slack_notification'
          ? (e: OutboxEvent) => (i.config.events ?? []).includes(slackEventOf(e) ?? '')
          : (e: OutboxEvent) => matchesAny(i.config.events ?? ['*'], e.type),
    })),
  ];
}

const newEvent = (def: ResourceDefinition, type: string, object: RecordData, previousAttributes?: RecordData): OutboxEvent => ({
  id: randomUUID(),
  type,
  resourceType: def.singular,
  resourceId: object.id as string,
  data: previousAttributes ? { object, previousAttributes } : { object },
});

/** Records as they stand after the write (a purged one as it stood before). */
async function eventsOf(changes: Change[]): Promise<OutboxEvent[]> {
  const snapshots = new Map<string, RecordData>();
  for (const def of new Set(changes.map((change) => change.def))) {
    const ids = changes.filter((change) => change.def === def).map((change) => change.id);
    const rows = (await def.model.query().whereIn('id', ids)) as unknown as RecordData[];
    for (const row of rows) snapshots.set(`${def.singular}:${row.id as string}`, presentRecord(row, def.present));
  }
  return changes.flatMap(({ def, type, id, audit }) => {
    const object = snapshots.get(`${def.singular}:${id}`) ?? { id, ...(audit.before ?? {}) };
    if (!type.endsWith('.updated')) return [newEvent(def, type, object)];
    const events = [newEvent(def, type, object, audit.before ?? {})];
    if (def.singular === 'deal' && audit.after && 'stage' in audit.after) {
      events.push(newEvent(def, 'deal.stage_changed', object, { stage: audit.before?.stage ?? null }));
    }
    return events;
  });
}

/** An import's rows, a chunk at a time: one insert of events, one of deliveries and a few jobs per chunk. */
async function publishImport({ def, importId, undo }: ImportChange, targets: Target[]): Promise<void> {
  const { trx } = tenantScope();
  for (const action of ['created', 'updated'] as const) {
    const type = `${def.singular}.${undo && action === 'created' ? 'deleted' : action}`;
    if (!targets.some((target) => target.accepts({ id: '', type, resourceType: def.singular, resourceId: null, data: { object: {} } }))) continue;
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const items = (await trx('importItems').where({ importId, action }).where('recordId', '>', after).orderBy('recordId').limit(IMPORT_EVENT_CHUNK).select('recordId')) as Array<{ recordId: string }>;
      const ids = items.map((item) => item.recordId);
      if (ids.length === 0) break;
      after = ids[ids.length - 1]!;
      const rows = (await def.model.query().whereIn('id', ids)) as unknown as RecordData[];
      await store(rows.map((row) => newEvent(def, type, presentRecord(row, def.present))), targets);
    }
  }
}

/** Stores the events some target wants, one delivery per event and target, and the jobs that send them. */
async function store(events: OutboxEvent[], targets: Target[]): Promise<void> {
  const { trx, tenantId } = tenantScope();
  const wanted = events.map((event) => ({ event, targets: targets.filter((target) => target.accepts(event)) })).filter((entry) => entry.targets.length);
  if (wanted.length === 0) return;
  await trx('webhookEvents').insert(
    wanted.map(({ event }) => ({
      tenantId,
      id: event.id,
      type: event.type,
      resourceType: event.resourceType,
      resourceId: event.resourceId,
      data: JSON.stringify(event.data),
    })),
  );
  const now = new Date();
  const deliveries = wanted.flatMap(({ event, targets: accepted }) =>
    accepted.map((target) => ({
      tenantId,
      id: randomUUID(),
      eventId: event.id,
      subscriptionId: target.subscriptionId ?? null,
      integrationId: target.integrationId ?? null,
      nextAttemptAt: now,
      retryUntil: new Date(now.getTime() + RETRY_WINDOW_MS),
    })),
  );
  for (let start = 0; start < deliveries.length; start += 1000) await trx('webhookDeliveries').insert(deliveries.slice(start, start + 1000));
  await enqueueDeliveries(deliveries.map((delivery) => delivery.id));
}

/** Jobs for deliveries due now (or at runAt), in the current transaction. */
export async function enqueueDeliveries(ids: readonly string[], runAt?: Date): Promise<void> {
  for (let start = 0; start < ids.length; start += DELIVERIES_PER_JOB) {
    await enqueueJob(DELIVERY_JOB, { deliveryIds: ids.slice(start, start + DELIVERIES_PER_JOB) }, { runAt });
  }
}
