import { Knex } from 'knex';
import { tenantScope } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { ApiKeyPrincipal, UserPrincipal } from '../auth/principal';

/**
 * Whom a report counts records for: a request's caller, or the recipient of a scheduled report (a user
 * with their role's permissions and team, no session).
 */
export type ReportCaller = ApiKeyPrincipal | Pick<UserPrincipal, 'kind' | 'userId' | 'teamId' | 'roleKey' | 'permissions'>;

/** A report counts records of a resource only for a caller who may list that resource. */
export function assertMayReport(principal: ReportCaller, resource: string): void {
  if (!principal.permissions.has(`${resource}:read`)) throw new AppError('FORBIDDEN', `This report needs the ${resource}:read permission`);
}

/** Sales users' reports count their own and their team's records only; other callers are bounded by their permissions. */
export const isTeamScoped = (principal: ReportCaller): boolean => principal.kind === 'user' && principal.roleKey === 'sales_user';

/**
 * Narrows a query to the records a sales user's reports count: those `ownerColumn` (qualified, checked
 * names only) gives to them or to a user of their team. Other callers' queries are left as they are.
 */
export function scopeToCaller(query: Knex.QueryBuilder, principal: ReportCaller, ownerColumn: string): Knex.QueryBuilder {
  if (!isTeamScoped(principal) || principal.kind !== 'user') return query;
  const { userId, teamId } = principal;
  return query.whereIn(ownerColumn, (team) => {
    team.from('users').select('id').where('id', userId);
    if (teamId) team.orWhere('team_id', teamId);
  });
}

/**
 * Sort and hash memory of a report's statement. A report groups up to a million rows once, where a list
 * request sorts a page: with PostgreSQL's default (4 MB) its sorts spill to disk (`external merge` in the
 * plans of docs/PERFORMANCE.md). Per sort node and parallel worker, for the one statement only.
 */
const REPORT_WORK_MEM = '32MB';

/**
 * Runs a report's queries with a statement timeout, so a report no index serves is cancelled (a 503)
 * rather than holding a connection, and with REPORT_WORK_MEM; the request's own settings are restored afterwards.
 */
export async function withStatementTimeout<T>(timeoutMs: number, run: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  const { trx } = tenantScope();
  const { rows } = await trx.raw<{ rows: Array<{ previous: string; memory: string }> }>(
    `select current_setting('statement_timeout') as previous, current_setting('work_mem') as memory,
            set_config('statement_timeout', ?, true), set_config('work_mem', ?, true)`,
    [`${timeoutMs}ms`, REPORT_WORK_MEM],
  );
  const result = await run(trx);
  await trx.raw(`select set_config('statement_timeout', ?, true), set_config('work_mem', ?, true)`, [rows[0]!.previous, rows[0]!.memory]);
  return result;
}

/** scopeToCaller for a report written as SQL: a condition on `ownerColumn` (a checked name), and its bindings. */
export function scopeSql(principal: ReportCaller, ownerColumn: string): { sql: string; bindings: Knex.RawBinding[] } {
  if (!isTeamScoped(principal) || principal.kind !== 'user') return { sql: '', bindings: [] };
  if (!principal.teamId) return { sql: ` and ${ownerColumn} = ?`, bindings: [principal.userId] };
  return { sql: ` and ${ownerColumn} in (select id from users where id = ? or team_id = ?)`, bindings: [principal.userId, principal.teamId] };
}
