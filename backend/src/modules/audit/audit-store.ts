import { isIP } from 'node:net';
import { Knex } from 'knex';
import { currentRequestContext } from '../../infra/request-context';
import { tenantScope } from '../../infra/tenant-scope';
import { canonicalJson } from '../../lib/canonical-json';
import { chainHash, ChainedEntry } from './audit-chain';
import { AuditActor, AuditEvent } from './audit-context';
import { encryptValue, isPersonalField, normalizeSubject, recordSubject, SubjectKey, subjectKeyFor } from './audit-crypto';

/** Changed fields only, each with its value before and after; null stands for absent. */
export type AuditChanges = Record<string, { before: unknown; after: unknown }>;

/** Never in the trail, at any depth: passwords and their hashes, token and key hashes, secrets, issued keys. */
const SECRET_FIELD = /password|secret|token|hash|^key$/i;

/** A long user agent is noise an attacker could use to bloat the trail. */
const USER_AGENT_MAX = 512;

/**
 * Writes entries in the current tenant transaction: the audit subscriber's (event-registry.ts), just
 * before a unit of work commits, and those of flows that run their own transactions (sign-in).
 */
export async function writeAuditNow(actor: AuditActor, events: AuditEvent[]): Promise<void> {
  await writeEntries(actor, events);
}

/** The fields that differ between two versions of a record, secrets left out. */
export function diffChanges(before?: Record<string, unknown> | null, after?: Record<string, unknown> | null): AuditChanges {
  const changes: AuditChanges = {};
  for (const field of new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])) {
    if (SECRET_FIELD.test(field)) continue;
    const was = storable(before?.[field]);
    const now = storable(after?.[field]);
    if (canonicalJson(was) !== canonicalJson(now)) changes[field] = { before: was, after: now };
  }
  return changes;
}

/** The value as jsonb will give it back (dates as ISO strings, undefined as null), secrets dropped. */
function storable(value: unknown): unknown {
  if (value === undefined) return null;
  return JSON.parse(JSON.stringify(value, (field, inner: unknown) => (field && SECRET_FIELD.test(field) ? undefined : inner)) ?? 'null');
}

interface SealedEvent {
  event: AuditEvent;
  changes: AuditChanges | null;
  subjectKeyIds: string[] | null;
}

/**
 * Personal data is encrypted before the chain lock is taken, so the lock is held only for the
 * insert itself; entries get consecutive seqs and each one's hash covers the previous hash.
 */
async function writeEntries(actor: AuditActor, events: AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  const { tenantId, trx } = tenantScope();
  const sealed = await sealPersonalData(events);
  const head = await lockChainHead(trx, tenantId, actor.ip);
  let prevHash = head.lastHash ?? head.anchorHash;
  const rows = sealed.map(({ event, changes, subjectKeyIds }, index) => {
    const entry: ChainedEntry = {
      tenantId,
      seq: head.lastSeq + index + 1,
      occurredAt: head.now.toISOString(),
      actorType: actor.actorType,
      actorId: uuidText(actor.actorId),
      impersonatorId: uuidText(actor.impersonatorId),
      action: event.action,
      resourceType: event.resourceType ?? null,
      resourceId: uuidText(event.resourceId),
      changes,
      subjectKeyIds,
      ip: head.ip,
      userAgent: actor.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
      requestId: actor.requestId ?? currentRequestContext()?.requestId ?? null,
      result: event.result ?? 'success',
      errorCode: event.errorCode ?? null,
    };
    const hash = chainHash(prevHash, entry);
    const row = { ...entry, changes: changes && JSON.stringify(changes), prevHash, hash };
    prevHash = hash;
    return row;
  });
  await trx('auditLogs').insert(rows);
  await trx('auditChainHeads').where({ tenantId }).update({ lastSeq: head.lastSeq + rows.length, lastHash: prevHash });
}

interface ChainHead {
  lastSeq: number;
  lastHash: string | null;
  anchorHash: string | null;
  /** The database clock, once the lock is held, so occurred_at follows seq across API instances. */
  now: Date;
  /** The client address as inet stores and returns it (the hash covers the stored text). */
  ip: string | null;
}

/** Serializes the tenant's writers on its chain head row, creating the row on the tenant's first entry. */
async function lockChainHead(trx: Knex.Transaction, tenantId: string, ip: string | null | undefined): Promise<ChainHead> {
  const select = () =>
    trx('auditChainHeads')
      .where({ tenantId })
      .forUpdate()
      .first<ChainHead | undefined>(
        'lastSeq',
        'lastHash',
        'anchorHash',
        trx.raw("date_trunc('milliseconds', clock_timestamp()) as now"),
        trx.raw('?::inet as ip', [ip && isIP(ip) ? ip : null]),
      );
  const head = await select();
  if (head) return head;
  await trx('auditChainHeads').insert({ tenantId }).onConflict('tenantId').ignore();
  const created = await select();
  if (!created) throw new Error('The audit chain head could not be created');
  return created;
}

async function sealPersonalData(events: AuditEvent[]): Promise<SealedEvent[]> {
  const drafts = events.map((event) => {
    const changes = diffChanges(event.before, event.after);
    const personal = Object.keys(changes).filter((field) => isPersonalField(event.resourceType, field));
    return { event, changes, personal, subject: personal.length > 0 ? subjectOf(event) : null };
  });
  const keys = await subjectKeys(drafts.flatMap((draft) => (draft.subject ? [draft.subject] : [])));
  return drafts.map(({ event, changes, personal, subject }) => {
    const key = subject ? keys.get(subject) : undefined;
    if (!key) return { event, changes: Object.keys(changes).length > 0 ? changes : null, subjectKeyIds: null };
    for (const field of personal) {
      const { before, after } = changes[field]!;
      changes[field] = { before: seal(before, key), after: seal(after, key) };
    }
    return { event, changes, subjectKeyIds: [key.id] };
  });
}

const seal = (value: unknown, key: SubjectKey): unknown => (value === null ? null : encryptValue(value, key));

/** Without an email, the record itself is the subject, so erasing the record can still shred its data. */
function subjectOf(event: AuditEvent): string {
  if (event.subject?.trim()) return normalizeSubject(event.subject);
  if (event.resourceType && event.resourceId) return normalizeSubject(recordSubject(event.resourceType, event.resourceId));
  throw new Error(`Audit event "${event.action}" carries personal data but names neither a subject nor a resource`);
}

/** In one order for every writer, so two transactions creating the same keys cannot deadlock. */
async function subjectKeys(subjects: string[]): Promise<Map<string, SubjectKey>> {
  const keys = new Map<string, SubjectKey>();
  for (const subject of [...new Set(subjects)].sort()) keys.set(subject, await subjectKeyFor(subject));
  return keys;
}

/** PostgreSQL prints uuids in lower case; the hash must match what reads back. */
const uuidText = (value: string | null | undefined): string | null => value?.toLowerCase() ?? null;
