import { revealChanges } from './audit-crypto';
import { AuditLogRow } from './audit-entries.repository';

/** What readers see of an entry: personal data decrypted while its subject's key exists. */
export const presentAuditEntry = (row: AuditLogRow, tenantId: string) => ({
  id: row.id,
  seq: row.seq,
  occurredAt: row.occurredAt.toISOString(),
  actor: { type: row.actorType, id: row.actorId, impersonatorId: row.impersonatorId },
  action: row.action,
  resourceType: row.resourceType,
  resourceId: row.resourceId,
  changes: revealChanges(row.changes, row.subjectKeys, tenantId),
  ip: row.ip,
  userAgent: row.userAgent,
  requestId: row.requestId,
  result: row.result,
  errorCode: row.errorCode,
  hash: row.hash,
});

export type PresentedAuditEntry = ReturnType<typeof presentAuditEntry>;
