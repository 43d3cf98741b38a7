import { Knex } from 'knex';
import { CHAINED_COLUMNS, chainHash, ChainedEntry } from './audit-chain';

/** Entries sealed per transaction: bounded memory and a short hold of the tenant's chain head. */
const BATCH = 1_000;

/** A pending row as the jobs pool reads it (no name mapping on that pool). */
interface PendingRow {
  id: string;
  occurred_at: Date;
  actor_type: string;
  actor_id: string | null;
  impersonator_id: string | null;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  changes: unknown;
  subject_key_ids: string[] | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  result: string;
  error_code: string | null;
}

interface Head {
  last_seq: number;
  last_hash: string | null;
  anchor_hash: string | null;
}

/**
 * Seals the tenant's pending entries: in append order (append_id), each gets the next seq and
 * hash = sha256(prev_hash || canonical entry), computed from the row as stored. The order is the
 * append order of the entries committed when a batch runs: an entry whose transaction commits after a
 * batch that sealed later-appended entries goes into the next batch. Batches of one tenant never
 * overlap: each holds the tenant's chain head row lock, which requests never take.
 *
 * Runs as the jobs role (the runtime role may not update audit rows at all), whose only UPDATE grant
 * there is seq, prev_hash and hash, and the database lets it set them once, on an unsealed entry, and nothing else. With `skipLocked`
 * a tenant another sealer is busy with is left to it; otherwise this waits for that sealer.
 */
export async function sealTenantAudit(jobsKnex: Knex, tenantId: string, { skipLocked = false } = {}): Promise<number> {
  let sealed = 0;
  for (;;) {
    const batch = await jobsKnex.transaction(async (trx) => {
      await trx.raw("select set_config('app.tenant_id', ?, true)", [tenantId]);
      const head = await lockHead(trx, tenantId, skipLocked);
      if (!head) return 0;
      const rows = await trx('audit_logs')
        .where({ tenant_id: tenantId })
        .whereNull('seq')
        .orderBy('append_id')
        .limit(BATCH)
        .select<PendingRow[]>(PENDING_COLUMNS);
      if (rows.length === 0) return 0;
      let prevHash = head.last_hash ?? head.anchor_hash;
      const seals = rows.map((row, index) => {
        const seq = head.last_seq + index + 1;
        const hash = chainHash(prevHash, chainedEntry(tenantId, seq, row));
        const seal = { id: row.id, seq, prev_hash: prevHash, hash };
        prevHash = hash;
        return seal;
      });
      await trx.raw(
        `update audit_logs a set seq = s.seq, prev_hash = s.prev_hash, hash = s.hash
         from jsonb_to_recordset(?::jsonb) as s(id uuid, seq bigint, prev_hash text, hash text)
         where a.tenant_id = ? and a.id = s.id`,
        [JSON.stringify(seals), tenantId],
      );
      await trx('audit_chain_heads').where({ tenant_id: tenantId }).update({ last_seq: head.last_seq + seals.length, last_hash: prevHash });
      return seals.length;
    });
    sealed += batch;
    if (batch < BATCH) return sealed;
  }
}

/** Every tenant with pending entries, listed through the platform role (the jobs role sees one tenant at a time). */
export async function tenantsWithPendingAudit(platformKnex: Knex): Promise<string[]> {
  const rows = await platformKnex('auditLogs').whereNull('seq').distinct<Array<{ tenantId: string }>>('tenantId').orderBy('tenantId');
  return rows.map((row) => row.tenantId);
}

/** What sealing reads of a pending entry: what the chain hashes (but the tenant and seq it gives), and the id. */
const PENDING_COLUMNS = [
  'id',
  ...CHAINED_COLUMNS.filter((column) => column !== 'tenantId' && column !== 'seq').map((column) => column.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)),
];

/** The head row, locked; created on the tenant's first seal. Undefined when skipping a locked head. */
async function lockHead(trx: Knex.Transaction, tenantId: string, skipLocked: boolean): Promise<Head | undefined> {
  const select = () => {
    const query = trx('audit_chain_heads').where({ tenant_id: tenantId }).forUpdate();
    return (skipLocked ? query.skipLocked() : query).first<Head | undefined>('last_seq', 'last_hash', 'anchor_hash');
  };
  const head = await select();
  if (head) return head;
  await trx('audit_chain_heads').insert({ tenant_id: tenantId }).onConflict('tenant_id').ignore();
  return select();
}

const chainedEntry = (tenantId: string, seq: number, row: PendingRow): ChainedEntry => ({
  tenantId,
  seq,
  occurredAt: row.occurred_at.toISOString(),
  actorType: row.actor_type,
  actorId: row.actor_id,
  impersonatorId: row.impersonator_id,
  action: row.action,
  resourceType: row.resource_type,
  resourceId: row.resource_id,
  changes: row.changes,
  subjectKeyIds: row.subject_key_ids,
  ip: row.ip,
  userAgent: row.user_agent,
  requestId: row.request_id,
  result: row.result,
  errorCode: row.error_code,
});
