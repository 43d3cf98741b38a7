import Joi from 'joi';
import { AppConfig } from '../../config/app-config';
import { withTenant } from '../../infra/tenant-scope';
import { defineJob, tenantPayload } from '../../jobs/job-definition';
import { decryptCredential, rowContext } from '../credentials/credential-crypto';
import { EmailMessage } from './email-templates';
import { sendEmail } from './mailer';
import { SEND_JOB } from './notifications.service';

const ERROR_MAX = 500;

/** Once an SMTP server has answered for it, the stored copy (and any token in it) goes; the JSON transport's log stays. */
const forgetMessage = (config: AppConfig) => (config.email.transport === 'smtp' ? { messageEncrypted: null } : {});

/**
 * Sends one queued e-mail. A transport error is retried by the engine (exponential backoff, 6
 * attempts), then the notification is `failed`; recipients the server refuses make it `bounced`.
 * Only a pending notification is sent, so a retry after a send that could not record itself is the
 * one case that can send twice.
 */
export const notificationSendJob = defineJob({
  name: SEND_JOB,
  payload: tenantPayload({ notificationId: Joi.string().uuid().required() }),
  maxAttempts: 6,
  async run({ tenantId, notificationId }, deps, job) {
    const pending = await withTenant(deps.knex, tenantId, (trx) =>
      trx('notifications').where({ id: notificationId, status: 'pending' }).first<{ recipient: string; messageEncrypted: string } | undefined>('recipient', 'messageEncrypted'),
    );
    if (!pending) return;
    const message = JSON.parse(decryptCredential(deps.config.credentialKeys, pending.messageEncrypted, rowContext('notifications', tenantId, notificationId))) as EmailMessage;
    const record = (changes: Record<string, unknown>) =>
      withTenant(deps.knex, tenantId, (trx) => trx('notifications').where({ id: notificationId }).update({ ...changes, attempts: trx.raw('attempts + 1') }));
    let result;
    try {
      result = await sendEmail(deps.config, pending.recipient, message);
    } catch (error) {
      // A 5xx on the envelope (RCPT TO refused) is the server saying the address does not take mail: a bounce.
      const { code, responseCode } = error as { code?: string; responseCode?: number };
      if (code === 'EENVELOPE' && responseCode !== undefined && responseCode >= 500) {
        await record({ status: 'bounced', lastError: `The mail server refused the recipient (${responseCode})`, ...forgetMessage(deps.config) });
        job.logger.info('e-mail handled', { notificationId, outcome: 'bounced' });
        return;
      }
      const final = job.attempt >= job.maxAttempts;
      await record({ status: final ? 'failed' : 'pending', lastError: String((error as Error).message).slice(0, ERROR_MAX) });
      throw error;
    }
    const bounced = result.rejected.length > 0;
    await record({
      status: bounced ? 'bounced' : 'sent',
      sentAt: bounced ? null : new Date(),
      messageId: result.messageId,
      lastError: bounced ? 'The mail server refused the recipient' : null,
      ...forgetMessage(deps.config),
    });
    job.logger.info('e-mail handled', { notificationId, outcome: bounced ? 'bounced' : 'sent' });
  },
});
