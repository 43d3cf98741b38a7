import Joi from 'joi';
import { tenantScope } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { actorId } from '../auth/principal';
import { dateOnly, id, externalId, externalIdFilter } from '../crm/field-schemas';
import { ImportRow } from '../crm/import-rows';
import { recordModel } from '../crm/record-model';
import { RecordData, ResourceDefinition, WriteContext } from '../crm/resource-definition';
import { DomainEvent } from '../events/domain-events';
import { defaultPipelineId, stagesOf } from '../pipelines/pipeline-stages';
import { customFieldsShape } from '../custom-fields/custom-field-values';

const notInPipeline = () =>
  new AppError('VALIDATION_ERROR', 'The stage is not one of the pipeline', [{ field: 'stage', message: "is not a stage of the deal's pipeline" }]);

/**
 * A deal is in a pipeline (the default one unless it names another) and in one of its stages (the first
 * one on create; on a move to another pipeline, the same key if that pipeline has it, else its first).
 * Entering a stage gives the stage's probability unless one is sent, and closes the deal in a won or lost one.
 */
async function prepare(data: RecordData, { existing }: WriteContext): Promise<RecordData> {
  const pipelineId = (data.pipelineId ?? existing?.pipelineId ?? (await defaultPipelineId())) as string;
  const stages = await stagesOf(pipelineId);
  const kept = existing && stages.some((stage) => stage.key === existing.stage) ? (existing.stage as string) : stages[0]!.key;
  const key = (data.stage ?? kept) as string;
  const stage = stages.find((candidate) => candidate.key === key);
  if (!stage) throw notInPipeline();
  data.pipelineId = pipelineId;
  data.stage = key;
  if (!existing || key !== existing.stage) {
    if (data.probability === undefined) data.probability = stage.probability;
    data.closedAt = stage.kind === 'open' ? null : new Date();
  }
  return data;
}

/** Every stage a deal enters is recorded with its time and actor. */
async function recordStageChange(deal: RecordData, { existing, principal }: WriteContext): Promise<void> {
  if (existing && existing.stage === deal.stage) return;
  const { trx, tenantId } = tenantScope();
  await trx('dealStageChanges').insert({
    tenantId,
    dealId: deal.id,
    fromStage: existing?.stage ?? null,
    toStage: deal.stage,
    changedBy: actorId(principal),
  });
}

/** A deal moved between stages: the event carries both and the new one's kind, for webhooks (`deal.stage_changed`) and Slack. */
async function stageChange(existing: RecordData, updated: RecordData): Promise<DomainEvent[]> {
  if (existing.stage === updated.stage) return [];
  const stage = (await stagesOf(updated.pipelineId as string)).find((candidate) => candidate.key === updated.stage);
  return [{ type: 'deal.stage_changed', id: updated.id as string, from: (existing.stage as string | null) ?? null, to: updated.stage as string, kind: stage?.kind ?? 'open' }];
}

/**
 * An import's deals name stages of their pipelines (the default one when they name none; deals have no
 * upsert key, so every row is a new deal): a wrong pipeline or stage is that row's error, not the import's.
 */
async function checkStages(rows: ImportRow[]): Promise<void> {
  const named = rows.filter((row) => row.data.pipelineId !== undefined || row.data.stage !== undefined);
  if (!named.length) return;
  const fallback = await defaultPipelineId();
  for (const row of named) {
    const stages = await stagesOf((row.data.pipelineId ?? fallback) as string).catch((error: unknown) => {
      if (error instanceof AppError) return undefined;
      throw error;
    });
    if (!stages) row.errors.push({ row: row.row, field: 'pipelineId', message: 'does not name a pipeline' });
    else if (row.data.stage !== undefined && !stages.some((stage) => stage.key === row.data.stage)) {
      row.errors.push({ row: row.row, field: 'stage', message: "is not a stage of the deal's pipeline" });
    }
  }
}

/** New deals of an import enter their first stage together: one multi-row insert. */
async function recordFirstStages(deals: RecordData[], { principal }: WriteContext): Promise<void> {
  const { trx, tenantId } = tenantScope();
  const changedBy = actorId(principal);
  await trx('dealStageChanges').insert(deals.map((deal) => ({ tenantId, dealId: deal.id, fromStage: null, toStage: deal.stage, changedBy })));
}

export const dealsResource: ResourceDefinition = {
  name: 'deals',
  singular: 'deal',
  model: recordModel('deals'),
  fields: {
    name: Joi.string().trim().min(1).max(200),
    amount: Joi.number().min(0).max(999_999_999_999.99).precision(2),
    currency: Joi.string().uppercase().pattern(/^[A-Z]{3}$/),
    pipelineId: Joi.string().uuid(),
    stage: Joi.string().pattern(/^[a-z][a-z0-9_]{0,39}$/).messages({ 'string.pattern.base': '{{#label}} must be a stage key' }),
    probability: Joi.number().integer().min(0).max(100),
    expectedCloseDate: dateOnly,
    accountId: id,
    contactId: id,
    ownerId: id,
    externalId,
    customFields: customFieldsShape,
  },
  required: ['name'],
  references: { accountId: 'accounts', contactId: 'contacts', ownerId: 'users' },
  filters: {
    externalId: externalIdFilter,
    stage: { column: 'stage', op: '=', schema: Joi.string().pattern(/^[a-z][a-z0-9_]{0,39}$/) },
    pipelineId: { column: 'pipelineId', op: '=', schema: Joi.string().uuid() },
    ownerId: { column: 'ownerId', op: '=', schema: Joi.string().uuid() },
    accountId: { column: 'accountId', op: '=', schema: Joi.string().uuid() },
    amountMin: { column: 'amount', op: '>=', schema: Joi.number().min(0) },
    amountMax: { column: 'amount', op: '<=', schema: Joi.number().min(0) },
    expectedCloseAfter: { column: 'expectedCloseDate', op: '>=', schema: Joi.string().isoDate() },
    expectedCloseBefore: { column: 'expectedCloseDate', op: '<=', schema: Joi.string().isoDate() },
  },
  sorts: {
    name: [{ column: 'name', type: 'text' }],
    amount: [{ column: 'amount', type: 'number' }],
  },
  ownerField: 'ownerId',
  prepare,
  afterWrite: recordStageChange,
  eventsOfUpdate: stageChange,
  batch: { afterWrite: recordFirstStages, check: checkStages },
};
