import { isIP } from 'node:net';
import { Knex } from 'knex';
import { PlatformAdminPrincipal } from '../auth/principal';

/** Who changed something from the console, for platform_audit_logs. */
export interface PlatformActor {
  /** The admin who acts (a signed-in principal, or the admin a sign-in flow is about). */
  principal: Pick<PlatformAdminPrincipal, 'adminId'>;
  ip: string;
  userAgent?: string;
  requestId: string;
}

export interface PlatformAuditEntry {
  action: string;
  tenantId?: string | null;
  targetType: string;
  targetId?: string | null;
  details: Record<string, unknown>;
}

const USER_AGENT_MAX = 512;

const rowsOf = (actor: PlatformActor, entries: PlatformAuditEntry[]) =>
  entries.map((entry) => ({
    actorType: 'platform_admin',
    actorId: actor.principal.adminId,
    action: entry.action,
    tenantId: entry.tenantId ?? null,
    targetType: entry.targetType,
    targetId: entry.targetId ?? null,
    details: JSON.stringify(entry.details),
    ip: isIP(actor.ip) ? actor.ip : null,
    userAgent: actor.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
    requestId: actor.requestId,
  }));

/**
 * Writes console actions to platform_audit_logs, in the caller's transaction so they commit with the
 * change: a transaction of the platform pool (the runtime role may not touch the table).
 */
export async function recordPlatformAudit(trx: Knex | Knex.Transaction, actor: PlatformActor, entries: PlatformAuditEntry[]): Promise<void> {
  await trx('platformAuditLogs').insert(rowsOf(actor, entries));
}

/**
 * The same, for a staff action that writes tenant data (a support reply, a tenant made from the console):
 * in the runtime pool's tenant transaction, through app_record_platform_audit(), which writes only
 * entries about the bound tenant by an existing staff member (migrations/20261202000100_least_privilege.js).
 */
export async function recordPlatformAuditInTenant(trx: Knex.Transaction, actor: PlatformActor, entries: PlatformAuditEntry[]): Promise<void> {
  // The function reads snake_case keys: raw JSON, which the pool's name mapping does not touch.
  const rows = rowsOf(actor, entries).map((row, index) => ({
    actor_id: row.actorId,
    action: row.action,
    tenant_id: row.tenantId,
    target_type: row.targetType,
    target_id: row.targetId,
    details: entries[index]!.details,
    ip: row.ip,
    user_agent: row.userAgent,
    request_id: row.requestId,
  }));
  await trx.raw('select app_record_platform_audit(?::jsonb)', [JSON.stringify(rows)]);
}
