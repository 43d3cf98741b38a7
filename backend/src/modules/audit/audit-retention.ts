import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Knex } from 'knex';
import { setLocal } from '../../infra/local-settings';

const gzipAsync = promisify(gzip);

/** Entries per archive: one archive, one transaction, bounded memory. */
const BATCH = 5_000;

export interface PruneResult {
  archives: number;
  entries: number;
}

/**
 * Archives, then deletes, the tenant's sealed audit entries older than the cutoff, oldest first and
 * always a prefix of the chain (an entry still pending waits for the next run): each batch stores the
 * stored rows (personal values still encrypted) as gzipped NDJSON, deletes them, and records the last deleted hash as the chain's anchor, in one transaction, so
 * verification still succeeds from the anchor on. Runs as the jobs role (the runtime role cannot delete
 * audit rows; the jobs role may, under app.audit_prune), scoped to the tenant by row-level security and by every statement's own filter.
 */
export async function pruneTenantAudit(jobsKnex: Knex, tenantId: string, cutoff: Date): Promise<PruneResult> {
  const result: PruneResult = { archives: 0, entries: 0 };
  for (;;) {
    const pruned = await jobsKnex.transaction(async (trx) => {
      await setLocal(trx, 'app.tenant_id', tenantId);
      await setLocal(trx, 'app.audit_prune', 'on');
      // Taking the head serializes with the sealer, which locks it to extend the chain; pending entries have no seq and stay.
      const head = await trx('audit_chain_heads').where({ tenant_id: tenantId }).forUpdate().first<{ last_seq: number } | undefined>('last_seq');
      if (!head) return 0;
      // A prefix of the chain: everything before the first entry that is still within retention.
      const kept = await trx('audit_logs')
        .where({ tenant_id: tenantId })
        .andWhere('occurred_at', '>=', cutoff)
        .min<{ seq: number | null }>('seq as seq')
        .first();
      const endSeq = kept?.seq ?? head.last_seq + 1;
      const rows = await trx('audit_logs')
        .where({ tenant_id: tenantId })
        .andWhere('seq', '<', endSeq)
        .orderBy('seq')
        .limit(BATCH)
        .select<Array<Record<string, unknown> & { seq: number; hash: string; occurred_at: Date }>>('*');
      if (rows.length === 0) return 0;
      const first = rows[0]!;
      const last = rows[rows.length - 1]!;
      const content = await gzipAsync(Buffer.from(rows.map((row) => JSON.stringify(row)).join('\n') + '\n'));
      await trx('audit_archives').insert({
        tenant_id: tenantId,
        first_seq: first.seq,
        last_seq: last.seq,
        entry_count: rows.length,
        oldest_at: first.occurred_at,
        newest_at: last.occurred_at,
        last_hash: last.hash,
        content_sha256: createHash('sha256').update(content).digest('hex'),
        content,
      });
      await trx('audit_logs').where({ tenant_id: tenantId }).andWhereBetween('seq', [first.seq, last.seq]).delete();
      await trx('audit_chain_heads').where({ tenant_id: tenantId }).update({ anchor_hash: last.hash });
      return rows.length;
    });
    if (pruned === 0) return result;
    result.archives += 1;
    result.entries += pruned;
  }
}
