import type { AppConfig } from '../../config/app-config';
import type { AuditActor } from '../audit/audit-context';
import type { DomainEventType, EventOf } from './domain-events';

/** What a subscriber may use besides the events: whose data, who caused them, and the configuration. */
export interface PublishContext {
  tenantId: string;
  actor: AuditActor;
  config: AppConfig;
}

/**
 * A reaction to domain events. It names the types it takes and gets all of them of one unit of work at
 * once, in the order recorded, so it can batch its queries; naming a type that does not exist, or
 * handling one by a name it no longer has, does not compile.
 */
export interface EventSubscriber<T extends DomainEventType = DomainEventType> {
  name: string;
  types: readonly T[];
  handle(events: Array<EventOf<T>>, context: PublishContext): Promise<void>;
}

export const defineSubscriber = <const T extends DomainEventType>(subscriber: EventSubscriber<T>): EventSubscriber<T> => subscriber;
