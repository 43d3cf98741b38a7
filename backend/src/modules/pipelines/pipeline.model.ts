import { TenantModel } from '../../infra/tenant-model';

export const STAGE_KINDS = ['open', 'won', 'lost'] as const;
export type StageKind = (typeof STAGE_KINDS)[number];

/** A tenant's sales process: deals of it move through its stages. */
export class Pipeline extends TenantModel {
  static override tableName = 'pipelines';

  name!: string;
  isDefault!: boolean;
  createdAt!: Date;
  updatedAt!: Date;
}

export class PipelineStage extends TenantModel {
  static override tableName = 'pipeline_stages';

  pipelineId!: string;
  key!: string;
  name!: string;
  probability!: number;
  kind!: StageKind;
  position!: number;
}

export interface StageDraft {
  key: string;
  name: string;
  probability: number;
  kind: StageKind;
}

/** A pipeline as the API shows it, its stages in order. */
export const presentPipeline = (pipeline: Pipeline, stages: PipelineStage[]) => ({
  id: pipeline.id,
  name: pipeline.name,
  isDefault: pipeline.isDefault,
  stages: stages.map(({ key, name, probability, kind }) => ({ key, name, probability, kind })),
  createdAt: pipeline.createdAt,
  updatedAt: pipeline.updatedAt,
});
