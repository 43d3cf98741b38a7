import Joi from 'joi';
import type { FilterSpec } from './resource-definition';

/** Field validators shared by the CRM resources; `null` clears an optional field. */
export const text = (max: number) => Joi.string().trim().max(max).allow(null, '');
export const name = text(100);
export const email = Joi.string().trim().lowercase().email().max(254).allow(null);
export const phone = Joi.string().trim().max(40).pattern(/^[0-9+()\-.\s/x]*$/).allow(null, '');
export const url = Joi.string().trim().uri({ scheme: ['http', 'https'] }).max(500).allow(null, '');
export const id = Joi.string().uuid().allow(null);
export const isoDate = Joi.date().iso().allow(null);
/**
 * A calendar date, kept as 'YYYY-MM-DD'. Not isoDate(): with conversion on, it rewrites the value into a
 * full timestamp, which the pattern then refused, so no date was ever accepted.
 */
export const dateOnly = Joi.string()
  .pattern(/^\d{4}-\d{2}-\d{2}$/)
  .custom((value: string, helpers) => {
    const date = new Date(`${value}T00:00:00Z`);
    // Date rolls 2026-02-30 over into March: a real calendar date reads back unchanged.
    return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value) ? value : helpers.error('any.invalid');
  })
  .allow(null);
export const address = Joi.object({
  line1: text(200),
  line2: text(200),
  city: text(100),
  region: text(100),
  postalCode: text(20),
  country: Joi.string().trim().length(2).uppercase().allow(null, ''),
}).allow(null);
export const PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
export const RELATED_TYPES = { lead: 'leads', contact: 'contacts', account: 'accounts', deal: 'deals', ticket: 'tickets' } as const;
export const relatedType = Joi.string().valid(...Object.keys(RELATED_TYPES)).allow(null);
/** The id a syncing system gives a record: unique per tenant and resource among live records, `null` clears it. */
export const externalId = Joi.string().trim().min(1).max(255).allow(null);
/** `?externalId=` on every CRM list. */
export const externalIdFilter: FilterSpec = { column: 'externalId', op: '=', schema: Joi.string().trim().min(1).max(255) };
