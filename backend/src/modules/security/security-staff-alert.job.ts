import Joi from 'joi';
import { defineJob, tenantPayload } from '../../jobs/job-definition';
import { EMAIL_TEMPLATES } from '../notifications/email-templates';
import { sendEmail } from '../notifications/mailer';
import { effectiveSettings } from '../runtime-settings/runtime-settings';
import { STAFF_ROLE_PERMISSIONS, STAFF_ROLES } from '../admin/staff-roles';

export const STAFF_ALERT_TASK = 'security.staff_alert';

/** Staff who read audit logs (and so GET /admin/security/events) are the ones told. */
const ALERTED_ROLES = STAFF_ROLES.filter((role) => STAFF_ROLE_PERMISSIONS[role].includes('audit:read'));

/** Slack's mrkdwn control characters, escaped so a summary cannot forge a link or a mention. */
const escapeMrkdwn = (value: string): string => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const WEBHOOK_TIMEOUT_MS = 5_000;

interface StoredEvent {
  id: string;
  tenantId: string;
  type: string;
  severity: string;
  summary: string;
  dedupKey: string;
  createdAt: Date;
}

/**
 * Tells staff about one security event that reached SECURITY_STAFF_ALERT_SEVERITY: an e-mail to each
 * active staff member whose role reads audit logs, and a Slack incoming-webhook message when
 * securityAlertWebhookUrl (runtime setting, else SECURITY_ALERT_WEBHOOK_URL) is set. Queued in the
 * transaction that stored the event, so only a committed event is alerted. One alert per pattern (type and
 * subject, across tenants) per SECURITY_ALERT_DEDUP_SECONDS: the pattern's row in security_staff_alerts is
 * claimed in the same transaction as the sending, so a failed send rolls the claim back and the retry
 * sends again.
 */
export const securityStaffAlertJob = defineJob({
  name: STAFF_ALERT_TASK,
  payload: tenantPayload({ securityEventId: Joi.string().uuid().required() }),
  maxAttempts: 5,
  async run({ tenantId, securityEventId }, deps, job) {
    const { platformKnex: knex, config } = deps;
    const event = (await knex('securityEvents')
      .where({ tenantId, id: securityEventId })
      .first('id', 'tenantId', 'type', 'severity', 'summary', 'dedupKey', 'createdAt')) as StoredEvent | undefined;
    if (!event) return;
    const { securityAlertWebhookUrl: webhookUrl } = await effectiveSettings(knex, config);
    await knex.transaction(async (trx) => {
      const claimed = (await trx.raw(
        `insert into security_staff_alerts as a (scope, dedup_key, source_tenant_id, security_event_id) values (?, ?, ?, ?)
         on conflict (scope, dedup_key) do update set alerted_at = now(), source_tenant_id = excluded.source_tenant_id,
           security_event_id = excluded.security_event_id, staff_mailed = 0, webhook_status = null
         where a.alerted_at <= now() - make_interval(secs => ?)
         returning dedup_key`,
        [config.redisKeyPrefix, event.dedupKey, event.tenantId, event.id, config.security.alertDedupSeconds],
      )) as { rows: unknown[] };
      if (claimed.rows.length === 0) {
        job.logger.info('security alert already sent to staff within the window', { type: event.type, securityEventId: event.id });
        return;
      }
      const staff = (await trx('platformAdmins').where('status', 'active').whereIn('role', ALERTED_ROLES).pluck('email')) as string[];
      const message = EMAIL_TEMPLATES.security_staff_alert({
        tenantId: event.tenantId,
        type: event.type,
        severity: event.severity,
        summary: event.summary,
        at: event.createdAt.toISOString(),
        eventId: event.id,
      });
      for (const email of staff) await sendEmail(config, email, message);
      let webhookStatus: string | null = null;
      if (webhookUrl) {
        const text = `:rotating_light: Security alert (${event.severity}) *${event.type}* in tenant ${event.tenantId}: ${escapeMrkdwn(event.summary)}`;
        const answer = await fetch(webhookUrl, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ text }),
          signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        });
        if (answer.status >= 500 || answer.status === 429) throw new Error(`the security alert webhook answered ${answer.status}`);
        webhookStatus = String(answer.status);
      }
      await trx('securityStaffAlerts').where({ scope: config.redisKeyPrefix, dedupKey: event.dedupKey }).update({ staffMailed: staff.length, webhookStatus });
    });
  },
});
