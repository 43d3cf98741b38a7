import Joi from 'joi';
import { defineRoute, ok, page, raw, RouteDefinition } from '../../http/route';
import { creationPageQuery, Page } from '../../lib/pagination';
import { auditArchiveDownload, auditArchiveSchema, listAuditArchives } from './audit-archives.service';
import { verifyAuditChain } from './audit-chain';
import { exportAuditEntries } from './audit-export';
import { auditStats, listAuditEntries } from './audit.service';
import {
  auditEntrySchema,
  auditStatsQuery,
  auditVerdictSchema,
  exportAuditLogsQuery,
  listAuditLogsQuery,
} from './audit.schema';

const FILTERS_DESCRIPTION =
  'Filters: `action`, `resourceType`, `resourceId`, `userId` (the acting user or API key), `from` and `to` (ISO-8601, both inclusive).';

export function auditRoutes(): RouteDefinition[] {
  const tags = ['Audit'];
  return [
    defineRoute({
      method: 'get',
      path: '/audit-logs',
      permission: 'audit:read',
      summary: "The tenant's audit trail, newest first; personal data shows as `[erased]` once its subject is erased",
      description: `${FILTERS_DESCRIPTION} Entries are listed as soon as their change commits, in the order they were appended; \`seq\` and \`hash\` stay null until the sealer puts them in the chain.`,
      tags,
      schema: { query: listAuditLogsQuery },
      response: { status: 200, description: 'A page of audit entries', schema: auditEntrySchema },
      handler: async (input) => {
        const { limit, cursor, ...filters } = input.query;
        const { data, pagination } = await listAuditEntries(filters, { limit, cursor });
        return page(data, pagination);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/audit-logs/export',
      permission: 'audit:read',
      feature: 'audit_export',
      summary: 'The filtered audit trail as CSV or a JSON array, oldest first, streamed',
      response: { status: 200, description: 'The entries', contentType: ['text/csv', 'application/json'], schema: Joi.array().items(auditEntrySchema) },
      description: `${FILTERS_DESCRIPTION} \`format\`: \`csv\` (default) or \`json\`. CSV cells that a spreadsheet would run as a formula start with a quote.`,
      tags,
      schema: { query: exportAuditLogsQuery },
      handler: async (input) => {
        const { format, ...filters } = input.query;
        return {
          kind: 'download',
          status: 200,
          contentType: format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
          filename: `audit-logs-${new Date().toISOString().slice(0, 10)}.${format}`,
          body: exportAuditEntries(filters, format),
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/audit-logs/stats',
      permission: 'audit:read',
      summary: 'Audit entry counts by action, by actor and by UTC day over `from`..`to` (default: the last 30 days)',
      tags,
      schema: { query: auditStatsQuery },
      handler: async (input) => ok(await auditStats(input.query)),
    }),
    defineRoute({
      method: 'get',
      path: '/audit-logs/verify',
      permission: 'audit:read',
      summary: "Recomputes the tenant's hash chain from its anchor and names the first broken entry, if any",
      description:
        'Entries are appended unsealed and sealed into the chain in append order a second or two later; `sealed` counts the entries verified, `pending` those not sealed yet (with the time the oldest was appended).',
      tags,
      response: { status: 200, description: 'The verdict', schema: auditVerdictSchema },
      handler: async () => ok(await verifyAuditChain()),
    }),
    defineRoute({
      method: 'get',
      path: '/audit-logs/archives',
      permission: 'audit:read',
      summary: 'Archives of entries that retention pruned, oldest first, keyset-paged',
      description: 'Entries older than the retention period (AUDIT_RETENTION_DAYS, default 365) are archived, then pruned, daily; the chain keeps verifying from the last pruned hash.',
      tags,
      schema: { query: Joi.object<Page>(creationPageQuery) },
      response: { status: 200, description: 'The archives', schema: auditArchiveSchema },
      handler: async (input) => {
        const page = await listAuditArchives(input.query);
        return raw(200, { data: page.rows, pagination: page.pagination });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/audit-logs/archives/:id/download',
      permission: 'audit:read',
      feature: 'audit_export',
      summary: 'One archive: the pruned entries as stored (personal values still encrypted), gzipped NDJSON',
      tags,
      schema: { params: Joi.object<{ id: string }>({ id: Joi.string().uuid().required() }) },
      response: { status: 200, description: 'The archive', contentType: 'application/gzip', schema: Joi.binary() },
      handler: async (input) => {
        const { filename, body } = await auditArchiveDownload(input.params.id);
        return { kind: 'download', status: 200, contentType: 'application/gzip', filename, body };
      },
    }),
  ];
}
