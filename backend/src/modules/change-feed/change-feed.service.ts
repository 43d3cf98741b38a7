import { Readable } from 'node:stream';
import { Knex } from 'knex';
import { tenantScope } from '../../infra/tenant-scope';
import { DownloadBody, InTenant } from '../../http/route';
import { TenantPrincipal } from '../auth/principal';
import { ownersInScope } from '../crm/record-access';
import { assertCursorKept, cursorOf, FeedEvent, isPersonal, readChanges, readHorizon, readPermissionOf, StoredChange, streamStartSeq } from './change-feed.store';
import { liveEventsEnded, waitForChanges } from './live-events';

/** Rows read per query: a page of the list at most, a stream's catch-up a page at a time. */
const STREAM_PAGE = 200;

export interface FeedPage {
  data: FeedEvent[];
  /** Where to resume: the last event read (also one the caller may not see), or the cursor given. */
  nextCursor: string | null;
  hasMore: boolean;
}

/**
 * Which changes the caller may see: those of resources it may read, and for a sales user those of
 * records they or a teammate own (a stream is not a way around the own-and-team scope); and the
 * caller's own notifications.
 */
export async function visibilityOf(principal: TenantPrincipal): Promise<(change: StoredChange) => boolean> {
  const scoped = await scopedVisibility(principal);
  // A personal event (a notification) is its user's alone, whatever the caller's role.
  const me = principal.kind === 'user' ? principal.userId : undefined;
  return (change) => (isPersonal(change.event.resourceType) ? change.ownerId !== null && change.ownerId === me : scoped(change));
}

async function scopedVisibility(principal: TenantPrincipal): Promise<(change: StoredChange) => boolean> {
  const readable = (resourceType: string | null) => !resourceType || principal.permissions.has(readPermissionOf(resourceType));
  if (principal.kind !== 'user' || principal.roleKey !== 'sales_user') return (change) => readable(change.event.resourceType);
  const owners = (await ownersInScope(principal)) ?? new Set([principal.userId]);
  return (change) => readable(change.event.resourceType) && change.ownerId !== null && owners.has(change.ownerId);
}

/** GET /events: a page of the tenant's changes after the cursor, in commit order, those the caller may see. */
export async function listEvents(principal: TenantPrincipal, query: { after?: number; types?: string[]; limit: number }): Promise<FeedPage> {
  if (query.after !== undefined) await assertCursorKept(query.after);
  const visible = await visibilityOf(principal);
  const changes = await readChanges(query.after, await readHorizon(), query.types ?? [], query.limit);
  const last = changes.at(-1);
  return {
    data: changes.filter(visible).map((change) => change.event),
    nextCursor: last ? last.event.cursor : query.after !== undefined ? cursorOf(query.after) : null,
    hasMore: changes.length === query.limit,
  };
}

export interface StreamStart {
  knex: Knex;
  tenantId: string;
  types: string[];
  heartbeatMs: number;
  /** The stream sends what commits after this sequence number (the resume cursor's, or the last committed at opening). */
  afterSeq: number;
  visible: (change: StoredChange) => boolean;
}

/**
 * GET /events/stream: checked in the request's transaction (the resume cursor still kept; where a
 * fresh stream starts: after the newest change), then sent as Server-Sent Events once it has committed.
 */
export async function openStream(principal: TenantPrincipal, query: { after?: number; types?: string[] }, heartbeatMs: number): Promise<StreamStart> {
  if (query.after !== undefined) await assertCursorKept(query.after);
  const { knex, tenantId } = tenantScope();
  return {
    knex,
    tenantId,
    types: query.types ?? [],
    heartbeatMs,
    afterSeq: query.after ?? (await streamStartSeq()),
    visible: await visibilityOf(principal),
  };
}

/** One event as an SSE message: its cursor as `id` (what Last-Event-ID sends back), its type as `event`. */
const message = (event: FeedEvent): string => `id: ${event.cursor}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;

/**
 * The stream's body: what the feed holds after the start, then each change as it commits, a page at a
 * time in short transactions. When nothing was sent for a heartbeat interval, a comment line keeps
 * proxies from closing the connection and shows the client it is alive. It ends when the client goes
 * or the instance shuts down; sendDownload disconnects a client that stops reading.
 */
export function streamBody(start: StreamStart): DownloadBody {
  return (inTenant: InTenant, clientGone: AbortSignal) => {
    async function* messages(): AsyncGenerator<string> {
      // How long a client waits before reconnecting (with Last-Event-ID) after the connection drops.
      yield `retry: 2000\n: connected\n\n`;
      let afterSeq = start.afterSeq;
      let lastSent = Date.now();
      while (!clientGone.aborted && !liveEventsEnded(start.knex)) {
        const changes = await inTenant(async () => readChanges(afterSeq, await readHorizon(), start.types, STREAM_PAGE));
        const shown = changes.filter(start.visible);
        if (shown.length) {
          yield shown.map((change) => message(change.event)).join('');
          lastSent = Date.now();
        }
        afterSeq = changes.at(-1)?.seq ?? afterSeq;
        if (changes.length === STREAM_PAGE) continue;
        if (Date.now() - lastSent >= start.heartbeatMs) {
          yield ': heartbeat\n\n';
          lastSent = Date.now();
        }
        await waitForChanges(start.knex, start.tenantId, start.heartbeatMs - (Date.now() - lastSent), clientGone);
      }
    }
    return Readable.from(messages());
  };
}
