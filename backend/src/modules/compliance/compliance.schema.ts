import Joi from 'joi';
import { creationPageQuery, Page } from '../../lib/pagination';
import type { DataExportFormat } from './data-export.model';

const format = Joi.string().valid('json', 'csv').description('`json` (one document, the default) or `csv` (a zip of one CSV per table)');

export const exportRequestQuery = Joi.object<{ format?: DataExportFormat }>({ format });
export const exportRequestBody = Joi.object<{ format?: DataExportFormat }>({ format });
export const exportListQuery = Joi.object<Page>(creationPageQuery);
export const exportParams = Joi.object<{ id: string }>({ id: Joi.string().uuid().required() });

export const exportAccepted = Joi.object({
  exportId: Joi.string().uuid().required(),
  status: Joi.string().valid('pending').required(),
});

const timestamp = Joi.date().iso().allow(null).required();

export const exportSchema = Joi.object({
  id: Joi.string().uuid().required(),
  format: Joi.string().valid('json', 'csv').required(),
  status: Joi.string().valid('pending', 'running', 'completed', 'failed', 'expired').required(),
  requestedBy: Joi.string().uuid().allow(null).required().description('The user or API key that asked for it'),
  sizeBytes: Joi.number().integer().allow(null).required(),
  createdAt: Joi.date().iso().required(),
  startedAt: timestamp,
  completedAt: timestamp,
  expiresAt: timestamp.description('After this the content is deleted and the download answers 404'),
});

/** The JSON export: every tenant table's rows as stored (column names as in the database), secrets left out. */
export const exportDocumentSchema = Joi.object({
  format: Joi.string().valid('crm-organization-export').required(),
  version: Joi.number().integer().required(),
  generatedAt: Joi.date().iso().required(),
  organization: Joi.object().unknown().required(),
  tables: Joi.object().pattern(Joi.string(), Joi.array().items(Joi.object().unknown())).required(),
});

export const deletionBody = Joi.object<{ confirm: string }>({
  confirm: Joi.string().max(300).required().description("The organization's exact name"),
});

export const deletionStatusSchema = Joi.object({
  status: Joi.string().valid('active', 'pending_deletion').required(),
  requestedAt: timestamp,
  requestedBy: Joi.string().uuid().allow(null).required(),
  purgeAt: timestamp.description('When the purge job erases the organization'),
});

const email = Joi.string().trim().lowercase().email().max(254).required();
export const subjectQuery = Joi.object<{ email: string }>({ email });
export const erasureBody = Joi.object<{ email: string }>({ email });

const rows = Joi.array().items(Joi.object().unknown());
const byTable = Joi.object().pattern(Joi.string(), rows);

export const subjectReportSchema = Joi.object({
  subject: Joi.object({ email: Joi.string().required() }).required(),
  controller: Joi.object({ organization: Joi.string().allow(null).required() }).required(),
  generatedAt: Joi.date().iso().required(),
  processing: Joi.object({
    purposes: Joi.array().items(Joi.string()).required(),
    categories: Joi.array().items(Joi.string()).required(),
    sources: Joi.array().items(Joi.string()).required(),
    recipients: Joi.array().items(Joi.string()).required(),
    retention: Joi.object().pattern(Joi.string(), Joi.string()).required(),
    rights: Joi.string().required(),
  }).required(),
  records: Joi.object({ leads: rows.required(), contacts: rows.required(), users: rows.required(), sessions: rows.required() }).required(),
  mentions: byTable.required().description('Records whose free text names the person (email or full name), by table'),
  linked: byTable.required().description('Records linked to the person’s lead or contact, by table'),
  auditEntries: rows.required().description('Audit entries about the person’s records, under their keys, or made by them as a user'),
  limits: Joi.object({
    rowsPerSection: Joi.number().integer().required().description('SUBJECT_REPORT_MAX_ROWS: the most rows any one section holds'),
    truncated: Joi.array()
      .items(Joi.string())
      .required()
      .description('Sections cut at that many rows (oldest kept), as `records.leads`, `mentions.activities`, `records.sessions`, `auditEntries`'),
  }).required(),
});

export const erasureSchema = Joi.object({
  subjectRef: Joi.string().required().description('A prefix of the keyed hash of the email: names the person in the audit trail without personal data'),
  leads: Joi.number().integer().required(),
  contacts: Joi.number().integer().required(),
  users: Joi.number().integer().required(),
  scrubbed: Joi.object().pattern(Joi.string(), Joi.number().integer()).required(),
  auditKeysDestroyed: Joi.number().integer().required(),
});
