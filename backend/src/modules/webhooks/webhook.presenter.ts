import Joi from 'joi';
import { WebhookDelivery, WebhookSubscription } from './webhook.models';

/** What the API shows of a subscription: never its signing secret. */
export const presentSubscription = (s: WebhookSubscription) => ({
  id: s.id,
  url: s.url,
  events: s.events,
  description: s.description,
  active: s.active,
  disabledReason: s.disabledReason,
  previousSecretExpiresAt: s.previousSecretExpiresAt && s.previousSecretExpiresAt > new Date() ? s.previousSecretExpiresAt : null,
  createdAt: s.createdAt,
  updatedAt: s.updatedAt,
});

export const presentDelivery = (d: WebhookDelivery) => ({
  id: d.id,
  eventId: d.eventId,
  eventType: d.eventType ?? null,
  subscriptionId: d.subscriptionId,
  integrationId: d.integrationId,
  status: d.status,
  attempts: d.attempts,
  nextAttemptAt: d.nextAttemptAt,
  lastAttemptAt: d.lastAttemptAt,
  responseStatus: d.responseStatus,
  durationMs: d.durationMs,
  lastError: d.lastError,
  createdAt: d.createdAt,
});

const nullableDate = Joi.date().allow(null);

export const subscriptionSchema = Joi.object({
  id: Joi.string().uuid().required(),
  url: Joi.string().required(),
  events: Joi.array().items(Joi.string()).required(),
  description: Joi.string().allow(null).required(),
  active: Joi.boolean().required(),
  disabledReason: Joi.string().allow(null).required(),
  previousSecretExpiresAt: nullableDate.required().description('While a rotated-out secret still signs (deliveries carry two v1 signatures): until when; otherwise null'),
  createdAt: Joi.date().required(),
  updatedAt: Joi.date().required(),
});

export const createdSubscriptionSchema = subscriptionSchema.keys({
  secret: Joi.string().required().description('The signing secret: shown in this answer only'),
});

export const deliverySchema = Joi.object({
  id: Joi.string().uuid().required(),
  eventId: Joi.string().uuid().required(),
  eventType: Joi.string().allow(null).required(),
  subscriptionId: Joi.string().uuid().allow(null).required(),
  integrationId: Joi.string().uuid().allow(null).required(),
  status: Joi.string().valid('pending', 'succeeded', 'failed').required(),
  attempts: Joi.number().integer().required(),
  nextAttemptAt: nullableDate.required(),
  lastAttemptAt: nullableDate.required(),
  responseStatus: Joi.number().integer().allow(null).required(),
  durationMs: Joi.number().integer().allow(null).required(),
  lastError: Joi.string().allow(null).required(),
  createdAt: Joi.date().required(),
});

export const attemptSchema = Joi.object({
  attempt: Joi.number().integer().required(),
  outcome: Joi.string().valid('succeeded', 'retrying', 'failed').required(),
  responseStatus: Joi.number().integer().allow(null).required(),
  durationMs: Joi.number().integer().required(),
  error: Joi.string().allow(null).required(),
  responseExcerpt: Joi.string().allow(null, '').required(),
  createdAt: Joi.date().required(),
});

export const deliveryWithAttemptsSchema = deliverySchema.keys({ attemptLog: Joi.array().items(attemptSchema).required() });
