import { AppError } from '../../lib/errors';
import { RouteDefinition } from '../../http/route';

const READS = new Set(['get']);

const under = (path: string, prefix: string): boolean => path === prefix || path.startsWith(`${prefix}/`);

/**
 * A support session (an impersonation token) works on an allow-list, whatever the impersonated user's
 * role: it may read, and write CRM records (the work support is asked to help with), and end itself.
 * Nothing that outlives the session or widens anyone's access is on the list: no password, MFA, API
 * keys, users, roles, organization settings, export or deletion, webhooks, integrations, privacy
 * requests, custom fields, pipelines. A new route is refused until it is added here on purpose.
 */
// The CRM resources (crm/crm-resources.ts) by name, spelled out so that this policy imports no module
// that builds routes; impersonation.test.ts checks the list against the declared resources.
export const CRM_RECORD_PREFIXES = ['/leads', '/contacts', '/accounts', '/deals', '/tasks', '/activities', '/tickets'];
const WRITABLE_PREFIXES = [...CRM_RECORD_PREFIXES, '/imports'];
const WRITABLE_PATHS = new Set(['/auth/logout']);

/**
 * Reads that are refused as well: they show secrets or carry data out (a webhook's or integration's
 * configuration, delivery payloads, a data subject's whole record, the organization export).
 */
const UNREADABLE_PREFIXES = ['/webhooks', '/webhook-deliveries', '/integrations', '/privacy', '/api-keys', '/users', '/organization/export-data', '/sessions'];

export function isRefusedDuringImpersonation(route: Pick<RouteDefinition, 'method' | 'path'>): boolean {
  if (READS.has(route.method)) return UNREADABLE_PREFIXES.some((prefix) => under(route.path, prefix));
  return !WRITABLE_PATHS.has(route.path) && !WRITABLE_PREFIXES.some((prefix) => under(route.path, prefix));
}

export function refuseDuringImpersonation(route: Pick<RouteDefinition, 'method' | 'path'>): void {
  if (isRefusedDuringImpersonation(route)) {
    throw new AppError('FORBIDDEN', 'This action is not available in an impersonation (support) session');
  }
}
