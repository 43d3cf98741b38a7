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

/**
 * A place in the feed: the writing transaction's id (xid8, as a decimal string) and the row's sequence number.
 * The feed is ordered by (xid, seq), and read only below the oldest transaction still running, so that no
 * change can ever appear behind a place a reader has passed.
 */
export interface FeedPosition {
  xid: string;
  seq: number;
}

/** A cursor as given: cursors from before the (xid, seq) order name only the sequence number (xid null). */
export interface CursorPosition {
  xid: string | null;
  seq: number;
}

/** A stored change, with what the feed needs to decide who may see it. */
export interface StoredChange {
  position: FeedPosition;
  ownerId: string | null;
  event: FeedEvent;
}

interface ChangeRow {
  xid: string;
  seq: string;
  id: string;
  type: string;
  resourceType: string | null;
  resourceId: string | null;
  ownerId: string | null;
  data: OutboxEvent['data'];
  occurredAt: Date;
}

/** Cursors are opaque to callers: the position, prefixed so that a stray number is not mistaken for one. */
export const cursorOf = (position: FeedPosition): string => Buffer.from(`feed:${position.xid}:${position.seq}`).toString('base64url');

/** The position a cursor this feed gave out names, or undefined for anything else. */
export function positionOfCursor(cursor: string): CursorPosition | undefined {
  const match = /^feed:(?:(\d{1,20}):)?(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return match ? { xid: match[1] ?? null, seq: Number(match[2]) } : undefined;
}

/** (xid, seq) order of two positions: negative when a comes first. */
function compare(a: FeedPosition, b: FeedPosition): number {
  const byXid = BigInt(a.xid) - BigInt(b.xid);
  return byXid !== 0n ? (byXid < 0n ? -1 : 1) : a.seq - b.seq;
}

/**
 * Changes whose transaction is older than every transaction still running: whatever else is ever written
 * sorts after them. One value per statement (a scalar subquery), taken from the statement's snapshot.
 */
const BELOW_HORIZON = 'xid < (select pg_snapshot_xmin(pg_current_snapshot()))';

/** Events of resources outside the CRM's seven, and the permission that reads them. */
const OTHER_RESOURCE_PERMISSIONS: Readonly<Record<string, string>> = { parts_order: 'parts:read' };

const isCrmResource = (resourceType: string): boolean => !(resourceType in OTHER_RESOURCE_PERMISSIONS);

/** The permission a caller needs to see a resource type's events. */
export const readPermissionOf = (resourceType: string): string =>
  OTHER_RESOURCE_PERMISSIONS[resourceType] ?? `${definitionOf(resourceType as CrmResource).name}:read`;

/** The user a record's event concerns, for sales users' own-and-team scope: the resource's owner field. */
function ownerOf(event: OutboxEvent): string | null {
  const def = event.resourceType && isCrmResource(event.resourceType) ? definitionOf(event.resourceType as CrmResource) : undefined;
  const owner = def?.ownerField ? event.data.object[def.ownerField] : undefined;
  return typeof owner === 'string' ? owner : null;
}

/**
 * Stores events in the tenant's feed, in the unit of work's transaction: each row takes the transaction's id
 * (the column's default, pg_current_xact_id()), so writers never wait on each other; readers keep commit
 * safety by reading only below the horizon (readChanges). The live streams of every instance hear of it once
 * the transaction has committed.
 */
export async function storeChangeEvents(events: readonly OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  const { trx, tenantId, knex } = tenantScope();
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
 * Up to `limit` changes after `after` (from the oldest kept when undefined), in (xid, seq) order, of
 * `types` (exact types, `<resource>.*` or `*`; none: all). Only changes below the horizon: a transaction still
 * running may yet commit changes that sort before those of a later one, which wait until it has ended.
 */
export async function readChanges(after: FeedPosition | undefined, types: readonly string[], limit: number): Promise<StoredChange[]> {
  const { trx } = tenantScope();
  const query = trx('changeEvents')
    .whereRaw(BELOW_HORIZON)
    .orderBy([{ column: 'xid' }, { column: 'seq' }])
    .limit(limit)
    .select(trx.raw('xid::text as xid'), 'seq', 'id', 'type', 'resourceType', 'resourceId', 'ownerId', 'data', 'occurredAt');
  if (after) query.whereRaw('(xid, seq) > (?::xid8, ?::bigint)', [after.xid, after.seq]);
  if (types.length && !types.includes('*')) {
    const exact = types.filter((type) => !type.endsWith('.*'));
    const prefixes = types.filter((type) => type.endsWith('.*')).map((type) => `${type.slice(0, -1)}%`);
    query.where((either) => {
      if (exact.length) either.orWhereIn('type', exact);
      for (const prefix of prefixes) either.orWhere('type', 'like', prefix);
    });
  }
  const rows = (await query) as ChangeRow[];
  return rows.map((row) => {
    const position = { xid: row.xid, seq: Number(row.seq) };
    return {
      position,
      ownerId: row.ownerId,
      event: {
        cursor: cursorOf(position),
        id: row.id,
        type: row.type,
        resourceType: row.resourceType,
        resourceId: row.resourceId,
        occurredAt: row.occurredAt.toISOString(),
        data: row.data,
      },
    };
  });
}

/**
 * Whether changes after `after` have committed above the horizon: an older transaction still running holds
 * them back, and its end may announce nothing (it wrote no events), so a stream looks again shortly.
 */
export async function changesHeldBack(after: FeedPosition): Promise<boolean> {
  const { trx } = tenantScope();
  const row = (await trx('changeEvents')
    .whereRaw('xid >= (select pg_snapshot_xmin(pg_current_snapshot()))')
    .whereRaw('(xid, seq) > (?::xid8, ?::bigint)', [after.xid, after.seq])
    .first(trx.raw('1 as held'))) as { held: number } | undefined;
  return row !== undefined;
}

/**
 * The position a cursor names, once checked. A cursor whose event has been pruned, with nothing as old kept,
 * is 410 CURSOR_EXPIRED: events after it may be lost too, and the answer names the oldest cursor still available.
 */
export async function keptPosition(cursor: CursorPosition): Promise<FeedPosition> {
  const { trx } = tenantScope();
  const row = (await trx('changeEvents').where({ seq: cursor.seq }).first(trx.raw('xid::text as xid'))) as { xid: string } | undefined;
  if (row && (cursor.xid === null || cursor.xid === row.xid)) return { xid: row.xid, seq: cursor.seq };
  const oldestRow = (await trx('changeEvents').orderBy([{ column: 'xid' }, { column: 'seq' }]).first(trx.raw('xid::text as xid'), 'seq')) as
    | { xid: string; seq: string }
    | undefined;
  const oldest = oldestRow && { xid: oldestRow.xid, seq: Number(oldestRow.seq) };
  // Gone, and nothing as old kept: it was pruned, and so may have been the events after it. A cursor of the
  // seq-only order whose event is gone cannot be placed in the (xid, seq) order: it is expired too.
  if (!oldest || cursor.xid === null || compare(oldest, { xid: cursor.xid, seq: cursor.seq }) > 0) throw expired(oldest ? cursorOf(oldest) : null);
  return { xid: cursor.xid, seq: cursor.seq };
}

const expired = (oldest: string | null): AppError =>
  new AppError('CURSOR_EXPIRED', `Events after this cursor are past the feed's ${FEED_RETENTION_DAYS}-day retention: resume from the oldest cursor still available`, [
    { field: 'oldestCursor', message: oldest ?? 'none: the feed holds no events; read from the start' },
  ]);

/**
 * Where a stream without Last-Event-ID starts: just before the horizon. Everything below it has committed
 * (or never will); a change above it that committed just before the stream opened is sent, none is missed.
 */
export async function streamStartPosition(): Promise<FeedPosition> {
  const row = (await tenantScope().trx.raw('select pg_snapshot_xmin(pg_current_snapshot())::text as xid')) as { rows: Array<{ xid: string }> };
  return { xid: row.rows[0]!.xid, seq: 0 };
}
