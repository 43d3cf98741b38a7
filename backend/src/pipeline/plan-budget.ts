import { Request, RequestHandler } from 'express';
import { tenantScope, withTenant } from '../infra/tenant-scope';
import { enqueueJob } from '../jobs/enqueue';
import { pastWarning } from '../middleware/rate-limits';
import { TenantPrincipal } from '../modules/auth/principal';
import { ORGANIZATION_NOTICE_TASK } from '../modules/notifications/organization-notices.job';
import { RequestFrame } from './request-frame';

type Charged = Request & { rateLimit?: { limit: number; used: number; resetTime?: Date } };

/**
 * Stage 10: the caller's hourly request budget under its plan (429 RATE_LIMITED past it), counted per
 * user or API key. The limiter is express-rate-limit's, run inline: it keys on the principal in res.locals.
 * The one request that takes the count past 80% of the budget (counts are shared, so one per window
 * across instances) tells the tenant's admins by e-mail.
 */
export async function chargePlanBudget(limiter: RequestHandler, frame: RequestFrame, principal: TenantPrincipal): Promise<void> {
  frame.res.locals.principal = principal;
  await new Promise<void>((resolve, reject) => {
    void limiter(frame.req, frame.res, (error?: unknown) => (error ? reject(error) : resolve()));
  });
  const usage = (frame.req as Charged).rateLimit;
  if (usage && pastWarning(usage.used, usage.limit) && !pastWarning(usage.used - 1, usage.limit)) await warnAdmins(principal, usage);
}

/** In a transaction of its own, so the warning stands whatever becomes of the request that crossed the line. */
async function warnAdmins(principal: TenantPrincipal, usage: { limit: number; resetTime?: Date }): Promise<void> {
  await withTenant(tenantScope().knex, principal.tenantId, () =>
    enqueueJob(ORGANIZATION_NOTICE_TASK, {
      notice: 'rate_limit_warning',
      caller: principal.kind,
      limit: usage.limit,
      resetAt: (usage.resetTime ?? new Date(Date.now() + 3_600_000)).toISOString(),
    }),
  );
}
