import { definitionOf } from '../crm/crm-resources';
import { DomainEvent, DomainEventMap, DomainEventType, EventOf } from '../events/domain-events';
import { defineSubscriber } from '../events/event-subscriber';
import { AuditEvent } from './audit-context';
import { AuditResource } from './audit-resources';
import { writeAuditNow } from './audit-store';

type AuditEntry = AuditEvent & { resourceType: AuditResource };

/**
 * The audit entry of each event type (or null: none of its own). Every type must be listed, so a new
 * event is a compile error until someone decides how the trail shows it. The actions are the names
 * GET /audit-logs has always shown.
 */
const ENTRY_OF: { [K in DomainEventType]: (event: EventOf<K>) => AuditEntry | null } = {
  'record.created': (e) => ({ action: `${e.resource}.create`, resourceType: e.resource, resourceId: e.id, after: e.record, subject: e.subject }),
  'record.updated': (e) => ({
    action: `${e.resource}.update`,
    resourceType: e.resource,
    resourceId: e.id,
    before: e.before,
    after: e.after,
    subject: e.subject,
  }),
  'record.deleted': (e) => ({
    action: `${e.resource}.${e.permanently ? 'purge' : 'delete'}`,
    resourceType: e.resource,
    resourceId: e.id,
    before: e.before,
    subject: e.subject,
  }),
  'record.merged': (e) => ({
    action: `${e.resource}.merge`,
    resourceType: e.resource,
    resourceId: e.id,
    before: e.before,
    after: { ...e.after, mergeId: e.mergeId, duplicateIds: e.duplicateIds, moved: e.moved },
    subject: e.subject,
  }),
  'merge.undone': (e) => ({
    action: `${e.resource}.merge_undo`,
    resourceType: 'merge',
    resourceId: e.mergeId,
    after: { survivorId: e.survivorId, restoredIds: e.duplicateIds, restoredLinks: e.restoredLinks },
  }),
  'lead.converted': (e) => ({
    action: 'lead.convert',
    resourceType: 'lead',
    resourceId: e.id,
    before: { status: e.fromStatus },
    after: { status: 'converted', accountId: e.accountId, contactId: e.contactId, dealId: e.dealId },
    subject: e.subject,
  }),
  // The deal's `record.updated` entry already shows the stage before and after.
  'deal.stage_changed': () => null,
  'records.imported': (e) => ({
    action: `${e.resource}.import`,
    resourceType: 'import',
    resourceId: e.importId,
    after: { resource: definitionOf(e.resource).name, mode: e.mode, upsertBy: e.upsertBy, created: e.created, updated: e.updated, failed: e.failed },
  }),
  'import.undone': (e) => ({
    action: `${e.resource}.import_undo`,
    resourceType: 'import',
    resourceId: e.importId,
    after: { resource: definitionOf(e.resource).name, deleted: e.deleted, restored: e.restored },
  }),
  'records.exported': (e) => ({ action: `${e.resource}.export`, resourceType: e.resource, after: { ...e.details } }),

  'user.created': (e) => ({ action: 'user.create', resourceType: 'user', resourceId: e.id, after: e.profile, subject: e.email }),
  'user.updated': (e) => ({
    action: e.before.roleId !== e.after.roleId ? 'user.role_change' : 'user.update',
    resourceType: 'user',
    resourceId: e.id,
    before: e.before,
    after: e.after,
    subject: e.email,
  }),
  'user.deleted': (e) => ({ action: 'user.delete', resourceType: 'user', resourceId: e.id, before: { email: e.email, roleId: e.roleId }, subject: e.email }),
  'role.created': (e) => ({ action: 'role.create', resourceType: 'role', resourceId: e.id, after: { name: e.name, permissions: e.permissions } }),
  'role.updated': (e) => ({ action: 'role.update', resourceType: 'role', resourceId: e.id, before: e.before, after: e.after }),
  'role.deleted': (e) => ({ action: 'role.delete', resourceType: 'role', resourceId: e.id, before: { name: e.name, permissions: e.permissions } }),
  'api_key.created': (e) => ({
    action: 'api_key.create',
    resourceType: 'api_key',
    resourceId: e.id,
    after: { name: e.name, prefix: e.prefix, roleId: e.roleId, permissions: e.permissions, expiresAt: e.expiresAt },
  }),
  'api_key.revoked': (e) => ({ action: 'api_key.revoke', resourceType: 'api_key', resourceId: e.id, before: { name: e.name, prefix: e.prefix } }),
  'auth.logged_out': (e) => ({ action: 'auth.logout', resourceType: 'session', resourceId: e.sessionId }),
  'auth.password_changed': (e) => ({ action: 'auth.password_change', resourceType: 'user', resourceId: e.userId, after: { sessionsRevoked: e.sessionsRevoked } }),

  'auth.mfa_changed': (e) => ({
    action: e.enabled ? 'auth.mfa_enable' : 'auth.mfa_disable',
    resourceType: 'user',
    resourceId: e.userId,
    after: { sessionsRevoked: e.sessionsRevoked },
  }),

  'webhook.created': (e) => ({ action: 'webhook.create', resourceType: 'webhook', resourceId: e.id, after: { url: e.url, events: e.events, active: e.active } }),
  'webhook.updated': (e) => ({ action: 'webhook.update', resourceType: 'webhook', resourceId: e.id, before: e.before, after: e.after }),
  'webhook.deleted': (e) => ({ action: 'webhook.delete', resourceType: 'webhook', resourceId: e.id, before: { url: e.url, events: e.events } }),
  'webhook.replayed': (e) => ({ action: 'webhook.replay', resourceType: 'webhook', resourceId: e.id, after: { deliveries: e.deliveries } }),
  'webhook.secret_rotated': (e) => ({ action: 'webhook.rotate_secret', resourceType: 'webhook', resourceId: e.id, after: { overlapSeconds: e.overlapSeconds } }),
  'webhook_delivery.retried': (e) => ({ action: 'webhook_delivery.retry', resourceType: 'webhook_delivery', resourceId: e.id }),
  'integration.created': (e) => ({
    action: 'integration.create',
    resourceType: 'integration',
    resourceId: e.id,
    after: { type: e.integrationType, name: e.name, active: e.active, config: e.config },
  }),
  'integration.updated': (e) => ({ action: 'integration.update', resourceType: 'integration', resourceId: e.id, before: e.before, after: e.after }),
  'integration.deleted': (e) => ({ action: 'integration.delete', resourceType: 'integration', resourceId: e.id, before: { type: e.integrationType, name: e.name } }),

  'custom_field.created': (e) => ({ action: 'custom_field.create', resourceType: 'custom_field', resourceId: e.id, after: e.field }),
  'custom_field.updated': (e) => ({ action: 'custom_field.update', resourceType: 'custom_field', resourceId: e.id, before: e.before, after: e.after }),
  'custom_field.deleted': (e) => ({
    action: 'custom_field.delete',
    resourceType: 'custom_field',
    resourceId: e.id,
    before: e.field,
    after: { recordsChanged: e.recordsChanged },
  }),
  'pipeline.created': (e) => ({ action: 'pipeline.create', resourceType: 'pipeline', resourceId: e.id, after: e.pipeline }),
  'pipeline.updated': (e) => ({ action: 'pipeline.update', resourceType: 'pipeline', resourceId: e.id, before: e.before, after: { ...e.after, dealsMoved: e.dealsMoved } }),
  'pipeline.deleted': (e) => ({ action: 'pipeline.delete', resourceType: 'pipeline', resourceId: e.id, before: e.pipeline }),
  'view.created': (e) => ({ action: 'view.create', resourceType: 'view', resourceId: e.id, after: e.view }),
  'view.updated': (e) => ({ action: 'view.update', resourceType: 'view', resourceId: e.id, before: e.before, after: e.after }),
  'view.deleted': (e) => ({ action: 'view.delete', resourceType: 'view', resourceId: e.id, before: e.view }),
  'report.created': (e) => ({ action: 'report.create', resourceType: 'report', resourceId: e.id, after: e.report }),
  'report.updated': (e) => ({ action: 'report.update', resourceType: 'report', resourceId: e.id, before: e.before, after: e.after }),
  'report.deleted': (e) => ({ action: 'report.delete', resourceType: 'report', resourceId: e.id, before: e.report }),
  'report.scheduled_run': (e) => ({
    action: 'report.scheduled_run',
    resourceType: 'report',
    resourceId: e.id,
    after: { runId: e.runId, scheduledFor: e.scheduledFor, status: e.status, mailed: e.mailed, skipped: e.skipped },
  }),

  'organization.settings_updated': (e) => ({
    action: 'organization.settings_update',
    resourceType: 'organization',
    resourceId: e.tenantId,
    before: e.before,
    after: e.after,
  }),
  'organization.deletion_requested': (e) => ({ action: 'organization.deletion_request', resourceType: 'tenant', resourceId: e.tenantId, after: { purgeAt: e.purgeAt } }),
  'organization.deletion_cancelled': (e) => ({ action: 'organization.deletion_cancel', resourceType: 'tenant', resourceId: e.tenantId, before: { purgeAt: e.purgeAt } }),
  'organization.export_requested': (e) => ({ action: 'organization.export_request', resourceType: 'data_export', resourceId: e.exportId, after: { format: e.format } }),
  'organization.export_downloaded': (e) => ({ action: 'organization.export_download', resourceType: 'data_export', resourceId: e.exportId, after: { format: e.format } }),
  'billing.status_changed': (e) => ({ action: 'billing.status_change', resourceType: 'tenant', resourceId: e.tenantId, before: { ...e.before }, after: { ...e.after, cause: e.cause } }),
  'billing.trial_ending': (e) => ({ action: 'billing.trial_reminder', resourceType: 'tenant', resourceId: e.tenantId, after: { endsAt: e.endsAt } }),
  'billing.payment_failed': (e) => ({
    action: 'billing.payment_fail',
    resourceType: 'tenant',
    resourceId: e.tenantId,
    after: { invoiceId: e.invoiceId, amountDue: e.amountDue, currency: e.currency },
  }),
  'billing.invoice_paid': (e) => ({
    action: 'billing.invoice_pay',
    resourceType: 'tenant',
    resourceId: e.tenantId,
    after: { invoiceId: e.invoiceId, amountPaid: e.amountPaid, currency: e.currency },
  }),
  'privacy.accessed': (e) => ({ action: 'privacy.access', resourceType: 'data_subject', after: { subjectRef: e.subjectRef, auditEntries: e.auditEntries } }),
  'privacy.erased': (e) => ({ action: 'privacy.erase', resourceType: 'data_subject', after: { ...e.result } }),
  'support_ticket.created': (e) => ({
    action: 'support_ticket.create',
    resourceType: 'support_ticket',
    resourceId: e.id,
    after: { number: e.number, priority: e.priority, slaDueAt: e.slaDueAt },
  }),
  'support_ticket.replied': (e) => ({
    action: 'support_ticket.reply',
    resourceType: 'support_ticket',
    resourceId: e.id,
    after: { messageId: e.messageId, by: e.by, status: e.status },
  }),
  'support_ticket.updated': (e) => ({ action: 'support_ticket.update', resourceType: 'support_ticket', resourceId: e.id, before: e.before, after: e.after }),
  'parts_order.placed': (e) => ({ action: 'parts_order.create', resourceType: 'parts_order', resourceId: e.id, after: e.order }),
  'parts_order.status_changed': (e) => ({
    action: 'parts_order.status_change',
    resourceType: 'parts_order',
    resourceId: e.id,
    before: { status: e.from },
    after: { status: e.to },
  }),
  'parts_inventory.synced': (e) => ({ action: 'parts_inventory.sync', resourceType: 'parts_inventory', after: { supplier: e.supplier, parts: e.parts } }),
};

/** The entry of one event; the lookup by its own type is sound, which TypeScript cannot see through the union. */
const entryOf = (event: DomainEvent): AuditEntry | null => (ENTRY_OF[event.type] as (event: DomainEvent) => AuditEntry | null)(event);

/** Every event becomes its audit entry, written in the unit of work's transaction, so it commits with the change. */
export const auditTrail = defineSubscriber({
  name: 'audit trail',
  types: Object.keys(ENTRY_OF) as Array<keyof DomainEventMap>,
  async handle(events, { actor }) {
    await writeAuditNow(
      actor,
      events.flatMap((event) => entryOf(event) ?? []),
    );
  },
});
