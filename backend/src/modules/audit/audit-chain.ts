import { canonicalJson } from '../../lib/canonical-json';
import { tenantScope } from '../../infra/tenant-scope';
import { sha256Hex } from '../../lib/crypto';

/** An audit_logs row in exactly the columns its hash covers, as stored (personal values encrypted). */
export interface ChainedEntry {
  tenantId: string;
  seq: number;
  /** ISO-8601 with milliseconds, the precision the writer stores. */
  occurredAt: string;
  actorType: string;
  actorId: string | null;
  impersonatorId: string | null;
  action: string;
  resourceType: string | null;
  resourceId: string | null;
  changes: unknown;
  subjectKeyIds: string[] | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  result: string;
  errorCode: string | null;
}

/** The columns of ChainedEntry, for selecting what verification recomputes. */
export const CHAINED_COLUMNS: readonly (keyof ChainedEntry)[] = [
  'tenantId',
  'seq',
  'occurredAt',
  'actorType',
  'actorId',
  'impersonatorId',
  'action',
  'resourceType',
  'resourceId',
  'changes',
  'subjectKeyIds',
  'ip',
  'userAgent',
  'requestId',
  'result',
  'errorCode',
];

/** The entry under its column names: the hash must not depend on how code happens to name things. */
export const canonicalEntry = (entry: ChainedEntry): string =>
  canonicalJson({
    tenant_id: entry.tenantId,
    seq: entry.seq,
    occurred_at: entry.occurredAt,
    actor_type: entry.actorType,
    actor_id: entry.actorId,
    impersonator_id: entry.impersonatorId,
    action: entry.action,
    resource_type: entry.resourceType,
    resource_id: entry.resourceId,
    changes: entry.changes,
    subject_key_ids: entry.subjectKeyIds,
    ip: entry.ip,
    user_agent: entry.userAgent,
    request_id: entry.requestId,
    result: entry.result,
    error_code: entry.errorCode,
  });

/** sha256(prev_hash || canonical entry), hex; the first entry after the anchor links to it (or to nothing). */
export const chainHash = (prevHash: string | null, entry: ChainedEntry): string => sha256Hex(`${prevHash ?? ''}${canonicalEntry(entry)}`);

/** What the chain holds, and what waits to enter it (the sealer runs every second or two). */
export interface ChainCounts {
  /** Entries the chain holds from its anchor on, i.e. those this verification checks. */
  sealed: number;
  pending: number;
  /** When the oldest pending entry was appended; null when none is pending. */
  oldestPendingAt: string | null;
}

export type ChainVerdict = ChainCounts &
  (
    | { valid: true }
    | {
        valid: false;
        firstBrokenSeq: number;
        /** Null when the break is a missing tail: the head names entries that are gone. */
        firstBrokenId: string | null;
        reason: 'sequence_gap' | 'previous_hash_mismatch' | 'hash_mismatch' | 'missing_entries';
      }
  );

interface StoredRow extends Omit<ChainedEntry, 'occurredAt'> {
  id: string;
  occurredAt: Date;
  prevHash: string | null;
  hash: string;
}

interface HeadAndBacklog {
  last_seq: number | null;
  last_hash: string | null;
  anchor_hash: string | null;
  sealed: number;
  pending: number;
  oldest_pending_at: Date | null;
}

/**
 * Recomputes the tenant's sealed chain in seq order from its anchor, streaming, so memory stays
 * constant however long the trail, and counts the entries not yet sealed. Only entries up to the head
 * read first are checked, and entries sealed after that read count as pending: the head and the counts
 * come from one statement, so they agree with each other.
 */
export async function verifyAuditChain(): Promise<ChainVerdict> {
  const { tenantId, trx } = tenantScope();
  // A raw result's rows keep the database's column names.
  const { rows: states } = await trx.raw<{ rows: HeadAndBacklog[] }>(
    `select h.last_seq, h.last_hash, h.anchor_hash,
       (select count(*) from audit_logs a where a.tenant_id = t.id and a.seq <= coalesce(h.last_seq, 0)) as sealed,
       (select count(*) from audit_logs a where a.tenant_id = t.id and (a.seq is null or a.seq > coalesce(h.last_seq, 0))) as pending,
       (select min(a.occurred_at) from audit_logs a where a.tenant_id = t.id and (a.seq is null or a.seq > coalesce(h.last_seq, 0))) as oldest_pending_at
     from (select ?::uuid as id) t left join audit_chain_heads h on h.tenant_id = t.id`,
    [tenantId],
  );
  const state = states[0]!;
  const backlog: ChainCounts = {
    sealed: state.sealed,
    pending: state.pending,
    oldestPendingAt: state.oldest_pending_at ? state.oldest_pending_at.toISOString() : null,
  };
  if (state.last_seq === null) return { valid: true, ...backlog };
  const head = { lastSeq: state.last_seq, lastHash: state.last_hash, anchorHash: state.anchor_hash };

  let previousHash = head.anchorHash;
  let previousSeq: number | null = null;
  const rows = trx('auditLogs')
    .where({ tenantId })
    .where('seq', '<=', head.lastSeq)
    .orderBy('seq')
    .select('id', 'prevHash', 'hash', ...CHAINED_COLUMNS)
    .stream();
  for await (const row of rows as AsyncIterable<StoredRow>) {
    const broken = (reason: 'sequence_gap' | 'previous_hash_mismatch' | 'hash_mismatch'): ChainVerdict => ({
      valid: false,
      firstBrokenSeq: row.seq,
      firstBrokenId: row.id,
      reason,
      ...backlog,
    });
    // Without an anchor nothing was ever pruned, so the chain must start at 1.
    const expectedSeq: number = previousSeq === null ? (head.anchorHash === null ? 1 : row.seq) : previousSeq + 1;
    if (row.seq !== expectedSeq) return broken('sequence_gap');
    if (row.prevHash !== previousHash) return broken('previous_hash_mismatch');
    if (chainHash(previousHash, { ...row, occurredAt: row.occurredAt.toISOString() }) !== row.hash) return broken('hash_mismatch');
    previousHash = row.hash;
    previousSeq = row.seq;
  }
  if (previousSeq === null ? head.lastHash !== head.anchorHash : previousSeq !== head.lastSeq || previousHash !== head.lastHash) {
    const firstMissing = previousSeq !== null ? previousSeq + 1 : head.anchorHash === null ? 1 : head.lastSeq;
    return { valid: false, firstBrokenSeq: firstMissing, firstBrokenId: null, reason: 'missing_entries', ...backlog };
  }
  return { valid: true, ...backlog };
}
