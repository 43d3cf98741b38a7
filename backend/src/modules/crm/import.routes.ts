import Joi from 'joi';
import { BulkBody, created, defineRoute, ok, principalOf, RouteDefinition } from '../../http/route';
import { SpooledUpload } from '../../http/spooled-upload';
import { IMPORT_MODES, importRecords, ImportOptions, undoImport } from './import.service';
import { ResourceDefinition } from './resource-definition';

/** 100,000 rows of a dozen fields fit well within 50 MB, as CSV or as JSON. */
export const IMPORT_BODY: BulkBody = { limitBytes: 50 * 1024 * 1024, maxRows: 100_000 };

const DESCRIPTION = `Body: \`text/csv\` with a header row of field names, or a JSON array of objects; at most
${IMPORT_BODY.maxRows} rows. Unknown columns are a 400 naming them. In CSV an empty cell leaves the field out
(so an update keeps its value) and object fields (address, attributes) hold JSON. Errors name the row (the
1-based data row; the header is not counted) and the field. \`mode=all-or-nothing\` (default) stores nothing if
any row is invalid (400 with the row errors); \`valid-only\` stores the valid rows and reports the others.
\`upsertBy\` updates the live records with the same value of that field instead of creating one.
\`dryRun=true\` answers the same without storing anything. POST /imports/{importId}/undo reverts an import.
An organization runs a few imports at a time (IMPORTS_PER_TENANT, across all instances): one more is a 429.`;

export function importRoute(def: ResourceDefinition): RouteDefinition {
  const upsertKeys = def.upsertKeys ?? [];
  return defineRoute({
    method: 'post',
    path: `/${def.name}/import/bulk`,
    auditResource: 'import',
    permission: `${def.name}:write`,
    feature: 'bulk_import',
    bulkBody: IMPORT_BODY,
    summary: `Import ${def.name} from CSV or a JSON array`,
    description: DESCRIPTION,
    tags: [def.name.charAt(0).toUpperCase() + def.name.slice(1)],
    schema: {
      query: Joi.object<Omit<ImportOptions, 'maxRows'>>({
        dryRun: Joi.boolean().default(false),
        mode: Joi.string()
          .valid(...IMPORT_MODES)
          .default('all-or-nothing'),
        upsertBy: upsertKeys.length ? Joi.string().valid(...upsertKeys) : Joi.any().forbidden(),
      }),
      // A CSV body arrives spooled to a file, which validation passes on for the import to read row by row.
      body: Joi.array<unknown[] | SpooledUpload>().required().label('body'),
    },
    handler: async (input) => {
      const report = await importRecords(def, principalOf(input, 'user', 'api_key'), input.body, {
        mode: input.query.mode,
        dryRun: input.query.dryRun,
        upsertBy: input.query.upsertBy,
        maxRows: IMPORT_BODY.maxRows,
      });
      return report.importId ? created(report) : ok(report);
    },
  });
}

/** One route for the imports of every resource; the resource's write permission is checked once the import is found. */
export function importUndoRoutes(): RouteDefinition[] {
  return [
    defineRoute({
      method: 'post',
      path: '/imports/:importId/undo',
      auditResource: 'import',
      permission: 'authenticated',
      summary: 'Undo an import: delete the records it created, restore the ones it updated',
      description: "Needs the write permission of the import's resource. 409 when the import is already undone.",
      tags: ['Imports'],
      schema: { params: Joi.object<{ importId: string }>({ importId: Joi.string().uuid().required() }) },
      handler: async (input) => ok(await undoImport(principalOf(input, 'user', 'api_key'), input.params.importId)),
    }),
  ];
}
