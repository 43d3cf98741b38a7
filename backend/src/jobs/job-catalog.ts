import { auditRetentionJob } from '../modules/audit/audit-retention.job';
import { sessionCleanupJob } from '../modules/auth/session-cleanup.job';
import { idempotencyPurgeJob } from '../modules/idempotency/idempotency-purge.job';
import { JobDefinition } from './job-definition';

/** Every job the engine runs, wherever it runs. */
export const JOBS: readonly JobDefinition<never>[] = [idempotencyPurgeJob, sessionCleanupJob, auditRetentionJob] as readonly JobDefinition<never>[];
