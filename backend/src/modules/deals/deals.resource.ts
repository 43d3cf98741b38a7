import Joi from 'joi';
import { tenantScope } from '../../infra/tenant-scope';
import { actorId } from '../auth/principal';
import { dateOnly, id } from '../crm/field-schemas';
import { recordModel } from '../crm/record-model';
import { RecordData, ResourceDefinition, WriteContext } from '../crm/resource-definition';
import { DomainEvent } from '../events/domain-events';

export const DEAL_STAGES = ['qualification', 'needs_analysis', 'proposal', 'negotiation', 'closed_won', 'closed_lost'] as const;
export type DealStage = (typeof DEAL_STAGES)[number];

/** The probability a deal gets when it enters a stage without one being given. */
export const STAGE_PROBABILITY: Record<DealStage, number> = {
  qualification: 10,
  needs_analysis: 25,
  proposal: 50,
  negotiation: 75,
  closed_won: 100,
  closed_lost: 0,
};
const isClosed = (stage: unknown) => stage === 'closed_won' || stage === 'closed_lost';

function prepare(data: RecordData, { existing }: WriteContext): RecordData {
  const stage = (data.stage ?? existing?.stage ?? 'qualification') as DealStage;
  const stageChanged = !existing || (data.stage !== undefined && data.stage !== existing.stage);
  if (stageChanged) {
    if (data.probability === undefined) data.probability = STAGE_PROBABILITY[stage];
    data.closedAt = isClosed(stage) ? new Date() : null;
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

/** A deal moved between stages: the event carries both, for webhooks (`deal.stage_changed`) and Slack. */
const stageChange = (existing: RecordData, updated: RecordData): DomainEvent[] =>
  existing.stage === updated.stage ? [] : [{ type: 'deal.stage_changed', id: updated.id as string, from: (existing.stage as string | null) ?? null, to: updated.stage as string }];

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
    stage: Joi.string().valid(...DEAL_STAGES),
    probability: Joi.number().integer().min(0).max(100),
    expectedCloseDate: dateOnly,
    accountId: id,
    contactId: id,
    ownerId: id,
  },
  required: ['name'],
  references: { accountId: 'accounts', contactId: 'contacts', ownerId: 'users' },
  filters: {
    stage: { column: 'stage', op: '=', schema: Joi.string().valid(...DEAL_STAGES) },
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
  batch: { afterWrite: recordFirstStages },
};
