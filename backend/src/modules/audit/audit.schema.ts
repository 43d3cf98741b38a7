import Joi from 'joi';
import { cursorParam } from '../../lib/pagination';
import { AuditFilters } from './audit-entries.repository';
import { ExportFormat } from './audit-export';

const filters = {
  action: Joi.string().trim().min(1).max(100),
  resourceType: Joi.string().trim().min(1).max(100),
  resourceId: Joi.string().guid(),
  userId: Joi.string().guid(),
  from: Joi.date().iso(),
  to: Joi.date()
    .iso()
    .when('from', { is: Joi.date().required(), then: Joi.date().min(Joi.ref('from')) })
    .messages({ 'date.min': '{{#label}} must not be before from' }),
};

/** The cursor holds the last entry's append order (pending entries have no seq yet): it only ever grows, so pages never shift. */
export const listAuditLogsQuery = Joi.object({
  ...filters,
  limit: Joi.number().integer().min(1).max(500).default(50),
  cursor: cursorParam(Joi.array().ordered(Joi.number().integer().min(1).required())),
});

export const exportAuditLogsQuery = Joi.object({ ...filters, format: Joi.string().valid('csv', 'json').default('csv') });

export const auditStatsQuery = Joi.object({ from: filters.from, to: filters.to });

export type ListAuditLogsQuery = AuditFilters & { limit: number; cursor?: [appendId: number] };

export type ExportAuditLogsQuery = AuditFilters & { format: ExportFormat };
