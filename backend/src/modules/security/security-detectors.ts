import { tenantScope } from '../../infra/tenant-scope';
import type { DomainEvent, EventOf } from '../events/domain-events';
import type { PublishContext } from '../events/event-subscriber';
import { SecurityFinding } from './security-finding';

/** The domain events a detector reads; the subscriber takes exactly these. */
export const WATCHED_TYPES = ['role.created', 'role.updated', 'user.created', 'user.updated', 'api_key.created', 'auth.mfa_changed', 'records.exported', 'auth.logged_out'] as const;
type Watched = EventOf<(typeof WATCHED_TYPES)[number]>;

const byType = <T extends Watched['type']>(events: readonly Watched[], type: T): Array<EventOf<T>> =>
  events.filter((event) => event.type === type) as unknown as Array<EventOf<T>>;

/** `users:manage`, `roles:manage`, ...: a permission over the organization itself rather than its records. */
const managing = (permissions: readonly string[]): string[] => permissions.filter((permission) => permission.endsWith(':manage'));

/** A custom role created with, or changed to gain, a `*:manage` permission. */
function roleEscalations(events: readonly Watched[]): SecurityFinding[] {
  const created = byType(events, 'role.created').map((event) => ({ id: event.id, name: event.name, gained: managing(event.permissions) }));
  const updated = byType(events, 'role.updated').map((event) => ({
    id: event.id,
    name: event.after.name,
    gained: managing(event.after.permissions).filter((permission) => !event.before.permissions.includes(permission)),
  }));
  return [...created, ...updated]
    .filter((role) => role.gained.length > 0)
    .map((role) => ({
      type: 'privilege.role_escalated',
      severity: 'high',
      summary: `The role "${role.name}" gained ${role.gained.join(', ')}`,
      userId: null,
      details: { roleId: role.id, gained: role.gained },
      subject: role.id,
    }));
}

/** A user created as, or moved to, the tenant_admin role. */
async function adminGrants(events: readonly Watched[]): Promise<SecurityFinding[]> {
  const grants = [
    ...byType(events, 'user.created').map((event) => ({ userId: event.id, roleId: event.profile.roleId })),
    ...byType(events, 'user.updated')
      .filter((event) => event.after.roleId !== undefined && event.after.roleId !== event.before.roleId)
      .map((event) => ({ userId: event.id, roleId: event.after.roleId })),
  ].filter((grant): grant is { userId: string; roleId: string } => typeof grant.roleId === 'string');
  if (grants.length === 0) return [];
  const adminRoles = new Set(
    (await tenantScope()
      .trx('roles')
      .whereIn('id', grants.map((grant) => grant.roleId))
      .where('key', 'tenant_admin')
      .pluck('id')) as string[],
  );
  return grants
    .filter((grant) => adminRoles.has(grant.roleId))
    .map((grant) => ({
      type: 'privilege.admin_granted',
      severity: 'high',
      summary: 'A user was made a tenant admin',
      userId: grant.userId,
      details: { userId: grant.userId, roleId: grant.roleId },
      subject: grant.userId,
    }));
}

/** An API key whose permissions (its own, or its role's when it names none) include a `*:manage` one. */
async function wideApiKeys(events: readonly Watched[]): Promise<SecurityFinding[]> {
  const keys = byType(events, 'api_key.created');
  if (keys.length === 0) return [];
  const roles = (await tenantScope()
    .trx('roles')
    .whereIn('id', keys.map((key) => key.roleId))
    .select('id', 'permissions')) as Array<{ id: string; permissions: string[] }>;
  const roleOf = new Map(roles.map((role) => [role.id, role.permissions]));
  return keys.flatMap((key): SecurityFinding[] => {
    const wide = managing(key.permissions ?? roleOf.get(key.roleId) ?? []);
    if (wide.length === 0) return [];
    return [
      {
        type: 'privilege.wide_api_key',
        severity: 'medium',
        summary: `An API key (${key.prefix}...) was created with ${wide.join(', ')}`,
        userId: null,
        details: { apiKeyId: key.id, prefix: key.prefix, permissions: wide },
        subject: key.id,
      },
    ];
  });
}

function mfaDisabled(events: readonly Watched[]): SecurityFinding[] {
  return byType(events, 'auth.mfa_changed')
    .filter((event) => !event.enabled)
    .map((event) => ({
      type: 'mfa.disabled',
      severity: 'high',
      summary: 'A user turned two-factor authentication off',
      userId: event.userId,
      details: { userId: event.userId, sessionsRevoked: event.sessionsRevoked },
      subject: event.userId,
    }));
}

/** A support session (impersonation) signed out: its start was raised by the sign-in detectors. */
function impersonationEnded(events: readonly Watched[], { actor }: PublishContext): SecurityFinding[] {
  if (!actor.impersonatorId) return [];
  return byType(events, 'auth.logged_out').map((event) => ({
    type: 'impersonation.ended',
    severity: 'low',
    summary: 'Platform staff ended a support session in this organization',
    userId: actor.actorId,
    details: { impersonatorId: actor.impersonatorId, sessionId: event.sessionId },
    subject: event.sessionId,
  }));
}

/**
 * One export of SECURITY_EXPORT_ROWS rows or more, or the SECURITY_EXPORTS_PER_HOUR-th export of the
 * tenant within an hour. Earlier exports are counted in the audit log (`<resource>.export` entries); this
 * one's entry is written after the detectors, in the same transaction.
 */
async function massExports(events: readonly Watched[], { config }: PublishContext): Promise<SecurityFinding[]> {
  const exports = byType(events, 'records.exported');
  if (exports.length === 0) return [];
  const [row] = (await tenantScope()
    .trx('auditLogs')
    .whereLike('action', '%.export')
    .whereRaw("occurred_at > now() - interval '1 hour'")
    .count({ count: '*' })) as Array<{ count: string }>;
  const earlier = Number(row?.count ?? 0);
  const rows = exports.reduce((sum, event) => sum + event.details.rows, 0);
  const inHour = earlier + exports.length;
  if (rows < config.security.exportRows && inHour < config.security.exportsPerHour) return [];
  return [
    {
      type: 'export.mass',
      severity: 'high',
      summary: `Mass export: ${rows} rows in this export, ${inHour} exports within the hour`,
      userId: null,
      details: { resources: exports.map((event) => event.resource), rows, exportsInHour: inHour },
      subject: 'tenant',
    },
  ];
}

/** Every detector over one unit of work's events, in a fixed order. */
export async function detect(events: readonly DomainEvent[], context: PublishContext): Promise<SecurityFinding[]> {
  const watched = events as readonly Watched[];
  return [
    ...roleEscalations(watched),
    ...(await adminGrants(watched)),
    ...(await wideApiKeys(watched)),
    ...mfaDisabled(watched),
    ...impersonationEnded(watched, context),
    ...(await massExports(watched, context)),
  ];
}
