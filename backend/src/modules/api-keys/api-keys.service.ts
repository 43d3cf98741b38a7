import { AppError, notFound } from '../../lib/errors';
import { Page, pageByCreation } from '../../lib/pagination';
import { UserPrincipal } from '../auth/principal';
import { announcePrincipalChange } from '../auth/principal-revocation';
import { assertHolds, resolveRole } from '../roles/roles.service';
import { newApiKey } from './api-key-format';
import { ApiKey } from './api-key.model';
import { presentApiKey } from './api-key.presenter';
import { recordEvent } from '../events/event-context';

export interface NewApiKey {
  name: string;
  /** A system role key or a custom role's id or name; absent: the creator's own role. */
  role?: string;
  permissions?: string[];
  expiresAt?: Date;
}

export const listApiKeys = (page: Page) =>
  pageByCreation(
    ApiKey.query()
      .withGraphFetched('role')
      .modifyGraph('role', (roles) => roles.whereNull('deletedAt')),
    page,
  );

/**
 * Issues a key bound to a role, optionally narrowed to explicit permissions; nobody hands out more
 * than they hold. The answer is the only place the key ever appears.
 */
export async function createApiKey(input: NewApiKey, creator: UserPrincipal) {
  const role = await resolveRole(input.role ?? creator.roleId);
  assertHolds(creator, input.permissions ?? role.permissions, 'grant these permissions');
  // The principal loader would silently drop these, so the key would not be what was asked for.
  const outsideRole = (input.permissions ?? []).filter((permission) => !role.permissions.includes(permission));
  if (outsideRole.length) {
    throw new AppError('VALIDATION_ERROR', 'Permissions must be a subset of the role', [
      { field: 'permissions', message: `not granted by the role: ${outsideRole.join(', ')}` },
    ]);
  }

  const { key, hash, prefix } = newApiKey();
  const apiKey = await ApiKey.query()
    .insert({
      name: input.name,
      prefix,
      keyHash: hash,
      roleId: role.id,
      permissions: input.permissions ?? null,
      expiresAt: input.expiresAt ?? null,
      createdBy: creator.userId,
      updatedBy: creator.userId,
    })
    .returning('*');
  apiKey.role = role;
  recordEvent({ type: 'api_key.created', id: apiKey.id, name: apiKey.name, prefix, roleId: role.id, permissions: apiKey.permissions, expiresAt: apiKey.expiresAt });
  return { ...presentApiKey(apiKey), key };
}

/** Revoking is idempotent: a key revoked twice keeps its first revocation time. */
export async function revokeApiKey(id: string, actorId: string): Promise<void> {
  const apiKey = await ApiKey.query().findById(id);
  if (!apiKey) throw notFound('API key');
  if (apiKey.revokedAt) return;
  await ApiKey.query().findById(id).patch({ revokedAt: new Date(), updatedBy: actorId });
  announcePrincipalChange({ apiKeyId: id });
  recordEvent({ type: 'api_key.revoked', id, name: apiKey.name, prefix: apiKey.prefix });
}
