import { AppDeps } from '../../app-deps';
import { defineRoute, ok, principalOf, raw, RouteDefinition } from '../../http/route';
import {
  deletionBody,
  deletionStatusSchema,
  exportAccepted,
  exportDocumentSchema,
  exportListQuery,
  exportParams,
  exportRequestBody,
  exportRequestQuery,
  exportSchema,
} from './compliance.schema';
import { cancelDeletion, deletionStatus, requestDeletion } from './organization-deletion.service';
import { exportDownload, listExports, requestExport } from './organization-export.service';

export function organizationRoutes(deps: AppDeps): RouteDefinition[] {
  const tags = ['Organization'];
  return [
    defineRoute({
      method: 'post',
      path: '/organization/export-data',
      auditResource: 'data_export',
      permission: 'organization:manage',
      allowedWhilePendingDeletion: true,
      summary: 'Export every record of the organization (GDPR): a job writes it, then GET lists it for download',
      description:
        '`format` (body or query): `json` or `csv`. At most one export per hour (failed ones do not count): 429 `RATE_LIMITED` with `Retry-After` otherwise. Credentials (password, token and key hashes, key material) are never exported.',
      tags,
      schema: { query: exportRequestQuery, body: exportRequestBody },
      response: { status: 202, description: 'Accepted: the export job is queued', schema: exportAccepted },
      handler: async (input) => {
        const accepted = await requestExport(principalOf(input), input.body.format ?? input.query.format ?? 'json');
        return { kind: 'json', status: 202, body: { data: accepted } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/organization/export-data',
      permission: 'organization:manage',
      summary: "The organization's exports with their status, oldest first, keyset-paged",
      tags,
      schema: { query: exportListQuery },
      response: { status: 200, description: 'The exports', schema: exportSchema },
      handler: async (input) => {
        const page = await listExports(input.query);
        return raw(200, { data: page.rows, pagination: page.pagination });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/organization/export-data/:id/download',
      permission: 'organization:manage',
      summary: 'Download a completed export: a JSON document, or a zip of one CSV per table',
      description: 'Unknown, another tenant’s or expired: 404. Pending, running or failed: 409 `CONFLICT`.',
      tags,
      schema: { params: exportParams },
      response: { status: 200, description: 'The export', contentType: ['application/json', 'application/zip'], schema: exportDocumentSchema, errors: [409] },
      handler: async (input) => {
        const { format, filename, body } = await exportDownload(input.params.id);
        return { kind: 'download', status: 200, contentType: format === 'json' ? 'application/json' : 'application/zip', filename, body };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/organization/delete',
      permission: 'organization:manage',
      summary: 'Whether the organization is scheduled for deletion, and when it will be purged',
      tags,
      response: { status: 200, description: 'The deletion status', schema: deletionStatusSchema },
      handler: async () => ok(await deletionStatus()),
    }),
    defineRoute({
      method: 'post',
      path: '/organization/delete',
      auditResource: 'tenant',
      permission: 'organization:manage',
      summary: 'Schedule the deletion of the organization and all its data after the grace period',
      description:
        '`confirm` must be the organization’s exact name (400 otherwise). Until the purge date (`ORG_DELETION_GRACE_DAYS`, default 30) users can still sign in, read and export; every other write answers 409 `TENANT_PENDING_DELETION`.',
      tags,
      schema: { body: deletionBody },
      response: { status: 202, description: 'Accepted: the purge is scheduled', schema: deletionStatusSchema },
      handler: async (input) => {
        const { confirm } = input.body;
        const status = await requestDeletion(principalOf(input), confirm, deps.config.compliance.deletionGraceDays);
        return { kind: 'json', status: 202, body: { data: status } };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/organization/delete',
      auditResource: 'tenant',
      permission: 'organization:manage',
      allowedWhilePendingDeletion: true,
      summary: 'Cancel a scheduled deletion (409 when none is scheduled)',
      tags,
      response: { status: 200, description: 'The organization is active again', schema: deletionStatusSchema },
      handler: async () => ok(await cancelDeletion()),
    }),
  ];
}
