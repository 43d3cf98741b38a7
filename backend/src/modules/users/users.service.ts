import { AppError, notFound } from '../../lib/errors';
import { Page, pageByCreation } from '../../lib/pagination';
import { hashPassword } from '../auth/passwords';
import { actorId, TenantPrincipal } from '../auth/principal';
import { announcePrincipalChange } from '../auth/principal-revocation';
import { revokeSessions } from '../auth/sessions.service';
import { assertWithinQuota } from '../plans/plan-gates';
import { Role } from '../roles/role.model';
import { assertHolds, resolveRole } from '../roles/roles.service';
import { Team } from '../teams/team.model';
import { newInvitation } from './invitations.service';
import { User, UserStatus } from './user.model';
import { recordEvent } from '../events/event-context';

export interface NewUser {
  email: string;
  password: string;
  firstName: string;
  lastName: string;
  /** A system role key (tenant_admin, manager, ...) of the current tenant. */
  roleKey: string;
}

/** Adds an active user to the current tenant scope. */
export async function createUser(input: NewUser, bcryptCost: number): Promise<User> {
  const role = await Role.query().findOne({ key: input.roleKey });
  if (!role) throw new AppError('VALIDATION_ERROR', 'Unknown role', [{ field: 'role', message: 'does not exist' }]);
  return User.query().insert({
    email: input.email,
    passwordHash: await hashPassword(input.password, bcryptCost),
    firstName: input.firstName,
    lastName: input.lastName,
    roleId: role.id,
    status: 'active',
  });
}

export interface UserDraft {
  email: string;
  firstName: string;
  lastName: string;
  /** A system role key, or a custom role's id or name. */
  role: string;
  password?: string;
  teamId?: string;
}

export interface UserChanges {
  role?: string;
  status?: 'active' | 'disabled';
  firstName?: string;
  lastName?: string;
  teamId?: string | null;
}

export interface UserSettings {
  bcryptCost: number;
  inviteTtlSeconds: number;
}

export const listUsers = (page: Page & { status?: UserStatus }) => {
  const query = User.query().whereNull('deletedAt').withGraphFetched('role');
  if (page.status) query.where('status', page.status);
  return pageByCreation(query, page);
};

export async function getUser(id: string): Promise<User> {
  const user = await User.query().findById(id).whereNull('deletedAt').withGraphFetched('role');
  if (!user) throw notFound('User');
  return user;
}

/** With a password the user is active at once; without one, invited, and the invitation token comes back once. */
export async function addUser(caller: TenantPrincipal, draft: UserDraft, settings: UserSettings) {
  await assertWithinQuota(caller, 'users', 'users');
  const role = await resolveRole(draft.role);
  assertHolds(caller, role.permissions, 'assign this role');
  if (draft.teamId) await assertTeamExists(draft.teamId);
  const invitation = draft.password ? undefined : newInvitation(settings.inviteTtlSeconds);
  const actor = actorId(caller);
  const { id } = await User.query().insert({
    email: draft.email,
    firstName: draft.firstName,
    lastName: draft.lastName,
    roleId: role.id,
    teamId: draft.teamId ?? null,
    status: invitation ? 'invited' : 'active',
    passwordHash: draft.password ? await hashPassword(draft.password, settings.bcryptCost) : null,
    inviteTokenHash: invitation?.inviteTokenHash ?? null,
    inviteExpiresAt: invitation?.inviteExpiresAt ?? null,
    createdBy: actor,
    updatedBy: actor,
  });
  recordEvent({
    type: 'user.created',
    id,
    email: draft.email,
    profile: { email: draft.email, firstName: draft.firstName, lastName: draft.lastName, roleId: role.id, teamId: draft.teamId ?? null, status: invitation ? 'invited' : 'active' },
  });
  return { user: await getUser(id), invitation: invitation && { token: invitation.token, expiresAt: invitation.inviteExpiresAt } };
}

/** Disabling withdraws a pending invitation and revokes every session, so the user's tokens die at once. */
export async function updateUser(caller: TenantPrincipal, id: string, changes: UserChanges): Promise<User> {
  const user = await userInReach(caller, id, 'manage this user');
  const self = caller.kind === 'user' && caller.userId === id;
  const role = changes.role === undefined ? undefined : await resolveRole(changes.role);
  if (role && role.id !== user.roleId) {
    if (self) throw new AppError('FORBIDDEN', 'You cannot change your own role');
    assertHolds(caller, role.permissions, 'assign this role');
  }
  if (changes.status === 'disabled' && self) throw new AppError('FORBIDDEN', 'You cannot disable yourself');
  if (changes.status === 'active' && !user.passwordHash) {
    throw new AppError('CONFLICT', 'This user has not accepted the invitation yet', [
      { field: 'status', message: 'becomes active when the invitation is accepted' },
    ]);
  }
  if (changes.teamId) await assertTeamExists(changes.teamId);
  const disabling = changes.status === 'disabled';
  await User.query()
    .findById(id)
    .patch({
      firstName: changes.firstName,
      lastName: changes.lastName,
      teamId: changes.teamId,
      status: changes.status,
      roleId: role?.id,
      updatedBy: actorId(caller),
      ...(disabling ? { inviteTokenHash: null, inviteExpiresAt: null } : {}),
    });
  // Role, status and team are part of the caller every instance may hold in memory.
  announcePrincipalChange({ userId: id });
  if (disabling) await revokeSessions({ userId: id }, 'user_disabled');
  const updated = await getUser(id);
  const fields = ['firstName', 'lastName', 'teamId', 'status', 'roleId'] as const;
  recordEvent({
    type: 'user.updated',
    id,
    email: user.email,
    before: Object.fromEntries(fields.map((field) => [field, user[field]])),
    after: Object.fromEntries(fields.map((field) => [field, updated[field]])),
  });
  return updated;
}

/** Soft delete: the row stays for the audit trail, the email is free again, every session ends. */
export async function removeUser(caller: TenantPrincipal, id: string): Promise<void> {
  if (caller.kind === 'user' && caller.userId === id) throw new AppError('FORBIDDEN', 'You cannot delete yourself');
  const user = await userInReach(caller, id, 'delete this user');
  recordEvent({ type: 'user.deleted', id, email: user.email, roleId: user.roleId });
  await User.query()
    .findById(id)
    .patch({ deletedAt: new Date(), inviteTokenHash: null, inviteExpiresAt: null, updatedBy: actorId(caller) });
  await revokeSessions({ userId: id }, 'user_deleted');
}

/** A live user of the tenant, locked for the change, whose role grants nothing the caller lacks. */
async function userInReach(caller: TenantPrincipal, id: string, action: string): Promise<User> {
  const user = await User.query().findById(id).whereNull('deletedAt').withGraphFetched('role').forUpdate();
  if (!user) throw notFound('User');
  assertHolds(caller, user.role?.permissions ?? [], action);
  return user;
}

async function assertTeamExists(teamId: string): Promise<void> {
  const team = await Team.query().findById(teamId).whereNull('deletedAt');
  if (!team) throw new AppError('VALIDATION_ERROR', 'Unknown team', [{ field: 'teamId', message: 'does not name a team of this organization' }]);
}
