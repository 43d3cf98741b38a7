import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditActor } from '../audit/audit-context';
import type { DomainEvent } from './domain-events';

/** The events of one unit of work, whose tenant they concern and who caused them. */
export interface EventContext {
  tenantId: string;
  actor: AuditActor;
  /** Recorded and not yet published. */
  recorded: DomainEvent[];
  /** Published in the transaction, for the subscribers that act once it has committed. */
  published: DomainEvent[];
}

const storage = new AsyncLocalStorage<EventContext>();

/** Opens the context the request's services record their events in (the pipeline does, per tenant request). */
export const runWithEvents = <T>(origin: { tenantId: string; actor: AuditActor }, fn: () => Promise<T>): Promise<T> =>
  storage.run({ ...origin, recorded: [], published: [] }, fn);

export function currentEventContext(): EventContext {
  const context = storage.getStore();
  if (!context) throw new Error('A domain event was recorded outside a unit of work (runWithEvents)');
  return context;
}

/**
 * The one way a service says what happened. Nothing runs now: the registry's subscribers take the
 * events just before the unit of work commits, so whatever they write commits with the change.
 */
export function recordEvent(event: DomainEvent): void {
  currentEventContext().recorded.push(event);
}
