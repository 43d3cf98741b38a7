import Joi from 'joi';
import { withTenant } from '../../infra/tenant-scope';
import { defineJob, tenantPayload } from '../../jobs/job-definition';
import { queueEmail, tenantAdmins } from './notifications.service';

/**
 * E-mails about the organization itself, to its active tenant admins. `tenant_suspended` is enqueued by
 * the platform admin's suspension, in its transaction; `trial_expiring` and `payment_failed` are for the
 * billing integration to enqueue (tenants have no trial or payment data of their own yet).
 */
export const organizationNoticeJob = defineJob({
  name: 'notifications.organization',
  payload: tenantPayload({
    notice: Joi.string().valid('tenant_suspended', 'trial_expiring', 'payment_failed').required(),
    endsAt: Joi.string().isoDate().when('notice', { is: 'trial_expiring', then: Joi.required(), otherwise: Joi.forbidden() }),
    reason: Joi.string().max(500).allow(null),
  }),
  async run({ tenantId, notice, endsAt, reason }, deps, job) {
    const sent = await withTenant(deps.knex, tenantId, async (trx) => {
      const admins = await tenantAdmins();
      const tenant = await trx('tenants').where({ id: tenantId }).first<{ name: string; suspendedReason: string | null }>('name', 'suspendedReason');
      for (const admin of admins) {
        const to = { email: admin.email, userId: admin.id };
        if (notice === 'tenant_suspended') await queueEmail(deps.config, 'tenant_suspended', to, { organization: tenant!.name, reason: reason ?? tenant!.suspendedReason });
        else if (notice === 'trial_expiring') await queueEmail(deps.config, 'trial_expiring', to, { organization: tenant!.name, endsAt: endsAt! });
        else await queueEmail(deps.config, 'payment_failed', to, { organization: tenant!.name, reason: reason ?? null });
      }
      return admins.length;
    });
    job.logger.info('organization notice queued', { notice, recipients: sent });
  },
});
