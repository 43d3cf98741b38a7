import { AppConfig } from '../../config/app-config';
import { tenantScope } from '../../infra/tenant-scope';
import type { AuditActor, AuditEvent } from '../audit/audit-context';
import { raiseFindings } from './security-alerts';
import { maybeSecurityContext, securityContext } from './security-context';
import { SecurityFinding } from './security-finding';
import { signinDelayKey } from './security-holds';

/**
 * Sign-in flows run their own transactions and write their audit entries directly (no domain events):
 * these detectors read those entries as they are written, in the same transaction, so sign-in itself is
 * untouched. Failures are counted in the audit log, within the tenant.
 */
const WATCHED_ACTIONS = new Set(['auth.refresh_reuse_detected', 'auth.login_failed', 'auth.login', 'impersonation.start']);

/**
 * A presented refresh token that was already spent: sessions.service has revoked its family (the
 * automatic response, recorded as an event of its own).
 */
async function refreshReuse(entry: AuditEvent): Promise<SecurityFinding[]> {
  const session = (await tenantScope().trx('sessions').where({ id: entry.resourceId }).first('userId', 'revokedAt')) as
    | { userId: string; revokedAt: Date | null }
    | undefined;
  const userId = session?.userId ?? null;
  const subject = entry.resourceId ?? 'session';
  return [
    {
      type: 'session.refresh_reuse',
      severity: 'critical',
      summary: 'A refresh token was presented again after it had been used: it was stolen or copied; the whole session was revoked',
      userId,
      details: { sessionId: entry.resourceId, response: 'session_revoked' },
      subject,
    },
    {
      type: 'response.refresh_family_revoked',
      severity: 'medium',
      summary: 'Automatic response: every refresh and access token of the session was revoked',
      userId,
      details: { sessionId: entry.resourceId, revokedAt: session?.revokedAt?.toISOString() ?? null },
      subject,
    },
  ];
}

/** A staff member started a support session as one of the tenant's users (the tenant's audit log has it too). */
function impersonationStarted(actor: AuditActor, entry: AuditEvent): SecurityFinding {
  const after = (entry.after ?? {}) as { reason?: string; sessionId?: string; expiresAt?: string };
  return {
    type: 'impersonation.started',
    severity: 'medium',
    summary: 'Platform staff started a support session acting as a user of this organization',
    userId: entry.resourceId ?? null,
    details: { impersonatorId: actor.impersonatorId ?? actor.actorId, sessionId: after.sessionId, expiresAt: after.expiresAt, reason: after.reason },
    subject: after.sessionId ?? 'impersonation',
  };
}

/**
 * Failures on many accounts from one IP (stuffing), and on one account from many IPs (spraying). Raised as
 * a distinct count reaches its threshold, so only by a failure whose account and IP pair is new within
 * the window: repeating a pair, or passing the threshold, raises nothing more.
 */
async function signInFailures(entry: AuditEvent, ip: string | null, config: AppConfig['security']): Promise<SecurityFinding[]> {
  const { trx } = tenantScope();
  if (!ip || !entry.resourceId) return [];
  const recent = () =>
    trx('auditLogs').where('action', 'auth.login_failed').whereRaw('occurred_at > now() - make_interval(secs => ?)', [config.signinWindowSeconds]);
  const [pair] = (await recent().where('resourceId', entry.resourceId).whereRaw('ip = ?::inet', [ip]).count({ failures: '*' })) as Array<{ failures: string }>;
  if (Number(pair?.failures) !== 1) return [];
  const [byIp] = (await recent().whereRaw('ip = ?::inet', [ip]).countDistinct({ accounts: 'resourceId' })) as Array<{ accounts: string }>;
  const [byAccount] = (await recent().where('resourceId', entry.resourceId).countDistinct({ ips: 'ip' })) as Array<{ ips: string }>;
  const findings: SecurityFinding[] = [];
  if (Number(byIp?.accounts) === config.signinAccountsPerIp) {
    findings.push(...(await delaySignIns(ip, config)), {
      type: 'signin.failures_one_ip',
      severity: 'high',
      summary: `Failed sign-ins to ${config.signinAccountsPerIp} accounts from one IP address within ${config.signinWindowSeconds} s`,
      userId: null,
      details: { ip, accounts: config.signinAccountsPerIp, windowSeconds: config.signinWindowSeconds },
      subject: ip,
    });
  }
  if (Number(byAccount?.ips) === config.signinIpsPerAccount) {
    findings.push({
      type: 'signin.failures_one_account',
      severity: 'high',
      summary: `Failed sign-ins to one account from ${config.signinIpsPerAccount} IP addresses within ${config.signinWindowSeconds} s`,
      userId: entry.resourceId,
      details: { userId: entry.resourceId, ips: config.signinIpsPerAccount, windowSeconds: config.signinWindowSeconds },
      subject: entry.resourceId,
    });
  }
  return findings;
}

/**
 * The response to stuffing: every sign-in from the IP waits SECURITY_SIGNIN_DELAY_MS for
 * SECURITY_SIGNIN_DELAY_SECONDS (on every instance when Redis is shared), which slows a list of
 * stolen passwords without locking any account out.
 */
async function delaySignIns(ip: string, config: AppConfig['security']): Promise<SecurityFinding[]> {
  if (config.signinDelayMs === 0) return [];
  await securityContext().holds.hold(signinDelayKey(ip), config.signinDelaySeconds);
  return [
    {
      type: 'response.signin_delayed',
      severity: 'medium',
      summary: `Automatic response: sign-ins from the IP address wait ${config.signinDelayMs} ms for ${config.signinDelaySeconds} s`,
      userId: null,
      details: { ip, delayMs: config.signinDelayMs, forSeconds: config.signinDelaySeconds },
      subject: ip,
    },
  ];
}

/** The pause a sign-in from this IP must take (0: none): the stuffing response above. Redis unreachable: none. */
export async function signInDelayMs(ip: string | undefined): Promise<number> {
  const security = maybeSecurityContext();
  if (!ip || !security || security.config.security.signinDelayMs === 0) return 0;
  const held = await security.holds.heldSeconds(signinDelayKey(ip)).catch(() => 0);
  return held > 0 ? security.config.security.signinDelayMs : 0;
}

/** The network of an address: its /24 for IPv4, its /48 for IPv6. */
const NETWORK_SQL = (value: string) => `network(set_masklen(${value}, case family(${value}) when 4 then 24 else 48 end))`;

/**
 * A sign-in from a network none of the user's sign-ins of the last 90 days came from (the entry just
 * written is one of them). A user's first sign-in has nothing to compare with and raises nothing.
 */
async function newNetwork(userId: string, ip: string): Promise<SecurityFinding[]> {
  const [row] = (await tenantScope()
    .trx('auditLogs')
    .where({ action: 'auth.login', actorId: userId })
    .whereNotNull('ip')
    .whereRaw("occurred_at > now() - interval '90 days'")
    .select(
      tenantScope().trx.raw('count(*) as logins'),
      tenantScope().trx.raw(`count(*) filter (where ${NETWORK_SQL('ip')} = ${NETWORK_SQL('?::inet')}) as same`, [ip, ip]),
    )) as Array<{ logins: string; same: string }>;
  if (Number(row?.logins) < 2 || Number(row?.same) > 1) return [];
  return [
    {
      type: 'signin.new_network',
      severity: 'medium',
      summary: 'A sign-in to your account from a network not seen for it in the last 90 days',
      userId,
      details: { userId, ip },
      subject: `${userId}:${ip}`,
      notifyUser: true,
    },
  ];
}

/** Called by the audit writer with the entries it has just written, in their transaction. */
export async function detectInAuditTrail(actor: AuditActor, entries: readonly AuditEvent[]): Promise<void> {
  const watched = entries.filter((entry) => WATCHED_ACTIONS.has(entry.action));
  const security = maybeSecurityContext();
  if (watched.length === 0 || !security) return;
  const { config } = security;
  const ip = actor.ip ?? null;
  const findings: SecurityFinding[] = [];
  for (const entry of watched) {
    if (entry.action === 'auth.refresh_reuse_detected') findings.push(...(await refreshReuse(entry)));
    if (entry.action === 'impersonation.start') findings.push(impersonationStarted(actor, entry));
    if (entry.action === 'auth.login_failed') findings.push(...(await signInFailures(entry, ip, config.security)));
    if (entry.action === 'auth.login' && actor.actorId && ip) findings.push(...(await newNetwork(actor.actorId, ip)));
  }
  if (findings.length > 0) await raiseFindings(findings, { actor, config });
}
