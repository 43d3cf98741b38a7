import Joi from 'joi';
import { defineRoute, ok, RouteDefinition } from '../../http/route';
import { recordRoutes } from '../crm/record.routes';
import { createRecordsService } from '../crm/records.service';
import { dealsResource } from './deals.resource';
import { dealForecast, dealPipeline } from './deals.service';

export function dealsRoutes(): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/deals/forecast',
      permission: 'deals:read',
      summary: "Forecast: amount and amount x probability by stage and by expected close month, of one pipeline's deals or all",
      tags: ['Deals'],
      schema: { query: Joi.object<{ byOwner: boolean; pipelineId?: string }>({ byOwner: Joi.boolean().default(false), pipelineId: Joi.string().uuid() }) },
      handler: async (input) => ok(await dealForecast(input.query.byOwner, input.query.pipelineId)),
    }),
    defineRoute({
      method: 'get',
      path: '/deals/pipeline',
      permission: 'deals:read',
      summary: "Pipeline: deal counts and amounts per stage, of one pipeline's deals or all",
      tags: ['Deals'],
      schema: { query: Joi.object<{ pipelineId?: string }>({ pipelineId: Joi.string().uuid() }) },
      handler: async (input) => ok(await dealPipeline(input.query.pipelineId)),
    }),
    ...recordRoutes(dealsResource, createRecordsService(dealsResource)),
  ];
}
