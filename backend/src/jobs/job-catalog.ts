import { auditRetentionJob } from '../modules/audit/audit-retention.job';
import { sessionCleanupJob } from '../modules/auth/session-cleanup.job';
import { idempotencyPurgeJob } from '../modules/idempotency/idempotency-purge.job';
import { webhookDeliverJob } from '../modules/webhooks/webhook-deliver.job';
import { webhookSweepJob } from '../modules/webhooks/webhook-sweep.job';
import { notificationSendJob } from '../modules/notifications/notification-send.job';
import { organizationNoticeJob } from '../modules/notifications/organization-notices.job';
import { JobDefinition } from './job-definition';

/** Every job the engine runs, wherever it runs. */
export const JOBS: readonly JobDefinition<never>[] = [
  idempotencyPurgeJob,
  sessionCleanupJob,
  auditRetentionJob,
  webhookDeliverJob,
  webhookSweepJob,
  notificationSendJob,
  organizationNoticeJob,
] as readonly JobDefinition<never>[];
