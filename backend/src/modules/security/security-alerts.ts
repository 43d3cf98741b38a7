import { tenantScope } from '../../infra/tenant-scope';
import type { PublishContext } from '../events/event-subscriber';
import { queueEmail, tenantAdmins } from '../notifications/notifications.service';
import { enqueueJob } from '../../jobs/enqueue';
import { atLeast, isSevere, SecurityFinding } from './security-finding';
import { STAFF_ALERT_TASK } from './security-staff-alert.job';
import { securityEventsTotal } from './security-metrics';

/**
 * Whether an alert of this pattern already went out within the window. The pattern's lock is held to
 * the end of the transaction, so two requests finding the same pattern at once mail once.
 */
async function alertedRecently(dedupKey: string, windowSeconds: number): Promise<boolean> {
  const { trx, tenantId } = tenantScope();
  await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`security_events:${tenantId}:${dedupKey}`]);
  const row = await trx('securityEvents')
    .where({ dedupKey, alerted: true })
    .whereRaw('created_at > now() - make_interval(secs => ?)', [windowSeconds])
    .first('id');
  return row !== undefined;
}

/** The user a finding is about, when it is theirs to hear; otherwise the tenant's active admins. */
async function recipientsOf(finding: SecurityFinding): Promise<Array<{ id: string; email: string; organization: string }>> {
  if (!finding.notifyUser || !finding.userId) return tenantAdmins();
  const { trx } = tenantScope();
  const user = (await trx('users as u')
    .join('tenants as t', 't.id', 'u.tenantId')
    .where('u.id', finding.userId)
    .whereNull('u.deletedAt')
    .first('u.id', 'u.email', 't.name as organization')) as { id: string; email: string; organization: string } | undefined;
  return user ? [user] : [];
}

/**
 * Stores each finding as the tenant's security event (GET /security/events), counts it in
 * security_events_total, and mails the tenant's admins about a severe one (the user, about their sign-in
 * from a new network) unless the same pattern
 * (type and subject) was mailed within SECURITY_ALERT_DEDUP_SECONDS. All in the unit of work's
 * transaction: an alert never outlives a change that rolled back. An event of SECURITY_STAFF_ALERT_SEVERITY or
 * above also queues the staff alert (security-staff-alert.job.ts), which has its own dedup across tenants.
 */
export async function raiseFindings(findings: readonly SecurityFinding[], { actor, config }: Pick<PublishContext, 'actor' | 'config'>): Promise<void> {
  const { trx, tenantId } = tenantScope();
  for (const finding of findings) {
    const dedupKey = `${finding.type}:${finding.subject}`;
    const alerting = finding.notifyUser === true || isSevere(finding.severity);
    const alerted = alerting && !(await alertedRecently(dedupKey, config.security.alertDedupSeconds));
    const [row] = (await trx('securityEvents')
      .insert({
        tenantId,
        type: finding.type,
        severity: finding.severity,
        summary: finding.summary,
        userId: finding.userId,
        details: JSON.stringify({ ...finding.details, actor: { type: actor.actorType, id: actor.actorId, impersonatorId: actor.impersonatorId ?? null } }),
        dedupKey,
        alerted,
        requestId: actor.requestId ?? null,
        createdBy: actor.actorType === 'user' ? actor.actorId : null,
      })
      .returning(['id', 'createdAt'])) as Array<{ id: string; createdAt: Date }>;
    securityEventsTotal.inc({ type: finding.type, severity: finding.severity });
    if (atLeast(finding.severity, config.security.staffAlertSeverity)) await enqueueJob(STAFF_ALERT_TASK, { securityEventId: row!.id });
    if (!alerted) continue;
    for (const recipient of await recipientsOf(finding)) {
      await queueEmail(
        config,
        'security_alert',
        { email: recipient.email, userId: recipient.id },
        { organization: recipient.organization, type: finding.type, severity: finding.severity, summary: finding.summary, at: row!.createdAt.toISOString() },
      );
    }
  }
}
