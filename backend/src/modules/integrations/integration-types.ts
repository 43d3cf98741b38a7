import Joi from 'joi';
import { isValidPattern } from '../webhooks/event-catalog';
import { SLACK_EVENTS } from './slack-message';

export const INTEGRATION_TYPES = ['slack_notification', 'custom_webhook', 'stripe_payment', 'capricorn_edi'] as const;
export type IntegrationType = (typeof INTEGRATION_TYPES)[number];

const url = Joi.string().trim().max(2048).uri({ scheme: ['http', 'https'] });
const secret = Joi.string().trim().min(8).max(2048);

/**
 * Each type's configuration and which of its fields are secrets: secrets are kept only encrypted and
 * never shown again; `urls` are destinations checked by the SSRF guard.
 */
export const INTEGRATION_SPECS: Record<IntegrationType, { config: Joi.ObjectSchema; secrets: readonly string[]; urls: readonly string[] }> = {
  slack_notification: {
    config: Joi.object({
      webhookUrl: url.required(),
      channel: Joi.string().trim().max(80),
      events: Joi.array().items(Joi.string().valid(...SLACK_EVENTS)).min(1).unique().required(),
    }),
    secrets: ['webhookUrl'],
    urls: ['webhookUrl'],
  },
  custom_webhook: {
    config: Joi.object({
      url: url.required(),
      secret,
      events: Joi.array()
        .items(Joi.string().custom((value: string, helpers) => (isValidPattern(value) ? value : helpers.error('any.invalid'))))
        .min(1)
        .max(50)
        .unique()
        .default(['*'])
        .messages({ 'any.invalid': '{{#label}} is not an event type, "<resource>.*" or "*"' }),
    }),
    secrets: ['secret'],
    urls: ['url'],
  },
  stripe_payment: {
    config: Joi.object({
      apiKey: secret.pattern(/^(sk|rk)_(live|test)_[A-Za-z0-9]+$/).required().messages({ 'string.pattern.base': '{{#label}} must be a Stripe secret or restricted key' }),
      webhookSecret: secret.pattern(/^whsec_[A-Za-z0-9]+$/).required().messages({ 'string.pattern.base': '{{#label}} must be a Stripe webhook signing secret (whsec_...)' }),
    }),
    secrets: ['apiKey', 'webhookSecret'],
    urls: [],
  },
  capricorn_edi: {
    // Without baseUrl, orders go to the built-in supplier simulator (demo data; docs/SUPPLIER-PROTOCOL.md).
    config: Joi.object({
      apiKey: secret.required(),
      customerId: Joi.string().trim().min(1).max(100).required(),
      baseUrl: url,
    }),
    secrets: ['apiKey'],
    urls: ['baseUrl'],
  },
};

/** How a secret is shown: its last four characters at most, so an admin can tell two apart. */
export const maskSecret = (value: string): string => `••••${value.length >= 16 ? value.slice(-4) : ''}`;
