import { Knex } from 'knex';
import { tenantScope } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { Access } from '../../http/route';
import { platformPermissionsOf, StaffRole } from '../admin/staff-roles';
import { isPlatformPermission } from '../roles/permissions';
import { ApiKeyPrincipal, Credential, PlanLimits, PlatformAdminPrincipal, TenantPrincipal, UserPrincipal } from './principal';
import { principalCacheOf } from './principal-revocation';

interface PlanColumns {
  plan: string;
  planFeatures: string[];
  planQuotas: Record<string, number | null>;
  requestsPerHour: number;
  billingStatus: string;
  deletionScheduledFor: Date | null;
}

const PLAN_COLUMNS = ['t.plan', 'p.features as planFeatures', 'p.quotas as planQuotas', 'p.requestsPerHour', 't.billingStatus', 't.deletionScheduledFor'];

const planOf = (row: PlanColumns): PlanLimits => ({
  code: row.plan,
  features: new Set(row.planFeatures),
  quotas: row.planQuotas,
  requestsPerHour: row.requestsPerHour,
  billingStatus: row.billingStatus,
});

const pendingDeletion = (row: PlanColumns): { deletionScheduledFor?: Date } =>
  row.deletionScheduledFor ? { deletionScheduledFor: row.deletionScheduledFor } : {};

const signedOut = () => new AppError('UNAUTHORIZED', 'The session has ended; sign in again');
const suspended = () => new AppError('TENANT_SUSPENDED', 'This organization is suspended');

/**
 * Confirms a tenant credential: the user is active, the session and the access token are not revoked,
 * the tenant is not suspended; and loads the role's current permissions and the plan. From this
 * instance's principal cache when it holds the credential (changes to any of these are announced to
 * every instance: principal-revocation.ts); otherwise one query in the request's tenant transaction.
 */
export async function loadTenantPrincipal(credential: Exclude<Credential, { kind: 'platform_admin' }>): Promise<TenantPrincipal> {
  const { trx, knex } = tenantScope();
  const cache = principalCacheOf(knex);
  const cached = cache?.principal(credential);
  if (cache && cached) {
    if (cached.kind === 'api_key' && cache.apiKeyUseDue(cached.apiKeyId)) await recordApiKeyUse(trx, cached.tenantId, cached.apiKeyId);
    return cached;
  }
  const generation = cache?.generation ?? 0;
  const principal = credential.kind === 'user' ? await loadUser(trx, credential) : await loadApiKey(trx, credential);
  if (principal.kind === 'api_key' && (!cache || cache.apiKeyUseDue(principal.apiKeyId))) await recordApiKeyUse(trx, principal.tenantId, principal.apiKeyId);
  cache?.putPrincipal(credential, principal, generation);
  return principal;
}

/** `lastUsedAt`, at most once a minute (the condition holds across instances; the cache spares the statement). */
async function recordApiKeyUse(trx: Knex.Transaction, tenantId: string, apiKeyId: string): Promise<void> {
  // Filtered on tenant_id as well as by RLS, so that on Citus it routes to the tenant's one shard.
  await trx('apiKeys')
    .where({ tenantId, id: apiKeyId })
    .where((q) => q.whereNull('lastUsedAt').orWhere('lastUsedAt', '<', trx.raw("now() - interval '1 minute'")))
    .update({ lastUsedAt: trx.fn.now() });
}

async function loadUser(trx: Knex.Transaction, credential: Extract<Credential, { kind: 'user' }>): Promise<UserPrincipal> {
  // Filtered and joined on tenant_id as well as by RLS, so that on Citus it routes to the tenant's one shard.
  const row = await trx('users as u')
    .join('roles as r', (join) => join.on('r.tenantId', '=', 'u.tenantId').andOn('r.id', '=', 'u.roleId'))
    .join('tenants as t', 't.id', 'u.tenantId')
    .join('plans as p', 'p.code', 't.plan')
    .leftJoin('sessions as s', (join) =>
      join.on('s.tenantId', '=', 'u.tenantId').andOnVal('s.id', '=', credential.sessionId).andOn('s.userId', '=', 'u.id'),
    )
    .where('u.tenantId', credential.tenantId)
    .where('u.id', credential.userId)
    .whereNull('u.deletedAt')
    .first<
      | ({
          email: string;
          status: string;
          teamId: string | null;
          roleId: string;
          roleKey: string | null;
          permissions: string[];
          tenantStatus: string;
          sessionRevokedAt: Date | null;
          sessionExpiresAt: Date | null;
          jtiRevoked: boolean;
          mfaEnabledAt: Date | null;
          mfaRequired: boolean;
        } & PlanColumns)
      | undefined
    >(
      'u.email',
      'u.status',
      'u.teamId',
      'r.id as roleId',
      'r.key as roleKey',
      'r.permissions',
      't.status as tenantStatus',
      'u.mfaEnabledAt',
      't.mfaRequired',
      ...PLAN_COLUMNS,
      's.revokedAt as sessionRevokedAt',
      's.expiresAt as sessionExpiresAt',
      // The tenant as a value, not u.tenant_id: Citus routes a correlated subquery to every shard.
      trx.raw('exists (select 1 from revoked_access_tokens x where x.tenant_id = ? and x.jti = ?) as jti_revoked', [
        credential.tenantId,
        credential.jti,
      ]),
    );
  if (!row || row.status !== 'active' || row.jtiRevoked || !row.sessionExpiresAt || row.sessionRevokedAt) throw signedOut();
  if (row.tenantStatus !== 'active') throw suspended();
  return {
    kind: 'user',
    tenantId: credential.tenantId,
    userId: credential.userId,
    sessionId: credential.sessionId,
    jti: credential.jti,
    tokenExpiresAt: credential.exp,
    email: row.email,
    roleId: row.roleId,
    roleKey: row.roleKey,
    teamId: row.teamId,
    permissions: new Set(row.permissions),
    plan: planOf(row),
    ...pendingDeletion(row),
    ...(credential.impersonatorId ? { impersonatorId: credential.impersonatorId } : {}),
    mfaEnabled: row.mfaEnabledAt !== null,
    // A support session is the staff member's, whose own MFA (ADMIN_MFA_REQUIRED) covers it.
    mfaEnrollmentRequired: row.mfaRequired && row.mfaEnabledAt === null && !credential.impersonatorId,
  };
}

async function loadApiKey(trx: Knex.Transaction, credential: Extract<Credential, { kind: 'api_key' }>): Promise<ApiKeyPrincipal> {
  const row = await trx('apiKeys as k')
    .leftJoin('roles as r', (join) => join.on('r.tenantId', '=', 'k.tenantId').andOn('r.id', '=', 'k.roleId').andOnNull('r.deletedAt'))
    .join('tenants as t', 't.id', 'k.tenantId')
    .leftJoin('users as c', (join) => join.on('c.tenantId', '=', 'k.tenantId').andOn('c.id', '=', 'k.createdBy').andOnNull('c.deletedAt'))
    .join('plans as p', 'p.code', 't.plan')
    .where('k.tenantId', credential.tenantId)
    .where('k.id', credential.apiKeyId)
    .first<
      | ({
          keyPermissions: string[] | null;
          rolePermissions: string[] | null;
          roleKey: string | null;
          creatorId: string | null;
          creatorTeamId: string | null;
          tenantStatus: string;
        } & PlanColumns)
      | undefined
    >(
      'k.permissions as keyPermissions',
      'r.permissions as rolePermissions',
      'r.key as roleKey',
      'c.id as creatorId',
      'c.teamId as creatorTeamId',
      't.status as tenantStatus',
      ...PLAN_COLUMNS,
    );
  if (!row) throw new AppError('UNAUTHORIZED', 'The API key is invalid, expired or revoked');
  if (row.tenantStatus !== 'active') throw suspended();
  // A key never exceeds its role: explicit permissions narrow the role's, they cannot widen them.
  const role = new Set(row.rolePermissions ?? []);
  const permissions = row.keyPermissions ? row.keyPermissions.filter((p) => role.has(p)) : [...role];
  return {
    kind: 'api_key',
    tenantId: credential.tenantId,
    apiKeyId: credential.apiKeyId,
    roleKey: row.roleKey,
    creatorId: row.creatorId,
    creatorTeamId: row.creatorTeamId,
    permissions: new Set(permissions),
    plan: planOf(row),
    ...pendingDeletion(row),
  };
}

/**
 * Platform staff live outside tenants; their tables are global. One query confirms the account is
 * active and the token's session neither revoked nor expired, so a sign-out or a disabled account
 * stops its tokens at once; the permissions are the role's as it stands now.
 */
export async function loadPlatformPrincipal(
  knex: Knex,
  credential: Extract<Credential, { kind: 'platform_admin' }>,
): Promise<PlatformAdminPrincipal> {
  const row = await knex('platformAdmins as a')
    .join('platformAdminSessions as s', 's.adminId', 'a.id')
    .where({ 'a.id': credential.adminId, 'a.status': 'active', 's.id': credential.sessionId })
    .whereNull('s.revokedAt')
    .where('s.expiresAt', '>', knex.fn.now())
    .first<{ role: StaffRole; mfaEnabledAt: Date | null } | undefined>('a.role', 'a.mfaEnabledAt');
  if (!row) throw signedOut();
  return {
    kind: 'platform_admin',
    adminId: credential.adminId,
    sessionId: credential.sessionId,
    role: row.role,
    permissions: platformPermissionsOf(row.role),
    mfaEnabled: row.mfaEnabledAt !== null,
  };
}

/** RBAC: the declared permission must be among the principal's. */
export function authorize(access: Access, principal: TenantPrincipal | PlatformAdminPrincipal, usersOnly = false): void {
  if (usersOnly && principal.kind !== 'user') {
    throw new AppError('FORBIDDEN', 'This endpoint needs a signed-in user, not an API key');
  }
  if (access === 'authenticated' || access === 'public') return;
  if (!principal.permissions.has(access)) {
    throw new AppError('FORBIDDEN', `This action needs the "${access}" permission`);
  }
}

export const isPlatformRoute = (access: Access): boolean => isPlatformPermission(access);
