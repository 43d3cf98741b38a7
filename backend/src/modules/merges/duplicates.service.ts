import { tenantScope } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { TenantPrincipal } from '../auth/principal';
import { ownersInScope } from '../crm/record-access';
import { presentRecord } from '../crm/record-model';
import type { RecordData } from '../crm/resource-definition';
import type { MergeableDefinition } from './merges.service';
import { candidateConditions, DuplicateReason, MIN_SCORE, NAME_SIMILARITY_SQL, probeOf, scoreCandidate } from './duplicate-rules';

/** Rows sharing a value with the record, looked at before scoring: past this, the closest names are kept. */
const CANDIDATES_READ = 200;

export interface Duplicate {
  id: string;
  score: number;
  reasons: DuplicateReason[];
  record: RecordData;
}

/**
 * Live records of the resource that are likely the same as `data` (a stored record, or one about to be
 * created), best first: each with its score and the reasons. `excludeId` leaves the record itself out.
 * A sales user sees only candidates of their own and their team's: those are the ones they could merge.
 */
export async function findDuplicates(
  def: MergeableDefinition,
  principal: TenantPrincipal,
  data: RecordData,
  options: { excludeId?: string; limit: number },
): Promise<Duplicate[]> {
  const probe = probeOf(def.name, data);
  const conditions = candidateConditions(probe);
  if (conditions.length === 0) return [];
  const { trx } = tenantScope();
  const query = trx(def.model.tableName)
    .whereNull('deletedAt')
    .where((any) => {
      for (const condition of conditions) any.orWhereRaw(condition.sql, condition.bindings);
    })
    .select('*', trx.raw(`${NAME_SIMILARITY_SQL} as name_similarity`, [probe.name ?? '']))
    .orderBy('nameSimilarity', 'desc')
    .orderBy('id')
    .limit(CANDIDATES_READ);
  if (options.excludeId) query.whereNot('id', options.excludeId);
  const owners = await ownersInScope(principal);
  if (owners && def.ownerField) query.whereIn(def.ownerField, [...owners]);
  const rows = (await query) as Array<RecordData & { nameSimilarity: number }>;
  return rows
    .map(({ nameSimilarity, ...row }) => {
      const { score, reasons } = scoreCandidate(def.name, probe, row, Number(nameSimilarity));
      return { id: row.id as string, score, reasons, record: presentRecord(row, def.present) };
    })
    .filter((candidate) => candidate.score >= MIN_SCORE)
    .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id))
    .slice(0, options.limit);
}

/** `?onDuplicate=reject` on create: 409 DUPLICATE_FOUND naming each candidate (id, score, reasons) in `details`. */
export async function rejectDuplicates(def: MergeableDefinition, principal: TenantPrincipal, data: RecordData): Promise<void> {
  const candidates = await findDuplicates(def, principal, data, { limit: 10 });
  if (candidates.length === 0) return;
  throw new AppError(
    'DUPLICATE_FOUND',
    `This ${def.singular} looks like ${candidates.length} existing one(s); create it without onDuplicate=reject to store it anyway, or merge`,
    candidates.map((candidate) => ({
      field: 'duplicateOf',
      message: `${candidate.id} score ${candidate.score.toFixed(2)} (${[...new Set(candidate.reasons.map((reason) => reason.reason))].join(', ')})`,
    })),
  );
}
