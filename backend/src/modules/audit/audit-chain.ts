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

export type ChainVerdict =
  | { valid: true; entries: number }
  | {
      valid: false;
      firstBrokenSeq: number;
      /** Null when the break is a missing tail: the head names entries that are gone. */
      firstBrokenId: string | null;
      reason: 'sequence_gap' | 'previous_hash_mismatch' | 'hash_mismatch' | 'missing_entries';
    };

interface StoredRow extends Omit<ChainedEntry, 'occurredAt'> {
  id: string;
  occurredAt: Date;
  prevHash: string | null;
  hash: string;
}

/**
 * Recomputes the tenant's chain in seq order from its anchor, streaming, so memory stays constant
 * however long the trail. Only entries up to the head read first are checked: entries committed
 * meanwhile are not yet part of what the head vouches for.
 */
export async function verifyAuditChain(): Promise<ChainVerdict> {
  const { tenantId, trx } = tenantScope();
  const head = await trx('auditChainHeads')
    .where({ tenantId })
    .first<{ lastSeq: number; lastHash: string | null; anchorHash: string | null } | undefined>('lastSeq', 'lastHash', 'anchorHash');
  if (!head) return { valid: true, entries: 0 };

  let previousHash = head.anchorHash;
  let previousSeq: number | null = null;
  let entries = 0;
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
    });
    // Without an anchor nothing was ever pruned, so the chain must start at 1.
    const expectedSeq: number = previousSeq === null ? (head.anchorHash === null ? 1 : row.seq) : previousSeq + 1;
    if (row.seq !== expectedSeq) return broken('sequence_gap');
    if (row.prevHash !== previousHash) return broken('previous_hash_mismatch');
    if (chainHash(previousHash, { ...row, occurredAt: row.occurredAt.toISOString() }) !== row.hash) return broken('hash_mismatch');
    previousHash = row.hash;
    previousSeq = row.seq;
    entries += 1;
  }
  if (previousSeq === null ? head.lastHash !== head.anchorHash : previousSeq !== head.lastSeq || previousHash !== head.lastHash) {
    const firstMissing = previousSeq !== null ? previousSeq + 1 : head.anchorHash === null ? 1 : head.lastSeq;
    return { valid: false, firstBrokenSeq: firstMissing, firstBrokenId: null, reason: 'missing_entries' };
  }
  return { valid: true, entries };
}
