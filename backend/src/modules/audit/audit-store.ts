import { isIP } from 'node:net';
import { insertSelectReturning } from '../../infra/db';
import { currentRequestContext } from '../../infra/request-context';
import { tenantScope } from '../../infra/tenant-scope';
import { canonicalJson } from '../../lib/canonical-json';
import { isSecretName } from '../../lib/secret-names';
import { detectInAuditTrail } from '../security/sign-in-detectors';
import { AuditActor, AuditEvent } from './audit-context';
import { encryptValue, forgetCachedSubjectKeys, isPersonalField, normalizeSubject, recordSubject, SubjectKey, subjectKeyFor } from './audit-crypto';

/** Changed fields only, each with its value before and after; null stands for absent. */
export type AuditChanges = Record<string, { before: unknown; after: unknown }>;

/** A long user agent is noise an attacker could use to bloat the trail. */
const USER_AGENT_MAX = 512;

/**
 * Writes entries in the current tenant transaction: the audit subscriber's (event-registry.ts), just
 * before a unit of work commits, and those of flows that run their own transactions (sign-in).
 */
export async function writeAuditNow(actor: AuditActor, events: AuditEvent[]): Promise<void> {
  await writeEntries(actor, events);
  // The sign-in detectors read what sign-in flows audit (they publish no domain events), in this transaction.
  await detectInAuditTrail(actor, events);
}

/** The fields that differ between two versions of a record, secrets left out. */
export function diffChanges(before?: Record<string, unknown> | null, after?: Record<string, unknown> | null): AuditChanges {
  const changes: AuditChanges = {};
  for (const field of new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])) {
    // Never in the trail, at any depth.
    if (isSecretName(field)) continue;
    const was = storable(before?.[field]);
    const now = storable(after?.[field]);
    if (canonicalJson(was) !== canonicalJson(now)) changes[field] = { before: was, after: now };
  }
  return changes;
}

/** The value as jsonb will give it back (dates as ISO strings, undefined as null), secrets dropped. */
function storable(value: unknown): unknown {
  if (value === undefined) return null;
  return JSON.parse(JSON.stringify(value, (field, inner: unknown) => (field && isSecretName(field) ? undefined : inner)) ?? 'null');
}

interface EncryptedEvent {
  event: AuditEvent;
  changes: AuditChanges | null;
  subjectKeyIds: string[] | null;
}

interface Encryption {
  events: EncryptedEvent[];
  /** The subjects whose keys encrypted something, and those keys' ids: the insert checks they still exist. */
  subjects: string[];
  liveKeyIds: string[];
}

/** A cached key found gone at insert is retried uncached; a second miss means erasures keep racing this write. */
const ENCRYPTION_ATTEMPTS = 3;

/**
 * Appends the entries unsealed, in the current tenant transaction, so they commit with the change they
 * describe; the sealer gives them seqs and hashes afterwards (audit-sealer.ts). No lock is taken: a
 * tenant's concurrent writers never wait for each other here.
 */
async function writeEntries(actor: AuditActor, events: AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  for (let attempt = 1; ; attempt += 1) {
    const encryption = await encryptPersonalData(events, { fresh: attempt > 1 });
    if (await appendEntries(actor, encryption)) return;
    forgetCachedSubjectKeys(encryption.subjects);
    if (attempt === ENCRYPTION_ATTEMPTS) throw new Error('The audit entries could not be written: their subjects\' keys kept changing');
  }
}

/**
 * One statement: the rows go in, in the order given (append_id follows it), only if every key that
 * encrypted a value still holds its material, so a key erased meanwhile (and still cached) never
 * encrypts a committed entry. Answers false when that check refused the insert.
 */
async function appendEntries(actor: AuditActor, { events, liveKeyIds }: Encryption): Promise<boolean> {
  const { tenantId, trx, knex } = tenantScope();
  const requestId = actor.requestId ?? currentRequestContext()?.requestId ?? null;
  const rows = events.map(({ event, changes, subjectKeyIds }) => ({
    actor_type: actor.actorType,
    actor_id: actor.actorId,
    impersonator_id: actor.impersonatorId ?? null,
    action: event.action,
    resource_type: event.resourceType ?? null,
    resource_id: event.resourceId ?? null,
    changes,
    subject_key_ids: subjectKeyIds,
    ip: actor.ip && isIP(actor.ip) ? actor.ip : null,
    user_agent: actor.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
    request_id: requestId,
    result: event.result ?? 'success',
    error_code: event.errorCode ?? null,
  }));
  const result = await trx.raw<{ rowCount: number }>(
    `insert into audit_logs (tenant_id, occurred_at, ${ROW_COLUMNS.map(([name]) => name).join(', ')})
     select :tenantId, date_trunc('milliseconds', clock_timestamp()), ${ROW_COLUMNS.map(([name]) => `e.${name}`).join(', ')}
     from rows from (jsonb_to_recordset(:rows) as (${ROW_COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ')})) with ordinality as e
     where (select count(*) from data_subject_keys k
            where k.tenant_id = :tenantId and k.id = any(:liveKeyIds) and k.key_material is not null) = :liveKeys
     order by e.ordinality ${insertSelectReturning(knex)}`,
    { tenantId, rows: JSON.stringify(rows), liveKeyIds: trx.raw('?::uuid[]', [liveKeyIds]), liveKeys: liveKeyIds.length },
  );
  return result.rowCount === rows.length;
}

/** The columns a writer fills, with their types for jsonb_to_recordset. */
const ROW_COLUMNS: ReadonlyArray<[name: string, type: string]> = [
  ['actor_type', 'text'],
  ['actor_id', 'uuid'],
  ['impersonator_id', 'uuid'],
  ['action', 'text'],
  ['resource_type', 'text'],
  ['resource_id', 'uuid'],
  ['changes', 'jsonb'],
  ['subject_key_ids', 'uuid[]'],
  ['ip', 'inet'],
  ['user_agent', 'text'],
  ['request_id', 'text'],
  ['result', 'text'],
  ['error_code', 'text'],
];

async function encryptPersonalData(events: AuditEvent[], { fresh }: { fresh: boolean }): Promise<Encryption> {
  const drafts = events.map((event) => {
    const changes = diffChanges(event.before, event.after);
    const personal = Object.keys(changes).filter((field) => isPersonalField(event.resourceType, field));
    return { event, changes, personal, subject: personal.length > 0 ? subjectOf(event) : null };
  });
  const subjects = [...new Set(drafts.flatMap((draft) => (draft.subject ? [draft.subject] : [])))].sort();
  const keys = await subjectKeys(subjects, fresh);
  const encrypted = drafts.map(({ event, changes, personal, subject }) => {
    const key = subject ? keys.get(subject) : undefined;
    if (!key) return { event, changes: Object.keys(changes).length > 0 ? changes : null, subjectKeyIds: null };
    for (const field of personal) {
      const { before, after } = changes[field]!;
      changes[field] = { before: encrypt(before, key), after: encrypt(after, key) };
    }
    return { event, changes, subjectKeyIds: [key.id] };
  });
  const liveKeyIds = [...new Set([...keys.values()].filter((key) => key.key !== null).map((key) => key.id))];
  return { events: encrypted, subjects, liveKeyIds };
}

const encrypt = (value: unknown, key: SubjectKey): unknown => (value === null ? null : encryptValue(value, key));

/** Without an email, the record itself is the subject, so erasing the record can still shred its data. */
function subjectOf(event: AuditEvent): string {
  if (event.subject?.trim()) return normalizeSubject(event.subject);
  if (event.resourceType && event.resourceId) return normalizeSubject(recordSubject(event.resourceType, event.resourceId));
  throw new Error(`Audit event "${event.action}" carries personal data but names neither a subject nor a resource`);
}

/** In one order for every writer, so two transactions creating the same keys cannot deadlock. */
async function subjectKeys(sortedSubjects: string[], fresh: boolean): Promise<Map<string, SubjectKey>> {
  const keys = new Map<string, SubjectKey>();
  for (const subject of sortedSubjects) keys.set(subject, await subjectKeyFor(subject, { fresh }));
  return keys;
}
