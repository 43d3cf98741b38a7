import { AppDeps } from '../../app-deps';
import { withTenant } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import type { AuditActor } from '../audit/audit-context';
import { Credential } from '../auth/principal';
import { raiseFindings } from './security-alerts';
import { securityHoldsOf } from './security-context';
import { SecurityFinding } from './security-finding';
import { keyThrottleKey, walkKey } from './security-holds';

type TenantCredential = Exclude<Credential, { kind: 'platform_admin' }>;

/** The answers an id walk is made of: records that do not exist (or are another tenant's), or not the caller's to see. */
const REFUSALS = new Set(['NOT_FOUND', 'FORBIDDEN']);

const callerOf = (credential: TenantCredential) =>
  credential.kind === 'api_key' ? { kind: 'api_key' as const, id: credential.apiKeyId } : { kind: 'user' as const, id: credential.userId };

/**
 * Stage 8, before any query: an API key throttled for walking ids is answered 429 until its hold ends.
 * Redis unreachable: the key is let through (as the rate limits do), and that is logged.
 */
export async function refuseThrottledKey(deps: AppDeps, credential: TenantCredential): Promise<void> {
  if (credential.kind !== 'api_key') return;
  const seconds = await securityHoldsOf(deps)
    .heldSeconds(keyThrottleKey(credential.apiKeyId))
    .catch((error: unknown) => {
      deps.logger.warn('could not read an API key throttle; letting the key through', { error });
      return 0;
    });
  if (seconds > 0) {
    throw new AppError('RATE_LIMITED', 'This API key is throttled after many requests for records that do not exist', undefined, {
      'Retry-After': String(seconds),
    });
  }
}

/**
 * Counts a 404/403 answered to a tenant caller. The SECURITY_WALK_REFUSALS-th within
 * SECURITY_WALK_WINDOW_SECONDS raises access.id_walk (once per window: the count goes on past it), and an
 * API key is throttled for SECURITY_KEY_THROTTLE_SECONDS, itself an event. In a transaction of its own:
 * the request's work has rolled back. Failing to count is logged; the caller gets its answer regardless.
 */
export async function noteRefusal(deps: AppDeps, credential: TenantCredential, actor: AuditActor, error: unknown): Promise<void> {
  if (!(error instanceof AppError) || !REFUSALS.has(error.code)) return;
  try {
    const { config } = deps;
    const holds = securityHoldsOf(deps);
    const caller = callerOf(credential);
    const refusals = await holds.count(walkKey(caller), config.security.walkWindowSeconds);
    if (refusals !== config.security.walkRefusals) return;
    const findings: SecurityFinding[] = [
      {
        type: 'access.id_walk',
        severity: 'high',
        summary: `${refusals} requests answered 404 or 403 to one ${caller.kind === 'api_key' ? 'API key' : 'user'} within ${config.security.walkWindowSeconds} s: ids are being guessed`,
        userId: caller.kind === 'user' ? caller.id : null,
        details: { caller, refusals, windowSeconds: config.security.walkWindowSeconds },
        subject: `${caller.kind}:${caller.id}`,
      },
    ];
    if (caller.kind === 'api_key') {
      await holds.hold(keyThrottleKey(caller.id), config.security.keyThrottleSeconds);
      findings.push({
        type: 'response.api_key_throttled',
        severity: 'medium',
        summary: `Automatic response: the API key is answered 429 for ${config.security.keyThrottleSeconds} s`,
        userId: null,
        details: { apiKeyId: caller.id, forSeconds: config.security.keyThrottleSeconds },
        subject: caller.id,
      });
    }
    await withTenant(deps.knex, credential.tenantId, () => raiseFindings(findings, { actor, config }));
  } catch (failure) {
    deps.logger.error('could not count a refused request for the id-walk detector', { error: failure });
  }
}
