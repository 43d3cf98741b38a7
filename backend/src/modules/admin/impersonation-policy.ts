import { AppError } from '../../lib/errors';
import { RouteDefinition } from '../../lib/http/route';

const WRITES = new Set(['post', 'put', 'patch', 'delete']);

/**
 * What a support session (an impersonation token) may not do, whatever the impersonated user's role:
 * change a password or MFA, manage API keys, users, roles or the organization (its settings, including the
 * impersonation opt-out, its export or deletion). Anything that would outlive the session or widen
 * anyone's access stays with the tenant's own people. A session also cannot be refreshed (it has no
 * refresh token) and cannot reach the admin console (tenant tokens never can).
 */
const REFUSED_WRITE_PREFIXES = ['/auth/password', '/auth/mfa', '/api-keys', '/users', '/roles', '/organization'];

export function isRefusedDuringImpersonation(route: Pick<RouteDefinition, 'method' | 'path'>): boolean {
  return WRITES.has(route.method) && REFUSED_WRITE_PREFIXES.some((prefix) => route.path === prefix || route.path.startsWith(`${prefix}/`));
}

export function refuseDuringImpersonation(route: Pick<RouteDefinition, 'method' | 'path'>): void {
  if (isRefusedDuringImpersonation(route)) {
    throw new AppError('FORBIDDEN', 'This action is not available in an impersonation (support) session');
  }
}
