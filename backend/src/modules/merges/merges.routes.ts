import Joi from 'joi';
import { defineRoute, ok, principalOf, RouteDefinition } from '../../http/route';
import { createRecordsService } from '../crm/records.service';
import { findDuplicates } from './duplicates.service';
import { MergeableDefinition, mergeRecords, MergeInput, undoMerge } from './merges.service';

const idParams = Joi.object<{ id: string }>({ id: Joi.string().uuid().required() });

const duplicateSchema = Joi.object({
  id: Joi.string().uuid().required(),
  score: Joi.number().min(0).max(1).required().description('0..1; several reasons combine as independent evidence'),
  reasons: Joi.array()
    .items(
      Joi.object({
        reason: Joi.string().valid('email', 'phone', 'domain', 'name').required(),
        value: Joi.string().required().description('The shared value (normalized email, E.164 phone, domain) or the candidate\'s name'),
        similarity: Joi.number().min(0).max(1).description('For `name`: the trigram similarity'),
      }),
    )
    .required(),
  record: Joi.object().unknown().required(),
});

const mergeBody = Joi.object<MergeInput>({
  duplicateIds: Joi.array().items(Joi.string().uuid()).min(1).max(20).unique().required(),
  prefer: Joi.object().pattern(Joi.string().max(64), Joi.string().uuid()).max(50),
});

const mergeResult = Joi.object({
  mergeId: Joi.string().uuid().required().description('Undo with POST /merges/:mergeId/undo'),
  survivor: Joi.object().unknown().required(),
  duplicateIds: Joi.array().items(Joi.string().uuid()).required(),
  moved: Joi.object().pattern(Joi.string(), Joi.number().integer()).required().description('Rows moved to the survivor, by table'),
  createdAt: Joi.date().iso().required(),
});

/** GET /{resource}/:id/duplicates and POST /{resource}/:id/merge of a lead, contact or account. */
export function mergeRoutes(def: MergeableDefinition): RouteDefinition[] {
  const tags = [def.name.charAt(0).toUpperCase() + def.name.slice(1)];
  const records = createRecordsService(def);
  return [
    defineRoute({
      method: 'get',
      path: `/${def.name}/:id/duplicates`,
      permission: `${def.name}:read`,
      summary: `Likely duplicates of a ${def.singular}, best first, each with a score and its reasons`,
      description:
        'Reasons: the same normalized email (lowercase, `+tag` dropped), the same phone in E.164 (numbers written internationally), ' +
        'the same domain (an account\'s; a person\'s email domain, shared mailbox providers aside), a similar name (trigram similarity >= 0.5). ' +
        "A sales user sees only candidates they or their team own.",
      response: { status: 200, description: 'The candidates, best first', schema: Joi.array().items(duplicateSchema) },
      tags,
      schema: { params: idParams, query: Joi.object<{ limit: number }>({ limit: Joi.number().integer().min(1).max(50).default(10) }) },
      handler: async (input) => {
        const record = await records.load(input.params.id);
        return ok(await findDuplicates(def, principalOf(input, 'user', 'api_key'), record, { excludeId: input.params.id, limit: input.query.limit }));
      },
    }),
    defineRoute({
      method: 'post',
      path: `/${def.name}/:id/merge`,
      auditResource: def.singular,
      permission: `${def.name}:delete`,
      summary: `Merge duplicates into this ${def.singular}: their links move to it, they are soft-deleted with mergedInto`,
      description:
        `Activities, tasks${def.name === 'leads' ? '' : ', deals, tickets' + (def.name === 'accounts' ? ', contacts' : '') + ' and converted leads'} ` +
        'pointing at a duplicate move to the survivor; a blank field of the survivor takes the first duplicate\'s value, `prefer` ({field: recordId}) picks the record a field comes from. ' +
        `Needs ${def.name}:write and ${def.name}:delete (a sales user: records of their own or their team). Emits \`${def.singular}.merged\`; undo with POST /merges/:mergeId/undo.`,
      response: { status: 200, description: 'The merge, its id and the survivor as it now stands', schema: mergeResult },
      tags,
      schema: { params: idParams, body: mergeBody },
      handler: async (input) => ok(await mergeRecords(def, principalOf(input, 'user', 'api_key'), input.params.id, input.body)),
    }),
  ];
}

/** POST /merges/:id/undo. */
export function mergeUndoRoutes(): RouteDefinition[] {
  return [
    defineRoute({
      method: 'post',
      path: '/merges/:id/undo',
      auditResource: 'merge',
      permission: 'authenticated',
      summary: 'Undo a merge: the duplicates come back, every moved link points at them again, the survivor\'s overwritten fields are restored',
      description: 'Needs the merged resource\'s write and delete permissions. Once only: a merge already undone answers 409 CONFLICT.',
      response: {
        status: 200,
        description: 'What was restored',
        schema: Joi.object({
          mergeId: Joi.string().uuid().required(),
          survivorId: Joi.string().uuid().required(),
          restoredIds: Joi.array().items(Joi.string().uuid()).required(),
          restoredLinks: Joi.number().integer().required(),
        }),
      },
      tags: ['Merges'],
      schema: { params: idParams },
      handler: async (input) => ok(await undoMerge(principalOf(input, 'user', 'api_key'), input.params.id)),
    }),
  ];
}
