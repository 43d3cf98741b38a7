import { Knex } from 'knex';
import { afterCommit, tenantScope } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { definitionOf } from '../crm/crm-resources';
import type { CrmResource } from '../crm/resource-definition';
import type { OutboxEvent } from '../webhooks/webhook-outbox';
import { announceChanges } from './live-events';

/** Days a committed change stays in the feed (GET /events); the retention job prunes older ones. */
export const FEED_RETENTION_DAYS = 30;

/** One change as the feed shows it: the webhook event, its cursor and when it committed. */
export interface FeedEvent {
  cursor: string;
  id: string;
  type: string;
  resourceType: string | null;
  resourceId: string | null;
  occurredAt: string;
  data: OutboxEvent['data'];
}

/** A stored change, with what the feed needs to decide who may see it. */
export interface StoredChange {
  seq: number;
  ownerId: string | null;
  event: FeedEvent;
}

interface ChangeRow {
  seq: string;
  id: string;
  type: string;
  resourceType: string | null;
  resourceId: string | null;
  ownerId: string | null;
  data: OutboxEvent['data'];
  occurredAt: Date;
}

/** Cursors are opaque to callers: the sequence number, prefixed so that a stray number is not mistaken for one. */
export const cursorOf = (seq: number | string): string => Buffer.from(`feed:${seq}`).toString('base64url');

/** The sequence number a cursor this feed gave out names, or undefined for anything else. */
export function seqOfCursor(cursor: string): number | undefined {
  const match = /^feed:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return match ? Number(match[1]) : undefined;
}

/** Events of resources outside the CRM's seven, and the permission that reads them. */
const OTHER_RESOURCE_PERMISSIONS: Readonly<Record<string, string>> = { parts_order: 'parts:read' };

/**
 * Events addressed to one user (their notifications, GET /me/notifications), by the field of the object
 * naming them: only that user sees them, in the feed and on the stream.
 */
const PERSONAL_RESOURCES: Readonly<Record<string, string>> = { notification: 'userId' };

export const isPersonal = (resourceType: string | null): boolean => resourceType !== null && resourceType in PERSONAL_RESOURCES;

const isCrmResource = (resourceType: string): boolean => !(resourceType in OTHER_RESOURCE_PERMISSIONS) && !isPersonal(resourceType);

/** The permission a caller needs to see a resource type's events. */
export const readPermissionOf = (resourceType: string): string =>
  OTHER_RESOURCE_PERMISSIONS[resourceType] ?? `${definitionOf(resourceType as CrmResource).name}:read`;

/** The user a record's event concerns, for sales users' own-and-team scope (the resource's owner field), or a personal event's user. */
function ownerOf(event: OutboxEvent): string | null {
  if (isPersonal(event.resourceType)) {
    const user = event.data.object[PERSONAL_RESOURCES[event.resourceType!]!];
    return typeof user === 'string' ? user : null;
  }
  const def = event.resourceType && isCrmResource(event.resourceType) ? definitionOf(event.resourceType as CrmResource) : undefined;
  const owner = def?.ownerField ? event.data.object[def.ownerField] : undefined;
  return typeof owner === 'string' ? owner : null;
}

/** The tenant's feed lock: writers hold it shared until they commit, a reader takes it exclusive for a moment. */
const feedLockKey = (tenantId: string): Knex.Raw => tenantScope().trx.raw("hashtextextended('change-feed:' || ?, 0)", [tenantId]);

/**
 * Stores events in the tenant's feed, in the unit of work's transaction. The shared lock, taken before the
 * rows take their sequence numbers and held until commit, lets the tenant's writers run side by side and
 * tells readers which numbers may still be in flight (readHorizon); the live streams of every instance hear
 * of it once the transaction has committed.
 */
export async function storeChangeEvents(events: readonly OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  const { trx, tenantId, knex } = tenantScope();
  await trx.raw('select pg_advisory_xact_lock_shared(?)', [feedLockKey(tenantId)]);
  await trx('changeEvents').insert(
    events.map((event) => ({
      tenantId,
      id: event.id,
      type: event.type,
      resourceType: event.resourceType,
      resourceId: event.resourceId,
      ownerId: ownerOf(event),
      data: JSON.stringify(event.data),
    })),
  );
  afterCommit(() => announceChanges(knex, tenantId));
}

/**
 * The sequence number below which the tenant's feed is final: every writer that took a lower number has
 * ended (migration 20261202000210's change_feed_horizon waits for them), so no change will ever commit behind
 * a reader that reads only below it. Higher numbers wait for the next read.
 */
export async function readHorizon(): Promise<number> {
  const { trx, tenantId } = tenantScope();
  const result = (await trx.raw('select change_feed_horizon(?) as horizon', [feedLockKey(tenantId)])) as { rows: Array<{ horizon: string }> };
  return Number(result.rows[0]!.horizon);
}

/**
 * Up to `limit` changes after `afterSeq` (from the oldest kept when undefined) and below `horizon`, in
 * sequence order, of `types` (exact types, `<resource>.*` or `*`; none: all).
 */
export async function readChanges(afterSeq: number | undefined, horizon: number, types: readonly string[], limit: number): Promise<StoredChange[]> {
  const { trx } = tenantScope();
  const query = trx('changeEvents')
    .where('seq', '>', afterSeq ?? 0)
    .where('seq', '<', horizon)
    .orderBy('seq')
    .limit(limit)
    .select('seq', 'id', 'type', 'resourceType', 'resourceId', 'ownerId', 'data', 'occurredAt');
  if (types.length && !types.includes('*')) {
    const exact = types.filter((type) => !type.endsWith('.*'));
    const prefixes = types.filter((type) => type.endsWith('.*')).map((type) => `${type.slice(0, -1)}%`);
    query.where((either) => {
      if (exact.length) either.orWhereIn('type', exact);
      for (const prefix of prefixes) either.orWhere('type', 'like', prefix);
    });
  }
  const rows = (await query) as ChangeRow[];
  return rows.map((row) => ({
    seq: Number(row.seq),
    ownerId: row.ownerId,
    event: {
      cursor: cursorOf(row.seq),
      id: row.id,
      type: row.type,
      resourceType: row.resourceType,
      resourceId: row.resourceId,
      occurredAt: row.occurredAt.toISOString(),
      data: row.data,
    },
  }));
}

/**
 * A cursor whose event has been pruned, with nothing as old kept, is 410 CURSOR_EXPIRED: events after it
 * may be lost too, and the answer names the oldest cursor still available.
 */
export async function assertCursorKept(afterSeq: number): Promise<void> {
  const { trx } = tenantScope();
  if (await trx('changeEvents').where({ seq: afterSeq }).first('seq')) return;
  const oldest = (await trx('changeEvents').orderBy('seq').first('seq')) as { seq: string } | undefined;
  // Gone, and nothing as old kept: it was pruned, and so may have been the events after it.
  if (!oldest || Number(oldest.seq) > afterSeq) throw expired(oldest ? cursorOf(oldest.seq) : null);
}

const expired = (oldest: string | null): AppError =>
  new AppError('CURSOR_EXPIRED', `Events after this cursor are past the feed's ${FEED_RETENTION_DAYS}-day retention: resume from the oldest cursor still available`, [
    { field: 'oldestCursor', message: oldest ?? 'none: the feed holds no events; read from the start' },
  ]);

/** Where a stream without Last-Event-ID starts: after everything below the horizon (what had committed at opening). */
export async function streamStartSeq(): Promise<number> {
  return (await readHorizon()) - 1;
}
