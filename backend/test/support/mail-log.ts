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

/** Runs the due jobs, then expects `settled` to hold: the tenant's e-mails are what those jobs made of them. */
export async function runJobsUntil(jobs: TestJobRunner, tenantId: string, settled: () => Promise<boolean>): Promise<void> {
  await jobs.runUntilIdle(tenantId);
  if (!(await settled())) throw new Error('The jobs ran, but the e-mails are not what was expected');
}

/** Runs the tenant's jobs until none of its e-mails is pending. */
export const sendPendingMails = (jobs: TestJobRunner, tenantId: string): Promise<void> =>
  runJobsUntil(jobs, tenantId, async () => (await mailsOf(jobs.owner, tenantId)).every((mail) => mail.status !== 'pending'));
