import { tenantScope } from '../../infra/tenant-scope';
import { AppError, notFound } from '../../lib/errors';
import { actorId, TenantPrincipal } from '../auth/principal';
import { recordEvent } from '../events/event-context';
import { Pipeline, PipelineStage, presentPipeline, StageDraft } from './pipeline.model';
import { forgetStages } from './pipeline-stages';

export interface PipelineDraft {
  name: string;
  stages: StageDraft[];
}

export interface PipelinePatch {
  name?: string;
  /** The whole new list, in order: stages left out are removed. */
  stages?: StageDraft[];
  /** Where the deals of each removed stage go: `{removedKey: keptKey}`. */
  moveTo?: Record<string, string>;
}

/** Made by the database's own function, the one the migration gave every tenant of its day. */
export async function createDefaultPipeline(tenantId: string): Promise<void> {
  await tenantScope().trx.raw('select app_create_default_pipeline(?)', [tenantId]);
}

async function withStages(pipelines: Pipeline[]) {
  const stages = await PipelineStage.query().whereIn('pipelineId', pipelines.map((pipeline) => pipeline.id)).orderBy('position');
  return pipelines.map((pipeline) => presentPipeline(pipeline, stages.filter((stage) => stage.pipelineId === pipeline.id)));
}

export async function listPipelines() {
  return withStages(await Pipeline.query().orderBy([{ column: 'isDefault', order: 'desc' }, 'createdAt', 'id']));
}

async function load(id: string, lock = false): Promise<Pipeline> {
  const query = Pipeline.query().findById(id);
  if (lock) query.forUpdate();
  const pipeline = await query;
  if (!pipeline) throw notFound('Pipeline');
  return pipeline;
}

export async function getPipeline(id: string) {
  return (await withStages([await load(id)]))[0]!;
}

/** A new deal starts in the first stage: it must be open. */
function assertStages(stages: StageDraft[]): void {
  if (stages[0]?.kind !== 'open') {
    throw new AppError('VALIDATION_ERROR', 'The first stage must be open', [{ field: 'stages.0.kind', message: 'must be open: new deals start there' }]);
  }
}

const stageRows = (pipelineId: string, stages: StageDraft[]) => stages.map((stage, position) => ({ ...stage, pipelineId, position }));

export async function createPipeline(principal: TenantPrincipal, draft: PipelineDraft) {
  assertStages(draft.stages);
  const actor = actorId(principal);
  const pipeline = await Pipeline.query().insert({ name: draft.name, isDefault: false, createdBy: actor, updatedBy: actor } as never).returning('*');
  await PipelineStage.query().insert(stageRows(pipeline.id, draft.stages) as never);
  const shown = await getPipeline(pipeline.id);
  recordEvent({ type: 'pipeline.created', id: pipeline.id, pipeline: shown });
  return shown;
}

/**
 * Deals of each removed stage move where `moveTo` says, with their history recorded as any stage change;
 * a removed stage that still holds deals (deleted ones too: they keep their stage) without a target is a 409.
 */
async function moveDeals(pipelineId: string, removed: string[], kept: StageDraft[], moveTo: Record<string, string>, actor: string | null): Promise<number> {
  const { trx, tenantId } = tenantScope();
  const held: Array<{ stage: string }> = removed.length
    ? await trx('deals').where({ tenantId, pipelineId }).whereIn('stage', removed).distinct('stage')
    : [];
  const problems = held
    .filter(({ stage }) => !kept.some((target) => target.key === moveTo[stage]))
    .map(({ stage }) => ({ field: `moveTo.${stage}`, message: 'must name a kept stage: deals are in this one' }));
  if (problems.length) throw new AppError('CONFLICT', 'A removed stage still holds deals', problems);
  let moved = 0;
  for (const { stage } of held) {
    const target = kept.find((candidate) => candidate.key === moveTo[stage])!;
    const deals: Array<{ id: string }> = await trx('deals')
      .where({ tenantId, pipelineId, stage })
      .update({
        stage: target.key,
        probability: target.probability,
        closedAt: target.kind === 'open' ? null : trx.raw('coalesce(closed_at, now())'),
        updatedBy: actor,
      })
      .returning('id');
    if (deals.length) {
      await trx('dealStageChanges').insert(deals.map((deal) => ({ tenantId, dealId: deal.id, fromStage: stage, toStage: target.key, changedBy: actor })));
    }
    moved += deals.length;
  }
  return moved;
}

export async function updatePipeline(principal: TenantPrincipal, id: string, patch: PipelinePatch) {
  const pipeline = await load(id, true);
  const before = await getPipeline(id);
  const actor = actorId(principal);
  let dealsMoved = 0;
  if (patch.stages) {
    assertStages(patch.stages);
    const keys = new Set(patch.stages.map((stage) => stage.key));
    const removed = before.stages.map((stage) => stage.key).filter((key) => !keys.has(key));
    const existing = new Set(before.stages.map((stage) => stage.key));
    const added = stageRows(id, patch.stages).filter((stage) => !existing.has(stage.key));
    if (added.length) await PipelineStage.query().insert(added as never);
    for (const stage of stageRows(id, patch.stages).filter((row) => existing.has(row.key))) {
      await PipelineStage.query().where({ pipelineId: id, key: stage.key }).patch({ name: stage.name, probability: stage.probability, kind: stage.kind, position: stage.position });
    }
    dealsMoved = await moveDeals(id, removed, patch.stages, patch.moveTo ?? {}, actor);
    if (removed.length) await PipelineStage.query().where({ pipelineId: id }).whereIn('key', removed).delete();
    forgetStages();
  }
  if (patch.name !== undefined || patch.stages) await Pipeline.query().patchAndFetchById(pipeline.id, { name: patch.name ?? pipeline.name, updatedBy: actor } as never);
  const after = await getPipeline(id);
  recordEvent({ type: 'pipeline.updated', id, before: { name: before.name, stages: before.stages }, after: { name: after.name, stages: after.stages }, dealsMoved });
  return after;
}

/** Only a pipeline no deal is in (deleted deals count: they keep theirs), and never the default one. */
export async function deletePipeline(id: string): Promise<void> {
  const pipeline = await load(id, true);
  if (pipeline.isDefault) throw new AppError('CONFLICT', 'The default pipeline cannot be deleted');
  const { trx, tenantId } = tenantScope();
  const inUse = await trx('deals').where({ tenantId, pipelineId: id }).first('id');
  if (inUse) throw new AppError('CONFLICT', 'Deals are in this pipeline: move or delete them first');
  const shown = await getPipeline(id);
  await Pipeline.query().deleteById(id);
  forgetStages();
  recordEvent({ type: 'pipeline.deleted', id, pipeline: shown });
}
