import Joi from 'joi';
import { AnyRouteInput, created, defineRoute, noContent, ok, principalOf, RouteDefinition } from '../../http/route';
import { createPipelineBody, pipelineParams, pipelineSchema, updatePipelineBody } from './pipelines.schema';
import { createPipeline, deletePipeline, getPipeline, listPipelines, updatePipeline } from './pipelines.service';

export function pipelinesRoutes(): RouteDefinition[] {
  const tags = ['Pipelines'];
  const caller = (input: AnyRouteInput) => principalOf(input, 'user', 'api_key');

  return [
    defineRoute({
      method: 'get',
      path: '/pipelines',
      permission: 'deals:read',
      summary: 'Deal pipelines with their stages in order, the default one first',
      response: { status: 200, description: 'Every pipeline', schema: Joi.array().items(pipelineSchema) },
      tags,
      handler: async () => ok(await listPipelines()),
    }),
    defineRoute({
      method: 'get',
      path: '/pipelines/:id',
      permission: 'deals:read',
      summary: 'A pipeline with its stages in order',
      response: { status: 200, description: 'The pipeline', schema: pipelineSchema },
      tags,
      schema: { params: pipelineParams },
      handler: async (input) => ok(await getPipeline(input.params.id)),
    }),
    defineRoute({
      method: 'post',
      path: '/pipelines',
      auditResource: 'pipeline',
      permission: 'pipelines:manage',
      summary: 'Create a pipeline: a name and its stages in order (the first one open)',
      response: { status: 201, description: 'The pipeline', schema: pipelineSchema },
      tags,
      schema: { body: createPipelineBody },
      handler: async (input) => created(await createPipeline(caller(input), input.body)),
    }),
    defineRoute({
      method: 'patch',
      path: '/pipelines/:id',
      auditResource: 'pipeline',
      permission: 'pipelines:manage',
      summary: 'Rename a pipeline, or give its whole stage list (reordered, renamed, added); deals of a removed stage need moveTo',
      response: { status: 200, description: 'The pipeline', schema: pipelineSchema },
      tags,
      schema: { params: pipelineParams, body: updatePipelineBody },
      handler: async (input) => ok(await updatePipeline(caller(input), input.params.id, input.body)),
    }),
    defineRoute({
      method: 'delete',
      path: '/pipelines/:id',
      auditResource: 'pipeline',
      permission: 'pipelines:manage',
      summary: 'Delete a pipeline no deal is in (not the default one)',
      tags,
      schema: { params: pipelineParams },
      handler: async (input) => {
        await deletePipeline(input.params.id);
        return noContent();
      },
    }),
  ];
}
