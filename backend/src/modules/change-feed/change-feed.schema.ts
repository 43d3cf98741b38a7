import Joi from 'joi';
import { isValidPattern } from '../webhooks/event-catalog';
import { seqOfCursor } from './change-feed.store';

/** A cursor this feed gave out, decoded during validation into its sequence number. */
const cursor = Joi.string()
  .max(64)
  .custom((value: string, helpers) => seqOfCursor(value) ?? helpers.error('any.invalid'))
  .messages({ 'any.invalid': '{{#label}} is not a cursor this feed gave out' });

/** The webhook catalogue's types, and the feed's own: a user's notifications (never sent to webhooks). */
const FEED_ONLY_PATTERNS = ['notification.*', 'notification.created'];
const isFeedPattern = (pattern: string): boolean => isValidPattern(pattern) || FEED_ONLY_PATTERNS.includes(pattern);

/** `deal.*,task.created`: a comma-separated list of event types or `<resource>.*` / `*` patterns. */
const types = Joi.string()
  .max(1000)
  .custom((value: string, helpers) => {
    const patterns = value.split(',').map((pattern) => pattern.trim()).filter(Boolean);
    return patterns.length > 0 && patterns.length <= 30 && patterns.every(isFeedPattern) ? patterns : helpers.error('any.invalid');
  })
  .messages({ 'any.invalid': '{{#label}} must list event types or patterns such as deal.*, task.created or *' });

/** Where to start (a decoded cursor: the sequence number) and which event types. */
export type FeedQuery = { after?: number; types?: string[] };

export const listEventsQuery = Joi.object<FeedQuery & { limit: number }>({
  after: cursor,
  types,
  limit: Joi.number().integer().min(1).max(1000).default(100),
});

export const streamEventsQuery = Joi.object<FeedQuery>({
  /** For clients that cannot send Last-Event-ID (a first EventSource connection resuming a stored cursor). */
  after: cursor,
  types,
});

/** The Last-Event-ID header, as the stream reads it. */
export const lastEventIdHeader = cursor.label('Last-Event-ID');

export const feedEventSchema = Joi.object({
  cursor: Joi.string().required().description('Opaque; resume after this event with ?after= or Last-Event-ID'),
  id: Joi.string().uuid().required().description('The event id, the same as the webhook delivery of it carries'),
  type: Joi.string().required(),
  resourceType: Joi.string().allow(null).required(),
  resourceId: Joi.string().uuid().allow(null).required(),
  occurredAt: Joi.date().iso().required(),
  data: Joi.object({ object: Joi.object().unknown().required(), previousAttributes: Joi.object().unknown() }).required(),
});
