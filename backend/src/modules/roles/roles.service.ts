import { AppError, notFound } from '../../lib/errors';
import { Page, pageByCreation } from '../../lib/pagination';
import { ApiKey } from '../api-keys/api-key.model';
import { actorId, TenantPrincipal } from '../auth/principal';
import { announcePrincipalChange } from '../auth/principal-revocation';
import { User } from '../users/user.model';
import { Role } from './role.model';
import { recordEvent } from '../events/event-context';

export interface RoleDraft {
  name: string;
  description?: string | null;
  permissions: string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Nobody grants, or acts on, more than they hold themselves: otherwise `users:manage` or
 * `roles:manage` alone would be a path to every other permission.
 */
export function assertHolds(caller: TenantPrincipal, permissions: readonly string[], action: string): void {
  const missing = permissions.filter((permission) => !caller.permissions.has(permission));
  if (missing.length) {
    throw new AppError('FORBIDDEN', `You cannot ${action}: it involves permissions you do not hold (${missing.sort().join(', ')})`);
  }
}

/**
 * The live role a client names by system key, id, or name (case-insensitive). The row is share-locked so
 * that a concurrent delete waits for the assignment, then sees it.
 */
export async function resolveRole(ref: string): Promise<Role> {
  const query = Role.query().whereNull('deletedAt').forShare().first();
  if (UUID.test(ref)) query.findById(ref);
  else query.where((q) => q.where('key', ref).orWhereRaw('lower(??) = lower(?)', ['roles.name', ref]));
  const role = await query;
  if (!role) throw new AppError('VALIDATION_ERROR', 'Unknown role', [{ field: 'role', message: 'does not name a role of this organization' }]);
  return role;
}

export const listRoles = (page: Page) => pageByCreation(Role.query().whereNull('deletedAt'), page);

export async function createRole(caller: TenantPrincipal, draft: RoleDraft): Promise<Role> {
  assertHolds(caller, draft.permissions, 'grant these permissions');
  await assertNameFree(draft.name);
  const actor = actorId(caller);
  const role = await Role.query().insert({ ...draft, key: null, isSystem: false, createdBy: actor, updatedBy: actor }).returning('*');
  recordEvent({ type: 'role.created', id: role.id, name: role.name, permissions: role.permissions });
  return role;
}

export async function updateRole(caller: TenantPrincipal, id: string, patch: Partial<RoleDraft>): Promise<Role> {
  const role = await customRoleInReach(caller, id, 'edit this role');
  if (caller.kind === 'user' && caller.roleId === id) throw new AppError('FORBIDDEN', 'You cannot change your own role');
  if (patch.permissions) assertHolds(caller, patch.permissions, 'grant these permissions');
  if (patch.name && patch.name.toLowerCase() !== role.name.toLowerCase()) await assertNameFree(patch.name);
  const updated = await Role.query().patchAndFetchById(id, { ...patch, updatedBy: actorId(caller) });
  // Every holder's permissions change: the tenant's callers are confirmed afresh on every instance.
  announcePrincipalChange();
  recordEvent({
    type: 'role.updated',
    id,
    before: { name: role.name, permissions: role.permissions },
    after: { name: updated.name, permissions: updated.permissions },
  });
  return updated;
}

/** Soft delete; a role still held by a user or a live API key stays, so nobody is left without one. */
export async function deleteRole(caller: TenantPrincipal, id: string): Promise<void> {
  const role = await customRoleInReach(caller, id, 'delete this role');
  const [user, apiKey] = await Promise.all([
    User.query().where({ roleId: id }).whereNull('deletedAt').first(),
    ApiKey.query()
      .where({ roleId: id })
      .whereNull('revokedAt')
      .where((q) => q.whereNull('expiresAt').orWhere('expiresAt', '>', new Date()))
      .first(),
  ]);
  if (user || apiKey) {
    throw new AppError('CONFLICT', 'This role is still assigned', [
      { field: 'id', message: `is held by ${user ? 'a user' : 'an API key'}; reassign it first` },
    ]);
  }
  await Role.query().findById(id).patch({ deletedAt: new Date(), updatedBy: actorId(caller) });
  announcePrincipalChange();
  recordEvent({ type: 'role.deleted', id, name: role.name, permissions: role.permissions });
}

/** A custom role the caller may change: system roles are data from the migrations, the same for every tenant. */
async function customRoleInReach(caller: TenantPrincipal, id: string, action: string): Promise<Role> {
  const role = await Role.query().findById(id).whereNull('deletedAt').forUpdate();
  if (!role) throw notFound('Role');
  if (role.isSystem) throw new AppError('FORBIDDEN', 'System roles cannot be changed or deleted');
  assertHolds(caller, role.permissions, action);
  return role;
}

/** Names are unique case-insensitively, and a system role's key cannot be a custom name, so `role` refs stay unambiguous. */
async function assertNameFree(name: string): Promise<void> {
  const clash = await Role.query()
    .whereNull('deletedAt')
    .where((q) => q.whereRaw('lower(??) = lower(?)', ['roles.name', name]).orWhere('key', name.toLowerCase()))
    .first();
  if (clash) throw new AppError('CONFLICT', 'A role with this name already exists', [{ field: 'name', message: 'is already taken' }]);
}
