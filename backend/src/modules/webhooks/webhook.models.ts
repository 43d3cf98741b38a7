import { TenantModel } from '../../infra/tenant-model';

export class WebhookSubscription extends TenantModel {
  static override tableName = 'webhookSubscriptions';

  url!: string;
  events!: string[];
  description!: string | null;
  active!: boolean;
  /** A credential envelope: never presented, never logged. */
  secretEncrypted!: string;
  /** The secret a rotation replaced, still signing until previousSecretExpiresAt (an envelope, like secretEncrypted). */
  previousSecretEncrypted!: string | null;
  previousSecretExpiresAt!: Date | null;
  disabledReason!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
}

export class WebhookDelivery extends TenantModel {
  static override tableName = 'webhookDeliveries';

  eventId!: string;
  subscriptionId!: string | null;
  integrationId!: string | null;
  status!: 'pending' | 'succeeded' | 'failed';
  attempts!: number;
  nextAttemptAt!: Date | null;
  lastAttemptAt!: Date | null;
  responseStatus!: number | null;
  durationMs!: number | null;
  lastError!: string | null;
  createdAt!: Date;
  /** Joined from the event. */
  eventType?: string;
}
