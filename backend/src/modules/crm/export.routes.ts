import Joi from 'joi';
import { AppError } from '../../lib/errors';
import { defineRoute, principalOf, RouteDefinition } from '../../http/route';
import { listQueryWithView } from '../views/views.service';
import { exportRecords } from './export.service';
import { ListFilterParams, listQuerySchema } from './record-list';
import { ResourceDefinition } from './resource-definition';

const yyyymmdd = (date: Date): string => date.toISOString().slice(0, 10).replaceAll('-', '');

export function exportRoute(def: ResourceDefinition): RouteDefinition {
  // The list's parameters, less its page: the export reads every matching row.
  const exportQuery: Joi.ObjectSchema<ListFilterParams & { view?: string }> = listQuerySchema(def).keys({ limit: Joi.any().forbidden(), cursor: Joi.any().forbidden() });
  return defineRoute({
    method: 'get',
    path: `/${def.name}/export/csv`,
    permission: `${def.name}:export`,
    summary: `Export ${def.name} as CSV (the list's filters, q and sort; every matching row, streamed)`,
    description:
      "Header row of field names (an import takes them back, less id and the server's columns). Cells that " +
      "start with = + - @, a tab or a carriage return get a leading ' so that spreadsheets do not run them. " +
      'Rows are read page by page as the client takes them; an organization has a few downloads at a time ' +
      '(DOWNLOADS_PER_TENANT per instance): one more is a 429.',
    tags: [def.name.charAt(0).toUpperCase() + def.name.slice(1)],
    schema: { query: exportQuery },
    handler: async (input) => {
      const query = await listQueryWithView(def, principalOf(input, 'user', 'api_key'), input.query);
      if (query.includeDeleted && !principalOf(input).permissions.has(`${def.name}:delete`)) {
        throw new AppError('FORBIDDEN', `includeDeleted needs the ${def.name}:delete permission`);
      }
      return {
        kind: 'download',
        status: 200,
        contentType: 'text/csv; charset=utf-8',
        filename: `${def.name}-${yyyymmdd(new Date())}.csv`,
        body: await exportRecords(def, query),
      };
    },
  });
}
