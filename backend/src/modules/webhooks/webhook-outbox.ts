import { randomUUID } from 'node:crypto';
import { tenantScope } from '../../infra/tenant-scope';
import { enqueueJob } from '../../jobs/enqueue';
import { definitionOf } from '../crm/crm-resources';
import { presentRecord } from '../crm/record-model';
import { CrmResource, RecordData } from '../crm/resource-definition';
import { EventOf } from '../events/domain-events';
import { defineSubscriber } from '../events/event-subscriber';
import { storeChangeEvents } from '../change-feed/change-feed.store';
import { activeTargets } from './delivery-targets';
import { matchesAny } from './event-catalog';

/** An event as stored in the outbox and sent: `data.object` is the record as the API shows it. */
export interface OutboxEvent {
  id: string;
  type: string;
  resourceType: string | null;
  resourceId: string | null;
  data: { object: RecordData; previousAttributes?: RecordData };
}

/** Where stored events go: a subscription or an integration, and which events it takes. */
export interface OutboxTarget {
  subscriptionId?: string;
  integrationId?: string;
  accepts(event: OutboxEvent): boolean;
}

/** A record to show in an event: the record as it stands after the write, or `fallback` once it is gone. */
export interface RecordRef {
  resource: CrmResource;
  id: string;
  fallback?: RecordData;
}

export const DELIVERY_JOB = 'webhooks.deliver';
/** Deliveries per job: an import of 100k rows makes a few hundred jobs, not 100k. */
export const DELIVERIES_PER_JOB = 100;
/** Rows of an import turned into events at a time. */
const IMPORT_EVENT_CHUNK = 500;
export const RETRY_WINDOW_MS = 24 * 3600_000;

type Change = RecordRef & { type: string; previousAttributes?: RecordData };
type ImportEvent = EventOf<'records.imported' | 'import.undone'>;
type OutboxEventType =
  | 'record.created'
  | 'record.updated'
  | 'record.deleted'
  | 'record.merged'
  | 'lead.converted'
  | 'deal.stage_changed'
  | 'records.imported'
  | 'import.undone'
  | 'parts_order.placed'
  | 'parts_order.status_changed';

/**
 * CRM writes become events (`lead.created`, `deal.stage_changed`, ...), stored in the change's
 * transaction, so an event commits exactly when its change does (an outbox). Every event goes to the
 * tenant's change feed (GET /events and its live stream); those an active subscription or custom-webhook
 * integration wants are also stored for delivery, under the same id.
 */
export const webhookOutbox = defineSubscriber({
  name: 'change feed and webhook outbox',
  types: ['record.created', 'record.updated', 'record.deleted', 'record.merged', 'lead.converted', 'deal.stage_changed', 'records.imported', 'import.undone', 'parts_order.placed', 'parts_order.status_changed'],
  async handle(events) {
    const targets = (await activeTargets()).webhooks.map(
      (target): OutboxTarget => ({ ...target, accepts: (event: OutboxEvent) => matchesAny(target.patterns, event.type) }),
    );
    for await (const batch of outboxEventsOf(events)) {
      await storeChangeEvents(batch);
      await storeOutboxEvents(batch, targets);
    }
  },
});

/** The API events of a unit of work's domain events, in the order recorded; an import's a chunk at a time. */
async function* outboxEventsOf(events: Array<EventOf<OutboxEventType>>): AsyncGenerator<OutboxEvent[]> {
  const changes: Change[] = [];
  const flush = async () => {
    const objectOf = await recordSnapshots(changes);
    return changes.splice(0).map((change) => outboxEvent(change.resource, change.type, objectOf(change), change.previousAttributes));
  };
  for (const event of events) {
    switch (event.type) {
      case 'record.created':
        changes.push({ resource: event.resource, id: event.id, type: `${event.resource}.created` });
        break;
      case 'record.updated':
        changes.push({ resource: event.resource, id: event.id, type: `${event.resource}.updated`, previousAttributes: event.before });
        break;
      case 'record.deleted':
        changes.push({ resource: event.resource, id: event.id, type: `${event.resource}.deleted`, fallback: event.before });
        break;
      case 'record.merged':
        changes.push({ resource: event.resource, id: event.id, type: `${event.resource}.merged`, previousAttributes: event.before });
        break;
      case 'lead.converted':
        changes.push({ resource: 'lead', id: event.id, type: 'lead.converted' });
        break;
      case 'deal.stage_changed':
        changes.push({ resource: 'deal', id: event.id, type: 'deal.stage_changed', previousAttributes: { stage: event.from } });
        break;
      case 'parts_order.placed':
      case 'parts_order.status_changed':
        if (changes.length) yield await flush();
        yield [
          event.type === 'parts_order.placed'
            ? partsOrderEvent('parts_order.created', event.order)
            : partsOrderEvent('parts_order.status_changed', event.order, { status: event.from }),
        ];
        break;
      case 'records.imported':
      case 'import.undone':
        if (changes.length) yield await flush();
        yield* importEventsOf(event);
        break;
    }
  }
  if (changes.length) yield await flush();
}

/** A parts order's event: `data.object` is the order as GET /parts/orders/:id shows it. */
const partsOrderEvent = (type: string, order: RecordData, previousAttributes?: RecordData): OutboxEvent => ({
  id: randomUUID(),
  type,
  resourceType: 'parts_order',
  resourceId: order.id as string,
  data: previousAttributes ? { object: order, previousAttributes } : { object: order },
});

export const outboxEvent = (resource: CrmResource, type: string, object: RecordData, previousAttributes?: RecordData): OutboxEvent => ({
  id: randomUUID(),
  type,
  resourceType: resource,
  resourceId: object.id as string,
  data: previousAttributes ? { object, previousAttributes } : { object },
});

const refKey = (ref: RecordRef) => `${ref.resource}:${ref.id}`;

/**
 * The records as the API shows them, as they stand after the write (one query per resource); a record
 * that is gone (purged) shows its `fallback`, as it stood before.
 */
export async function recordSnapshots(refs: readonly RecordRef[]): Promise<(ref: RecordRef) => RecordData> {
  const snapshots = new Map<string, RecordData>();
  for (const resource of new Set(refs.map((ref) => ref.resource))) {
    const def = definitionOf(resource);
    const ids = refs.filter((ref) => ref.resource === resource).map((ref) => ref.id);
    const rows = (await def.model.query().whereIn('id', ids)) as unknown as RecordData[];
    for (const row of rows) snapshots.set(refKey({ resource, id: row.id as string }), presentRecord(row, def.present));
  }
  return (ref) => snapshots.get(refKey(ref)) ?? { id: ref.id, ...(ref.fallback ?? {}) };
}

/** An import's rows as events, a chunk at a time (one query of records per chunk). */
async function* importEventsOf(event: ImportEvent): AsyncGenerator<OutboxEvent[]> {
  const { trx } = tenantScope();
  const def = definitionOf(event.resource);
  for (const action of ['created', 'updated'] as const) {
    const type = `${def.singular}.${event.type === 'import.undone' && action === 'created' ? 'deleted' : action}`;
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const items = (await trx('importItems').where({ importId: event.importId, action }).where('recordId', '>', after).orderBy('recordId').limit(IMPORT_EVENT_CHUNK).select('recordId')) as Array<{ recordId: string }>;
      const ids = items.map((item) => item.recordId);
      if (ids.length === 0) break;
      after = ids[ids.length - 1]!;
      const rows = (await def.model.query().whereIn('id', ids)) as unknown as RecordData[];
      yield rows.map((row) => outboxEvent(def.singular, type, presentRecord(row, def.present)));
    }
  }
}

/** Stores the events some target wants, one delivery per event and target, and the jobs that send them. */
export async function storeOutboxEvents(events: OutboxEvent[], targets: readonly OutboxTarget[]): Promise<void> {
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
