import type { CrmResource, RecordData } from '../crm/resource-definition';

/** What every change of a CRM record carries: which resource, which record, and whom it is about. */
interface RecordFact {
  resource: CrmResource;
  id: string;
  /** The email of the person the record is about: the audit trail encrypts their values under their key. */
  subject: string | null;
}

/** An export's query and, once the stream has ended, how many rows it sent. */
export interface ExportDetails {
  format: 'csv';
  sort: unknown;
  q: string | null;
  includeDeleted: boolean;
  filters: Record<string, unknown>;
  /** Counted as the rows stream; the event is published when the export's transaction ends, after the last row. */
  rows: number;
}

type Fields = Record<string, unknown>;

/** A tenant's plan and billing status (tenants.plan, tenants.billing_status). */
export interface BillingStanding {
  plan: string;
  status: string;
}

/**
 * Every domain event, by type, with what it carries. Services say what happened (`recordEvent`); the
 * subscribers of the registry (event-registry.ts) turn events into audit entries, webhook events, Slack
 * messages and e-mails. A type renamed or removed here is a compile error in each subscriber of it.
 */
export interface DomainEventMap {
  /** A CRM record was created; `record` holds its fields as stored. */
  'record.created': RecordFact & { record: RecordData };
  /** Only the fields that changed, before and after. */
  'record.updated': RecordFact & { before: RecordData; after: RecordData };
  /** Soft-deleted, or erased for good when `permanently`. */
  'record.deleted': RecordFact & { before: RecordData; permanently: boolean };
  /**
   * Duplicates were merged into the record `id` (each also has its `record.deleted`); `before`/`after` are the
   * survivor's fields the merge changed, `moved` how many linked rows moved to it, by table.
   */
  'record.merged': RecordFact & { mergeId: string; duplicateIds: string[]; before: RecordData; after: RecordData; moved: Record<string, number> };
  /** A merge was undone: the duplicates restored (each also has its `record.updated`), `restoredLinks` rows pointed back. */
  'merge.undone': { resource: CrmResource; mergeId: string; survivorId: string; duplicateIds: string[]; restoredLinks: number };
  'lead.converted': { id: string; subject: string | null; fromStatus: unknown; accountId: string; contactId: string; dealId: string | null };
  /** A deal moved from one stage to another (recorded besides its `record.updated`); `kind` is the new stage's. */
  'deal.stage_changed': { id: string; from: string | null; to: string; kind: 'open' | 'won' | 'lost' };
  'records.imported': {
    resource: CrmResource;
    importId: string;
    mode: string;
    upsertBy: string | null;
    created: number;
    updated: number;
    failed: number;
  };
  'import.undone': { resource: CrmResource; importId: string; deleted: number; restored: number };
  'records.exported': { resource: CrmResource; details: ExportDetails };

  'user.created': { id: string; email: string; profile: Fields };
  /** `before` and `after` hold the same fields; a different `roleId` is a role change. */
  'user.updated': { id: string; email: string; before: Fields; after: Fields };
  'user.deleted': { id: string; email: string; roleId: string };
  'role.created': { id: string; name: string; permissions: string[] };
  'role.updated': { id: string; before: { name: string; permissions: string[] }; after: { name: string; permissions: string[] } };
  'role.deleted': { id: string; name: string; permissions: string[] };
  'api_key.created': { id: string; name: string; prefix: string; roleId: string; permissions: string[] | null; expiresAt: Date | string | null };
  'api_key.revoked': { id: string; name: string; prefix: string };
  'auth.logged_out': { sessionId: string };
  'auth.password_changed': { userId: string; sessionsRevoked: number };
  'auth.mfa_changed': { userId: string; enabled: boolean; sessionsRevoked: number };

  'webhook.created': { id: string; url: string; events: string[]; active: boolean };
  'webhook.updated': { id: string; before: Fields; after: Fields };
  'webhook.deleted': { id: string; url: string; events: string[] };
  'webhook.replayed': { id: string; deliveries: number };
  'webhook.secret_rotated': { id: string; overlapSeconds: number };
  'webhook_delivery.retried': { id: string };
  'integration.created': { id: string; integrationType: string; name: string; active: boolean; config: Fields };
  /** Secrets in `config` are already masked. */
  'integration.updated': { id: string; before: Fields; after: Fields };
  'integration.deleted': { id: string; integrationType: string; name: string };

  'custom_field.created': { id: string; field: Fields };
  'custom_field.updated': { id: string; before: Fields; after: Fields };
  /** With how many records held a value of it (all removed). */
  'custom_field.deleted': { id: string; field: Fields; recordsChanged: number };
  'pipeline.created': { id: string; pipeline: Fields };
  'pipeline.updated': { id: string; before: Fields; after: Fields; dealsMoved: number };
  'pipeline.deleted': { id: string; pipeline: Fields };
  'view.created': { id: string; view: Fields };
  'view.updated': { id: string; before: Fields; after: Fields };
  'view.deleted': { id: string; view: Fields };
  'report.created': { id: string; report: Fields };
  'report.updated': { id: string; before: Fields; after: Fields };
  'report.deleted': { id: string; report: Fields };
  /** A scheduled report ran (by `system`): mailed, or failed; who received it is in its report_runs row. */
  'report.scheduled_run': { id: string; runId: string; scheduledFor: string; status: 'sent' | 'failed'; mailed: number; skipped: number };

  'organization.settings_updated': { tenantId: string; before: Fields; after: Fields };
  'organization.deletion_requested': { tenantId: string; purgeAt: string | null };
  'organization.deletion_cancelled': { tenantId: string; purgeAt: string };
  'organization.export_requested': { exportId: string; format: string };
  'organization.export_downloaded': { exportId: string; format: string };
  /** Plan or billing status moved (a trial started or expired, a subscription began, lapsed, came back or ended). */
  'billing.status_changed': { tenantId: string; before: BillingStanding; after: BillingStanding; cause: string };
  'billing.trial_ending': { tenantId: string; endsAt: string };
  'billing.payment_failed': { tenantId: string; invoiceId: string; amountDue: number; currency: string };
  'billing.invoice_paid': { tenantId: string; invoiceId: string; amountPaid: number; currency: string; hostedInvoiceUrl: string | null };
  'privacy.accessed': { subjectRef: string; auditEntries: number };
  'privacy.erased': { result: Fields };

  /** The support desk: a tenant asks the platform for help; staff answer (internal notes are never events of the tenant). */
  'support_ticket.created': { id: string; number: string; priority: string; slaDueAt: string };
  'support_ticket.replied': { id: string; messageId: string; by: 'user' | 'staff'; status: string };
  'support_ticket.updated': { id: string; before: Fields; after: Fields };

  /** Parts ordering: `order` is the order as GET /parts/orders/:id shows it, after the change. */
  'parts_order.placed': { id: string; order: Fields };
  'parts_order.status_changed': { id: string; from: string; to: string; order: Fields };
  'parts_inventory.synced': { supplier: string; parts: number };
}

export type DomainEventType = keyof DomainEventMap;

/** One event: its `type` and what that type carries. */
export type EventOf<T extends DomainEventType> = { [K in T]: { type: K } & DomainEventMap[K] }[T];

export type DomainEvent = EventOf<DomainEventType>;
