import { AsyncLocalStorage } from 'node:async_hooks';

/** Who acts, from where: stamped on every entry of one request. */
export interface AuditActor {
  actorType: 'user' | 'api_key' | 'platform_admin' | 'system';
  actorId: string | null;
  impersonatorId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

/** One audited fact. `before`/`after` hold the changed fields; values about a person are encrypted at rest. */
export interface AuditEvent {
  action: string;
  resourceType?: string;
  resourceId?: string;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  /** The email of the person the record is about, whose key encrypts its personal data (crypto-shredding). */
  subject?: string | null;
  result?: 'success' | 'failure';
  errorCode?: string | null;
}

interface AuditContext {
  actor: AuditActor;
  pending: AuditEvent[];
}

const storage = new AsyncLocalStorage<AuditContext>();

export const runWithAuditContext = <T>(actor: AuditActor, fn: () => Promise<T>): Promise<T> =>
  storage.run({ actor, pending: [] }, fn);

export function currentAuditContext(): AuditContext {
  const context = storage.getStore();
  if (!context) throw new Error('Audit recorded outside an audit context (runWithAuditContext)');
  return context;
}

/**
 * Queues an entry; the request's transaction writes the queue just before it commits, so entries
 * commit with the change they describe and the per-tenant chain lock is held only at the very end.
 */
export function recordAudit(event: AuditEvent): void {
  currentAuditContext().pending.push(event);
}

/** The entries queued so far, left in the queue (the webhook outbox reads them just before the audit writer). */
export const queuedAudit = (): readonly AuditEvent[] => [...currentAuditContext().pending];

/** Takes the queued entries (the writer calls this inside the tenant transaction). */
export function drainAudit(): { actor: AuditActor; events: AuditEvent[] } {
  const context = currentAuditContext();
  return { actor: context.actor, events: context.pending.splice(0) };
}
