import Joi from 'joi';
import { defineRoute, ok, principalOf, RouteDefinition } from '../../http/route';
import { BatchOperation, matchKeysOf, MAX_BATCH_OPERATIONS, runBatch } from './record-batch';
import { RecordsService } from './records.service';
import { ResourceDefinition } from './resource-definition';

const DESCRIPTION = `Up to ${MAX_BATCH_OPERATIONS} operations in one request and one transaction, run in order, each
through the same checks, hooks, audit entries, webhooks and change-feed events as its single write. \`create\`
takes \`data\` (the POST body); \`update\` takes \`id\` or \`match\` and \`data\` (the PATCH body); \`upsert\` takes
\`match\` and \`data\`, updates the live record matched or creates one; \`delete\` takes \`id\` or \`match\` (soft
delete, needs the resource's delete permission). \`match\` names one key: \`externalId\`, or \`email\` (leads,
contacts) or \`domain\` (accounts), compared without case. Upserts by \`externalId\` insert with ON CONFLICT on
its unique index, so two racing upserts of one key never make two records.

The answer is 200 with one item per operation, in order: \`status\` is what the single write would have answered
(201, 200, 204, or the error's 4xx with \`error\`). A failed operation leaves no trace and the others stand;
with \`atomic: true\` the first failure stores nothing at all, and every other item answers 424
BATCH_ROLLED_BACK. One \`Idempotency-Key\` covers the whole batch. More than ${MAX_BATCH_OPERATIONS} operations is a 400.`;

/** POST /{resource}/batch: many writes of one resource in one request. */
export function batchRoute(def: ResourceDefinition, records: RecordsService): RouteDefinition {
  const value = Joi.string().trim().min(1).max(255);
  const match = Joi.object(Object.fromEntries(matchKeysOf(def).map((key) => [key, value]))).length(1);
  const operation = Joi.object({
    op: Joi.string().valid('create', 'update', 'upsert', 'delete').required(),
    id: Joi.string().uuid(),
    match,
    // Checked per operation against the single write's body, so that one bad record fails only its item.
    data: Joi.object().unknown(true),
  });
  return defineRoute({
    method: 'post',
    path: `/${def.name}/batch`,
    auditResource: def.singular,
    permission: `${def.name}:write`,
    summary: `Create, update, upsert and delete up to ${MAX_BATCH_OPERATIONS} ${def.name} in one request`,
    description: DESCRIPTION,
    tags: [def.name.charAt(0).toUpperCase() + def.name.slice(1)],
    schema: {
      body: Joi.object<{ operations: BatchOperation[]; atomic: boolean }>({
        operations: Joi.array().items(operation).min(1).max(MAX_BATCH_OPERATIONS).required(),
        atomic: Joi.boolean().default(false),
      }),
    },
    response: {
      status: 200,
      description: 'One item per operation, in order',
      schema: Joi.array().items(
        Joi.object({
          index: Joi.number().integer().required(),
          status: Joi.number().integer().required(),
          id: Joi.string().uuid(),
          error: Joi.object({
            code: Joi.string().required(),
            message: Joi.string().required(),
            details: Joi.array().items(Joi.object({ field: Joi.string(), row: Joi.number(), message: Joi.string().required() })),
          }),
        }),
      ),
    },
    handler: async (input) => {
      return ok(await runBatch(def, records, principalOf(input, 'user', 'api_key'), input.body.operations, input.body.atomic));
    },
  });
}
