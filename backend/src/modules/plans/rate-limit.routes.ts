import { defineRoute, ok, principalOf, RouteDefinition } from '../../http/route';
import { pastWarning, principalKey, RateLimiters } from '../../middleware/rate-limits';

/** GET /rate-limit: the caller's hourly budget under their plan, what is left of it, and `warning` past 80% of it. */
export function rateLimitRoutes(limiters: RateLimiters): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/rate-limit',
      permission: 'authenticated',
      summary: "The caller's request budget (by plan) and what remains in the current window",
      tags: ['Rate limits'],
      handler: async (input) => {
        const principal = principalOf(input, 'user', 'api_key');
        const usage = await limiters.principal.getKey(principalKey(principal));
        const limit = principal.plan.requestsPerHour;
        const used = usage?.totalHits ?? 0;
        return ok({
          plan: principal.plan.code,
          limit,
          remaining: Math.max(limit - used, 0),
          windowSeconds: 3600,
          resetAt: usage?.resetTime ?? null,
          warning: pastWarning(used, limit),
        });
      },
    }),
  ];
}
