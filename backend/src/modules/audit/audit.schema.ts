import Joi from 'joi';
import { cursorParam, Page } from '../../lib/pagination';
import { AUDIT_TRAIL_KEYSET, AuditFilters } from './audit-entries.repository';
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

export const listAuditLogsQuery = Joi.object<ListAuditLogsQuery>({
  ...filters,
  limit: Joi.number().integer().min(1).max(500).default(50),
  cursor: cursorParam(AUDIT_TRAIL_KEYSET),
});

export const exportAuditLogsQuery = Joi.object<ExportAuditLogsQuery>({ ...filters, format: Joi.string().valid('csv', 'json').default('csv') });

export const auditStatsQuery = Joi.object<Pick<AuditFilters, 'from' | 'to'>>({ from: filters.from, to: filters.to });

export type ListAuditLogsQuery = AuditFilters & Page;

export type ExportAuditLogsQuery = AuditFilters & { format: ExportFormat };

/** An entry as GET /audit-logs and the JSON export show it. */
export const auditEntrySchema = Joi.object({
  id: Joi.string().guid().required(),
  seq: Joi.number()
    .integer()
    .allow(null)
    .required()
    .description("Position in the tenant's hash chain; null while the entry waits to be sealed (a second or two)"),
  occurredAt: Joi.date().iso().required().description('When the entry was appended (the database clock)'),
  actor: Joi.object({
    type: Joi.string().valid('user', 'api_key', 'platform_admin', 'system').required(),
    id: Joi.string().guid().allow(null).required(),
    impersonatorId: Joi.string().guid().allow(null).required(),
  }).required(),
  action: Joi.string().required(),
  resourceType: Joi.string().allow(null).required(),
  resourceId: Joi.string().guid().allow(null).required(),
  changes: Joi.object().unknown(true).allow(null).required().description('Changed fields, `{field: {before, after}}`; personal values read `[erased]` once their subject is erased'),
  ip: Joi.string().allow(null).required(),
  userAgent: Joi.string().allow(null).required(),
  requestId: Joi.string().allow(null).required(),
  result: Joi.string().valid('success', 'failure').required(),
  errorCode: Joi.string().allow(null).required(),
  hash: Joi.string().allow(null).required().description('sha256(previous hash || canonical entry), hex; null until sealed'),
});

/** The answer of GET /audit-logs/verify. */
export const auditVerdictSchema = Joi.object({
  valid: Joi.boolean().required(),
  sealed: Joi.number().integer().required().description('Entries in the chain from its anchor on: the ones verified'),
  pending: Joi.number().integer().required().description('Entries appended but not yet sealed into the chain (not verifiable yet)'),
  oldestPendingAt: Joi.date().iso().allow(null).required().description('When the oldest pending entry was appended; null when none is'),
  firstBrokenSeq: Joi.number().integer().description('When not valid: the first entry that does not verify'),
  firstBrokenId: Joi.string().guid().allow(null).description('When not valid: its id, null when the chain lost its newest entries'),
  reason: Joi.string().valid('sequence_gap', 'previous_hash_mismatch', 'hash_mismatch', 'missing_entries').description('When not valid'),
});
