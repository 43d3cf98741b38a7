import Joi from 'joi';
import { AnyRouteInput, created, defineRoute, noContent, ok, principalOf, RouteDefinition } from '../../http/route';
import { createViewBody, listViewsQuery, updateViewBody, viewParams, viewSchema } from './views.schema';
import { createView, deleteView, getView, listViews, updateView } from './views.service';

export function viewsRoutes(): RouteDefinition[] {
  const tags = ['Saved views'];
  const caller = (input: AnyRouteInput) => principalOf(input, 'user', 'api_key');
  const user = (input: AnyRouteInput) => principalOf(input, 'user');

  return [
    defineRoute({
      method: 'get',
      path: '/views',
      permission: 'authenticated',
      summary: "Saved views the caller sees (their own, their team's, the tenant's) of resources they may read",
      response: { status: 200, description: 'The views', schema: Joi.array().items(viewSchema) },
      tags,
      schema: { query: listViewsQuery },
      handler: async (input) => ok(await listViews(caller(input), input.query.resource)),
    }),
    defineRoute({
      method: 'get',
      path: '/views/:id',
      permission: 'authenticated',
      summary: 'A saved view the caller sees',
      response: { status: 200, description: 'The view', schema: viewSchema },
      tags,
      schema: { params: viewParams },
      handler: async (input) => ok(await getView(caller(input), input.params.id)),
    }),
    defineRoute({
      method: 'post',
      path: '/views',
      auditResource: 'view',
      permission: 'authenticated',
      usersOnly: true,
      summary: "Save a list query (filters, sort, columns) of a resource one may read, for oneself, one's team or the tenant",
      response: { status: 201, description: 'The view', schema: viewSchema },
      tags,
      schema: { body: createViewBody },
      handler: async (input) => created(await createView(user(input), input.body)),
    }),
    defineRoute({
      method: 'patch',
      path: '/views/:id',
      auditResource: 'view',
      permission: 'authenticated',
      usersOnly: true,
      summary: 'Change a saved view (its owner, or a tenant admin)',
      response: { status: 200, description: 'The view', schema: viewSchema },
      tags,
      schema: { params: viewParams, body: updateViewBody },
      handler: async (input) => ok(await updateView(user(input), input.params.id, input.body)),
    }),
    defineRoute({
      method: 'delete',
      path: '/views/:id',
      auditResource: 'view',
      permission: 'authenticated',
      usersOnly: true,
      summary: 'Delete a saved view (its owner, or a tenant admin)',
      tags,
      schema: { params: viewParams },
      handler: async (input) => {
        await deleteView(user(input), input.params.id);
        return noContent();
      },
    }),
  ];
}
