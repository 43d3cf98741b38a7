import { CRM_RESOURCES } from '../crm/resource-definition';

/**
 * Every resource type the audit trail names, for success and failure entries alike: the audit
 * subscriber writes these, and a tenant write route declares one (`auditResource`) for its failures.
 */
export const AUDIT_RESOURCES = [
  ...CRM_RESOURCES,
  'import',
  'merge',
  'notification',
  'user',
  'role',
  'api_key',
  'session',
  'webhook',
  'webhook_delivery',
  'integration',
  'organization',
  'tenant',
  'data_export',
  'data_subject',
  'custom_field',
  'pipeline',
  'view',
  'report',
  'support_ticket',
  'parts_order',
  'parts_inventory',
] as const;

export type AuditResource = (typeof AUDIT_RESOURCES)[number];
