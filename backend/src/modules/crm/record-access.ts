import { tenantScope } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { ownScopeOf, TenantPrincipal } from '../auth/principal';
import { User } from '../users/user.model';
import { RecordData, ResourceDefinition } from './resource-definition';

/**
 * Sales users read every record but change only their own and their team's: the owner must be them,
 * or a user of their team. A sales_user API key acts for the user who created it. Other roles are
 * bounded by their permissions alone.
 */
export async function assertMayChange(def: ResourceDefinition, principal: TenantPrincipal, record: RecordData): Promise<void> {
  const scope = ownScopeOf(principal);
  if (!scope || !def.ownerField) return;
  const owner = record[def.ownerField] as string | null | undefined;
  if (owner && owner === scope.userId) return;
  if (owner && scope.teamId) {
    const teammate = await User.query().select('id').where({ id: owner, teamId: scope.teamId }).first();
    if (teammate) return;
  }
  throw new AppError('FORBIDDEN', `Sales users may change only their own and their team's ${def.name}`);
}

/**
 * The owners whose records a sales user (or a sales_user API key) may change: themselves and their
 * team; undefined for every other role, bounded by permissions alone (the rule of assertMayChange).
 */
export async function ownersInScope(principal: TenantPrincipal): Promise<Set<string> | undefined> {
  const scope = ownScopeOf(principal);
  if (!scope) return undefined;
  const owners = new Set<string>(scope.userId ? [scope.userId] : []);
  if (scope.teamId) for (const teammate of await User.query().select('id').where({ teamId: scope.teamId })) owners.add(teammate.id);
  return owners;
}

/** Every referenced id must name a live record of this tenant: a foreign or unknown id is a 400, not a link. */
export async function assertReferencesExist(def: ResourceDefinition, data: RecordData, principal?: TenantPrincipal): Promise<void> {
  const { trx } = tenantScope();
  const problems: Array<{ field: string; message: string }> = [];
  // The calling user was confirmed active by stage 8 of this request: naming them (a record's default
  // owner) costs no query.
  const caller = principal?.kind === 'user' ? principal.userId : undefined;
  for (const [field, table] of Object.entries(def.references)) {
    const id = data[field];
    if (typeof id !== 'string' || (table === 'users' && id === caller)) continue;
    const found = await trx(table).where({ id }).whereNull('deletedAt').first('id');
    if (!found) problems.push({ field, message: `does not name an existing ${table.replace(/s$/, '')}` });
  }
  if (problems.length) throw new AppError('VALIDATION_ERROR', 'A referenced record does not exist', problems);
}
