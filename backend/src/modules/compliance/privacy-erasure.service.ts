import { tenantScope } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { recordEvent } from '../events/event-context';
import { destroySubjectKey, destroySubjectKeysById, ERASED, recordSubject, subjectHash } from '../audit/audit-crypto';
import { actorId, TenantPrincipal } from '../auth/principal';
import { revokeSessions } from '../auth/sessions.service';
import { findSubjectRecords, FREE_TEXT, literalPattern, RESOURCE_TYPE } from './data-subject';
import { subjectRef, subjectsOf } from './privacy-access.service';

export interface ErasureResult {
  subjectRef: string;
  leads: number;
  contacts: number;
  users: number;
  /** Records whose free text named the person, now scrubbed, by table. */
  scrubbed: Record<string, number>;
  /** Audit subject keys destroyed by this call (crypto-shredding); 0 when a previous call already did. */
  auditKeysDestroyed: number;
}

/** The same person always gets the same pseudonym, so erased records stay linked to each other, and to nobody. */
function pseudonym(email: string): { email: string; name: string } {
  const ref = subjectRef(email);
  return { email: `erased-${ref}@erased.invalid`, name: `erased-${ref}` };
}

/**
 * GDPR Art. 17: anonymises the person in every table of the tenant and shreds their data in the audit
 * trail by destroying the subject keys it is encrypted under (no audit row changes, so the hash chain
 * still verifies). A user with this email is anonymised, disabled and signed out, unless they are the
 * caller or the organization's last active tenant admin (409). Idempotent: a second call finds nothing
 * left to change and answers zero counts.
 */
export async function eraseSubject(principal: TenantPrincipal, email: string): Promise<ErasureResult> {
  const { tenantId, trx } = tenantScope();
  const records = await findSubjectRecords(email);
  const alias = pseudonym(email);
  const actor = actorId(principal);
  for (const user of records.users) await assertErasable(principal, user.id);

  const anonymised = { firstName: 'Erased', lastName: alias.name, email: alias.email, updatedBy: actor };
  const ids = (rows: Array<{ id: string }>) => rows.map((row) => row.id);
  if (records.leads.length) {
    await trx('leads')
      .where({ tenantId })
      .whereIn('id', ids(records.leads))
      .update({ ...anonymised, phone: null, title: null, notes: null, attributes: '{}' });
  }
  if (records.contacts.length) {
    await trx('contacts').where({ tenantId }).whereIn('id', ids(records.contacts)).update({ ...anonymised, phone: null, title: null, address: null });
  }
  for (const user of records.users) {
    await trx('users')
      .where({ tenantId, id: user.id })
      .update({
        ...anonymised,
        status: 'disabled',
        passwordHash: null,
        inviteTokenHash: null,
        inviteExpiresAt: null,
        deletedAt: trx.raw('coalesce(deleted_at, now())'),
      });
    await revokeSessions({ userId: user.id }, 'user_erased');
    await trx('sessions').where({ tenantId, userId: user.id }).update({ ip: null, userAgent: null });
  }

  const pattern = literalPattern([email, ...records.names]);
  const scrubbed: Record<string, number> = {};
  const scrubbedSubjects: string[] = [];
  for (const [table, columns] of Object.entries(FREE_TEXT)) {
    const rows = records.mentions[table] ?? [];
    scrubbed[table] = rows.length;
    if (rows.length === 0) continue;
    const changes = Object.fromEntries(columns.map((column) => [column, trx.raw("regexp_replace(??, ?, ?, 'gi')", [column, pattern, ERASED])]));
    await trx(table).where({ tenantId }).whereIn('id', ids(rows)).update({ ...changes, updatedBy: actor });
    scrubbedSubjects.push(...rows.map((row) => recordSubject(RESOURCE_TYPE[table]!, row.id)));
  }

  const auditKeysDestroyed = await shredAuditSubjects(
    [...subjectsOf(email, records), ...scrubbedSubjects],
    [...ids(records.leads), ...ids(records.contacts), ...ids(records.users), ...Object.values(records.mentions).flatMap(ids)],
  );
  const result: ErasureResult = {
    subjectRef: subjectRef(email),
    leads: records.leads.length,
    contacts: records.contacts.length,
    users: records.users.length,
    scrubbed,
    auditKeysDestroyed,
  };
  recordEvent({ type: 'privacy.erased', result: { ...result } });
  return result;
}

/** Erasing oneself or the last active tenant admin would lock the organization out: refused. */
async function assertErasable(principal: TenantPrincipal, userId: string): Promise<void> {
  if (principal.kind === 'user' && principal.userId === userId) {
    throw new AppError('CONFLICT', 'You cannot erase yourself; another tenant admin can', [{ field: 'email', message: 'is the caller' }]);
  }
  const { tenantId, trx } = tenantScope();
  const admins = await trx('users as u')
    .join('roles as r', 'r.id', 'u.roleId')
    .where({ 'u.tenantId': tenantId, 'r.key': 'tenant_admin', 'u.status': 'active' })
    .whereNull('u.deletedAt')
    .pluck<string[]>('u.id');
  if (admins.includes(userId) && admins.length === 1) {
    throw new AppError('CONFLICT', 'The last active tenant admin cannot be erased', [{ field: 'email', message: 'is the last active tenant admin' }]);
  }
}

/**
 * Destroys the keys of the person's subjects (their email, each of their records) and every key of an
 * audit entry about one of those records (an email the record had before), and answers how many live
 * keys were destroyed. Future entries about these subjects store `[erased]`.
 */
async function shredAuditSubjects(subjects: string[], recordIds: string[]): Promise<number> {
  const { tenantId, trx } = tenantScope();
  const hashes = subjects.map(subjectHash);
  const live = () =>
    trx('dataSubjectKeys')
      .where({ tenantId })
      .whereNotNull('keyMaterial')
      .where((any) => {
        any.whereIn('subjectHash', hashes);
        if (recordIds.length) {
          any.orWhereRaw('id in (select unnest(a.subject_key_ids) from audit_logs a where a.tenant_id = ? and a.resource_id = any(?::uuid[]))', [tenantId, recordIds]);
        }
      });
  const doomed = await live().pluck<string[]>('id');
  // In one order, as the audit writer takes keys, so a concurrent writer cannot deadlock with this.
  for (const subject of [...new Set(subjects)].sort()) await destroySubjectKey(subject);
  await destroySubjectKeysById(doomed);
  return doomed.length;
}
