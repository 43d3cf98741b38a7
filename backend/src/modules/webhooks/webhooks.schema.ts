import Joi from 'joi';
import { creationPageQuery, Page } from '../../lib/pagination';
import { isValidPattern } from './event-catalog';
import type { SubscriptionDraft } from './webhooks.service';

const pattern = Joi.string()
  .max(100)
  .custom((value: string, helpers) => (isValidPattern(value) ? value : helpers.error('any.invalid')))
  .messages({ 'any.invalid': '{{#label}} is not an event type, "<resource>.*" or "*"' });

const events = Joi.array().items(pattern).min(1).max(50).unique();
const url = Joi.string().trim().max(2048).uri({ scheme: ['http', 'https'] });

export const createSubscriptionBody = Joi.object<SubscriptionDraft>({
  url: url.required(),
  events: events.required(),
  description: Joi.string().trim().max(500).allow(null),
  active: Joi.boolean().default(true),
});

export const updateSubscriptionBody = Joi.object<Partial<SubscriptionDraft>>({
  url,
  events,
  description: Joi.string().trim().max(500).allow(null),
  active: Joi.boolean(),
}).min(1);

/** The overlap of a secret rotation: a day by default, at most a week. */
export const rotateSecretBody = Joi.object<{ overlapSeconds: number }>({
  overlapSeconds: Joi.number().integer().min(0).max(7 * 24 * 3600).default(24 * 3600),
});

export const replayBody = Joi.object<{ eventIds?: string[]; since?: Date }>({
  eventIds: Joi.array().items(Joi.string().uuid()).min(1).max(100).unique(),
  since: Joi.date().iso(),
})
  .xor('eventIds', 'since')
  .messages({ 'object.missing': 'Give either eventIds or since' });

export const listSubscriptionsQuery = Joi.object<Page>(creationPageQuery);
export const listDeliveriesQuery = Joi.object<Page & { status?: string }>({ ...creationPageQuery, status: Joi.string().valid('pending', 'succeeded', 'failed') });
export const idParams = Joi.object<{ id: string }>({ id: Joi.string().uuid().required() });
