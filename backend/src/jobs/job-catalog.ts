import { auditRetentionJob } from '../modules/audit/audit-retention.job';
import { auditSealJob } from '../modules/audit/audit-seal.job';
import { changeFeedRetentionJob } from '../modules/change-feed/change-feed-retention.job';
import { trialSweepJob } from '../modules/billing/trial-sweep.job';
import { sessionCleanupJob } from '../modules/auth/session-cleanup.job';
import { dataExportExpiryJob } from '../modules/compliance/data-export-expiry.job';
import { organizationExportJob } from '../modules/compliance/organization-export.job';
import { organizationPurgeJob } from '../modules/compliance/organization-purge.job';
import { idempotencyPurgeJob } from '../modules/idempotency/idempotency-purge.job';
import { usageRollupJob } from '../modules/usage/usage-rollup.job';
import { webhookDeliverJob } from '../modules/webhooks/webhook-deliver.job';
import { webhookSweepJob } from '../modules/webhooks/webhook-sweep.job';
import { notificationSendJob } from '../modules/notifications/notification-send.job';
import { organizationNoticeJob } from '../modules/notifications/organization-notices.job';
import { partsInventoryScheduleJob, partsInventorySyncJob, partsOrderPollJob } from '../modules/parts/parts.jobs';
import { securityStaffAlertJob } from '../modules/security/security-staff-alert.job';
import { scheduledReportsJob } from '../modules/reports/scheduled-reports.job';
import { leadRollupCompactionJob } from '../modules/reports/lead-rollup-compaction.job';
import { JobDefinition } from './job-definition';

/** Every job the engine runs, wherever it runs. */
export const JOBS: readonly JobDefinition<never>[] = [
  idempotencyPurgeJob,
  sessionCleanupJob,
  auditRetentionJob,
  auditSealJob,
  organizationExportJob,
  dataExportExpiryJob,
  organizationPurgeJob,
  usageRollupJob,
  webhookDeliverJob,
  webhookSweepJob,
  changeFeedRetentionJob,
  notificationSendJob,
  organizationNoticeJob,
  trialSweepJob,
  partsOrderPollJob,
  partsInventorySyncJob,
  partsInventoryScheduleJob,
  securityStaffAlertJob,
  scheduledReportsJob,
  leadRollupCompactionJob,
] as readonly JobDefinition<never>[];
