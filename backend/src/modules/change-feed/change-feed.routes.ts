import Joi from 'joi';
import { AppConfig } from '../../config/app-config';
import { AppError } from '../../lib/errors';
import { AnyRouteInput, defineRoute, principalOf, RouteDefinition, RouteInput } from '../../http/route';
import { FeedQuery, feedEventSchema, lastEventIdHeader, listEventsQuery, streamEventsQuery } from './change-feed.schema';
import { listEvents, openStream, streamBody } from './change-feed.service';

/** No caching anywhere, and no buffering in a proxy (nginx honours X-Accel-Buffering): events go out as they commit. */
const STREAM_HEADERS = { 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' };

/** The resume point: the Last-Event-ID header an EventSource sends on reconnecting, else `?after=`. */
function resumeSeq(input: Pick<RouteInput<unknown, FeedQuery>, 'headers' | 'query'>): number | undefined {
  const header = input.headers['last-event-id'];
  if (header === undefined || header === '') return input.query.after;
  const { value, error } = lastEventIdHeader.validate(Array.isArray(header) ? header[0] : header);
  if (error) throw new AppError('VALIDATION_ERROR', 'Invalid request', [{ field: 'Last-Event-ID', message: error.message }]);
  return value as unknown as number;
}

export function changeFeedRoutes(config: AppConfig): RouteDefinition[] {
  const tags = ['Change feed'];
  const caller = (input: AnyRouteInput) => principalOf(input, 'user', 'api_key');

  return [
    defineRoute({
      method: 'get',
      path: '/events',
      permission: 'authenticated',
      summary: "The organization's committed changes in commit order (the webhook events, kept 30 days), those of records the caller may read",
      description:
        'Resume with `after=<nextCursor>`: a cursor past the 30-day retention answers 410 `CURSOR_EXPIRED`, naming the oldest cursor still available.',
      response: {
        status: 200,
        description: 'A page of events; `nextCursor` is where to resume, also when `hasMore` is false',
        schema: Joi.object({
          data: Joi.array().items(feedEventSchema).required(),
          pagination: Joi.object({ limit: Joi.number().integer().required(), nextCursor: Joi.string().allow(null).required(), hasMore: Joi.boolean().required() }).required(),
        }),
        raw: true,
        errors: [410],
      },
      tags,
      schema: { query: listEventsQuery },
      handler: async (input) => {
        const { after, types, limit } = input.query;
        const { data, nextCursor, hasMore } = await listEvents(caller(input), { after, types, limit });
        return { kind: 'json', status: 200, body: { data, pagination: { limit, nextCursor, hasMore } } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/events/stream',
      permission: 'authenticated',
      summary: 'Server-Sent Events: the changes the caller may read as they commit, resumable by Last-Event-ID',
      description:
        'Each message has the event cursor as `id`, its type as `event` and the event as `data` (as `GET /events` lists it). ' +
        'Without `Last-Event-ID` or `after` the stream starts with the next change. An idle stream sends a `: heartbeat` comment. ' +
        "Open streams per organization are capped by its plan (429 beyond); a client that stops reading is disconnected.",
      response: { status: 200, description: 'An endless text/event-stream', contentType: 'text/event-stream', errors: [410] },
      tags,
      schema: { query: streamEventsQuery },
      handler: async (input) => {
        const principal = caller(input);
        const start = await openStream(principal, { after: resumeSeq(input), types: input.query.types }, config.transfers.liveEventsHeartbeatMs);
        return {
          kind: 'download',
          status: 200,
          contentType: 'text/event-stream; charset=utf-8',
          live: { streamsPerTenant: principal.plan.quotas.liveStreams ?? Number.POSITIVE_INFINITY, headers: STREAM_HEADERS },
          body: streamBody(start),
        };
      },
    }),
  ];
}
