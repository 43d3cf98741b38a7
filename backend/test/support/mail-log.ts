import { Knex } from 'knex';
import { decryptCredential, rowContext } from '../../src/modules/credentials/credential-crypto';
import { EmailMessage } from '../../src/modules/notifications/email-templates';
import { TestJobRunner } from './jobs';
import { testConfig } from './test-app';

export interface LoggedMail {
  id: string;
  template: string;
  recipient: string;
  status: string;
  attempts: number;
  message: EmailMessage;
}

/** A tenant's e-mails as the JSON transport keeps them (the notification log), newest last, decrypted. */
export async function mailsOf(owner: Knex, tenantId: string, template?: string): Promise<LoggedMail[]> {
  const query = owner('notifications').where({ tenant_id: tenantId }).orderBy('created_at');
  if (template) query.where({ template });
  const rows = await query.select('id', 'template', 'recipient', 'status', 'attempts', 'message_encrypted');
  const keys = testConfig().credentialKeys;
  return rows.map((row) => ({
    id: row.id,
    template: row.template,
    recipient: row.recipient,
    status: row.status,
    attempts: row.attempts,
    message: JSON.parse(decryptCredential(keys, row.message_encrypted, rowContext('notifications', tenantId, row.id))) as EmailMessage,
  }));
}

/**
 * Runs the tenant's jobs until `settled` holds. Another file's runner may take a job and fail it (its
 * app closing under it, say); the engine then retries it seconds later, so its jobs are made due again.
 */
export async function runJobsUntil(jobs: TestJobRunner, tenantId: string, settled: () => Promise<boolean>): Promise<void> {
  for (let round = 0; round < 20; round += 1) {
    await jobs.runUntilIdle(tenantId);
    if (await settled()) return;
    await jobs.owner.raw(
      `update graphile_worker._private_jobs set run_at = now() where payload->>'tenantId' = ? and attempts < max_attempts and locked_at is null`,
      [tenantId],
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('The jobs never settled');
}

/** Runs the tenant's jobs until none of its e-mails is pending. */
export const sendPendingMails = (jobs: TestJobRunner, tenantId: string): Promise<void> =>
  runJobsUntil(jobs, tenantId, async () => (await mailsOf(jobs.owner, tenantId)).every((mail) => mail.status !== 'pending'));
