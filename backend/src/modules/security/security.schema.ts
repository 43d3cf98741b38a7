import Joi from 'joi';
import { cursorParam, timeKeyset } from '../../lib/pagination';
import { SECURITY_EVENT_TYPES, SecurityEventType, Severity, SEVERITIES } from './security-finding';

/** Newest first: events raised meanwhile never shift a page. */
export const SECURITY_EVENTS_KEYSET = timeKeyset({ order: 'desc' });

const filters = {
  type: Joi.string().valid(...SECURITY_EVENT_TYPES),
  severity: Joi.string().valid(...SEVERITIES).description('Only this severity'),
  userId: Joi.string().guid().description('Events about this user'),
  from: Joi.date().iso(),
  to: Joi.date()
    .iso()
    .when('from', { is: Joi.date().required(), then: Joi.date().min(Joi.ref('from')) })
    .messages({ 'date.min': '{{#label}} must not be before from' }),
  limit: Joi.number().integer().min(1).max(500).default(50),
  cursor: cursorParam(SECURITY_EVENTS_KEYSET),
};

export const securityEventsQuery = Joi.object<SecurityEventsQuery>(filters);
export const platformSecurityEventsQuery = Joi.object<SecurityEventsQuery>({ ...filters, tenantId: Joi.string().guid() });

export interface SecurityEventsQuery {
  type?: SecurityEventType;
  severity?: Severity;
  userId?: string;
  tenantId?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: [createdAt: string, id: string];
}

export const securityEventSchema = Joi.object({
  id: Joi.string().guid().required(),
  type: Joi.string().valid(...SECURITY_EVENT_TYPES).required(),
  severity: Joi.string().valid(...SEVERITIES).required(),
  summary: Joi.string().required(),
  userId: Joi.string().guid().allow(null).required(),
  details: Joi.object().unknown(true).required(),
  alerted: Joi.boolean().required().description('This event is the one that mailed the alert of its pattern (others within the window were not mailed)'),
  requestId: Joi.string().allow(null).required(),
  createdAt: Joi.date().required(),
});

export const platformSecurityEventSchema = securityEventSchema.keys({ tenantId: Joi.string().guid().required() });
