import { tenantScope } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { Pipeline, PipelineStage } from './pipeline.model';

/** Stages by pipeline, read once per transaction: an import asks for every row. */
const stagesByTransaction = new WeakMap<object, Map<string, PipelineStage[]>>();
const defaultByTransaction = new WeakMap<object, string>();

/** The stages of a pipeline in order; an unknown pipeline is a 400 on the deal's `pipelineId`. */
export async function stagesOf(pipelineId: string): Promise<PipelineStage[]> {
  const { trx } = tenantScope();
  let known = stagesByTransaction.get(trx);
  if (!known) stagesByTransaction.set(trx, (known = new Map()));
  const cached = known.get(pipelineId);
  if (cached) return cached;
  const stages = await PipelineStage.query().where({ pipelineId }).orderBy('position');
  if (!stages.length) throw new AppError('VALIDATION_ERROR', 'The pipeline does not exist', [{ field: 'pipelineId', message: 'does not name a pipeline' }]);
  known.set(pipelineId, stages);
  return stages;
}

/** The tenant's default pipeline: where a deal goes when it names none. */
export async function defaultPipelineId(): Promise<string> {
  const { trx } = tenantScope();
  const cached = defaultByTransaction.get(trx);
  if (cached) return cached;
  const pipeline = await Pipeline.query().where({ isDefault: true }).first();
  if (!pipeline) throw new Error('The organization has no default pipeline');
  defaultByTransaction.set(trx, pipeline.id);
  return pipeline.id;
}

/** A pipeline's stages changed in this transaction: later reads see the new ones. */
export const forgetStages = (): void => {
  stagesByTransaction.delete(tenantScope().trx);
};
