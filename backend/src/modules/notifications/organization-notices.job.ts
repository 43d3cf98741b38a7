import Joi from 'joi';
import { withTenant } from '../../infra/tenant-scope';
import { defineJob, tenantPayload } from '../../jobs/job-definition';
import { queueEmail, tenantAdmins } from './notifications.service';

/**
 * E-mails about the organization itself, to its active tenant admins. `tenant_suspended` is enqueued by
 * the platform admin's suspension, in its transaction; `rate_limit_warning` by the request that takes a
 * caller past 80% of its hourly budget (pipeline/plan-budget.ts). `trial_expiring` and `payment_failed`
 * can be sent by hand this way (billing's own e-mails follow its domain events: billing-notices.ts).
 */
export const ORGANIZATION_NOTICE_TASK = 'notifications.organization';

const onlyFor = (notice: string) => ({ is: notice, then: Joi.required(), otherwise: Joi.forbidden() });

export const organizationNoticeJob = defineJob({
  name: ORGANIZATION_NOTICE_TASK,
  payload: tenantPayload({
    notice: Joi.string().valid('tenant_suspended', 'trial_expiring', 'payment_failed', 'rate_limit_warning').required(),
    endsAt: Joi.string().isoDate().when('notice', onlyFor('trial_expiring')),
    reason: Joi.string().max(500).allow(null),
    caller: Joi.string().valid('user', 'api_key').when('notice', onlyFor('rate_limit_warning')),
    limit: Joi.number().integer().min(1).when('notice', onlyFor('rate_limit_warning')),
    resetAt: Joi.string().isoDate().when('notice', onlyFor('rate_limit_warning')),
  }),
  async run({ tenantId, notice, endsAt, reason, caller, limit, resetAt }, deps, job) {
    const sent = await withTenant(deps.knex, tenantId, async (trx) => {
      const admins = await tenantAdmins();
      const tenant = await trx('tenants').where({ id: tenantId }).first<{ name: string; suspendedReason: string | null }>('name', 'suspendedReason');
      for (const admin of admins) {
        const to = { email: admin.email, userId: admin.id };
        const organization = tenant!.name;
        if (notice === 'tenant_suspended') await queueEmail(deps.config, 'tenant_suspended', to, { organization, reason: reason ?? tenant!.suspendedReason });
        else if (notice === 'trial_expiring') await queueEmail(deps.config, 'trial_expiring', to, { organization, endsAt: endsAt! });
        else if (notice === 'rate_limit_warning') await queueEmail(deps.config, 'rate_limit_warning', to, { organization, caller: caller!, limit: limit!, resetAt: resetAt! });
        else await queueEmail(deps.config, 'payment_failed', to, { organization, reason: reason ?? null });
      }
      return admins.length;
    });
    job.logger.info('organization notice queued', { notice, recipients: sent });
  },
});
