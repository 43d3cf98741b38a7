import Joi from 'joi';
import joiToSwagger from 'joi-to-swagger';
import { ERROR_STATUS } from '../../lib/errors';
import { HttpMethod, RouteDefinition } from '../../http/route';
import { openApiExample, JsonSchema } from './openapi-example';

/** The OpenAPI document, generated from the route declarations: nothing in it is written per route. */
export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Partial<Record<HttpMethod, Operation>>> };
type Operation = Record<string, unknown> & { responses: Record<string, unknown> };

const WRITE_METHODS = new Set<HttpMethod>(['post', 'put', 'patch', 'delete']);
const ERROR_RESPONSES: Record<number, string> = {
  400: 'The request is invalid (VALIDATION_ERROR, INVALID_JSON); `details` names every problem',
  401: 'Missing, invalid or expired credentials (UNAUTHORIZED, TOKEN_EXPIRED)',
  402: 'The plan lacks the feature or a quota is reached (PLAN_FEATURE_UNAVAILABLE)',
  403: 'Not allowed (FORBIDDEN, TENANT_MISMATCH, TENANT_SUSPENDED)',
  404: 'No such resource in this tenant, or an unknown tenant subdomain (NOT_FOUND)',
  409: 'Conflicts with the current state (CONFLICT), looks like existing records (DUPLICATE_FOUND, `details` names them), the Idempotency-Key is in use (IDEMPOTENCY_IN_PROGRESS), the organization awaits deletion (TENANT_PENDING_DELETION) or has no supplier integration (SUPPLIER_NOT_CONFIGURED)',
  410: 'A change-feed cursor past the 30-day retention (CURSOR_EXPIRED); `details` names the oldest cursor still available',
  413: 'The body is too large (PAYLOAD_TOO_LARGE)',
  415: 'The body is not of an accepted media type (UNSUPPORTED_MEDIA_TYPE)',
  422: 'The Idempotency-Key was used for a different request (IDEMPOTENCY_KEY_REUSED)',
  429: 'Too many requests (RATE_LIMITED); retry after `Retry-After` seconds',
  500: 'Unexpected failure (INTERNAL_ERROR); no details are given',
  502: 'The parts supplier answered something unexpected (SUPPLIER_ERROR)',
  503: 'A dependency is unavailable (SERVICE_UNAVAILABLE, SUPPLIER_UNAVAILABLE); retry after `Retry-After` seconds when given',
};

const ref = (kind: string, name: string) => ({ $ref: `#/components/${kind}/${name}` });
const schemaOf = (schema: Joi.Schema): JsonSchema => normalized(joiToSwagger(schema).swagger as JsonSchema);

/**
 * OpenAPI 3.0 has no null type: joi-to-swagger writes `allow(null)` among alternatives as a bare
 * `{nullable: true}`, which becomes `nullable` on the other alternatives (3.0 wants it beside a `type`);
 * a single alternative is the schema itself.
 */
function normalized(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (Array.isArray(value) && (key === 'anyOf' || key === 'oneOf')) {
      const variants = (value as JsonSchema[]).filter((variant) => !(Object.keys(variant).length === 1 && variant.nullable === true)).map(normalized);
      const nullable = variants.length < value.length;
      if (variants.length === 1) Object.assign(out, variants[0], nullable ? { nullable } : {});
      else out[key] = nullable ? variants.map((variant) => ({ ...variant, nullable })) : variants;
    } else if (value && typeof value === 'object' && !Array.isArray(value) && key !== 'example' && key !== 'default') {
      out[key] = key === 'properties' ? Object.fromEntries(Object.entries(value).map(([name, inner]) => [name, normalized(inner as JsonSchema)])) : normalized(value as JsonSchema);
    } else if (Array.isArray(value) && key === 'allOf') {
      out[key] = (value as JsonSchema[]).map(normalized);
    } else {
      out[key] = value;
    }
  }
  return out;
}

const PAGINATION: JsonSchema = {
  type: 'object',
  required: ['limit', 'nextCursor', 'hasMore'],
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 500 }, nextCursor: { type: 'string', nullable: true }, hasMore: { type: 'boolean' } },
};
const EXAMPLE_REFS = { '#/components/schemas/Pagination': PAGINATION };
/** `/leads/:id/convert` → `/leads/{id}/convert`. */
const openApiPath = (route: RouteDefinition) => `${route.versioned === false ? '' : '/api/v1'}${route.path}`.replace(/:(\w+)/g, '{$1}');
const pascal = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);

/** `post /leads/:id/convert` → `postLeadsByIdConvert`: unique because method + path are. */
function operationId(route: RouteDefinition): string {
  const words = route.path
    .split('/')
    .filter(Boolean)
    .map((segment) => (segment.startsWith(':') ? `By${pascal(segment.slice(1))}` : segment.split(/[^A-Za-z0-9]+/).filter(Boolean).map(pascal).join('')));
  return route.method + words.join('');
}

const isPublic = (route: RouteDefinition) => route.permission === 'public';
const isPaginated = (route: RouteDefinition) => route.method === 'get' && route.schema?.query?.describe().keys?.cursor !== undefined;

/** The statuses of the standard errors a route can answer, from what its declaration implies. */
function errorStatuses(route: RouteDefinition): number[] {
  const write = WRITE_METHODS.has(route.method);
  const operational = route.versioned === false;
  // The body link reads a body sent with any method, a GET's too: too large is 413, not JSON (or CSV) is 415.
  const statuses = new Set([400, 403, 404, 413, 415, 500, 503]);
  if (!isPublic(route) || route.rateLimit) statuses.add(401);
  // A tenant's create may meet a quota, and once billing has lapsed so may an update (402 PAYMENT_REQUIRED).
  if (route.feature || (!isPublic(route) && write && route.method !== 'delete')) statuses.add(402);
  if (write) statuses.add(409);
  if (write && !isPublic(route)) statuses.add(422);
  if (!operational) statuses.add(429);
  route.response?.errors?.forEach((status) => statuses.add(status));
  return [...statuses].sort((a, b) => a - b);
}

/** DELETE answers 204; POST creates (201) unless it acts on an existing record (`/imports/:id/undo`: 200). */
function defaultSuccessStatus(route: RouteDefinition): number {
  if (route.method === 'delete') return 204;
  const actsOnRecord = /\/:\w+\/[^/:]+$/.test(route.path);
  return route.method === 'post' && !actsOnRecord ? 201 : 200;
}

function parameters(route: RouteDefinition): unknown[] {
  const list: unknown[] = [];
  for (const location of ['path', 'query'] as const) {
    const schema = route.schema?.[location === 'path' ? 'params' : 'query'];
    if (!schema) continue;
    const object = schemaOf(schema);
    const required = new Set((object.required as string[] | undefined) ?? []);
    for (const [name, property] of Object.entries((object.properties ?? {}) as Record<string, JsonSchema>)) {
      list.push({
        name,
        in: location,
        required: location === 'path' || required.has(name),
        ...(property.description ? { description: property.description } : {}),
        schema: property,
      });
    }
  }
  if (WRITE_METHODS.has(route.method) && !isPublic(route)) list.push(ref('parameters', 'IdempotencyKey'));
  list.push(ref('parameters', 'TenantId'));
  return list;
}

function requestBody(route: RouteDefinition): unknown {
  const body = route.schema?.body;
  if (!body) return undefined;
  const schema = schemaOf(body);
  const described = body.describe() as { flags?: { presence?: string } };
  const content: Record<string, unknown> = { 'application/json': { schema, example: openApiExample(schema) } };
  if (route.bulkBody) {
    content['text/csv'] = { schema: { type: 'string', description: 'A header row of field names, then one record per row' } };
  }
  const required = described.flags?.presence === 'required' || ((schema.required as string[] | undefined) ?? []).length > 0 || schema.minProperties !== undefined;
  return { required, content };
}

/** The media types of a text or stream answer: declared, or named by a path ending in a format (`/export/csv`). */
function streamContentTypes(route: RouteDefinition): string[] {
  if (route.response?.contentType) return [route.response.contentType].flat();
  return route.path.endsWith('/csv') ? ['text/csv'] : [];
}

function successResponses(route: RouteDefinition): Record<string, unknown> {
  const declared = route.response;
  const status = declared?.status ?? defaultSuccessStatus(route);
  const headers: Record<string, unknown> = { 'X-Request-Id': ref('headers', 'X-Request-Id') };
  if (route.versioned !== false) {
    headers.RateLimit = ref('headers', 'RateLimit');
    headers['RateLimit-Policy'] = ref('headers', 'RateLimit-Policy');
  }
  if (WRITE_METHODS.has(route.method) && !isPublic(route)) headers['Idempotent-Replayed'] = ref('headers', 'Idempotent-Replayed');
  const description = declared?.description ?? (status === 204 ? 'Done; no content' : 'Success');
  const media = (schema: JsonSchema) => ({ schema, example: openApiExample(schema, EXAMPLE_REFS) });
  const answer = (schema: JsonSchema | undefined) => (status === 204 || !schema ? { description, headers } : { description, headers, content: { 'application/json': media(schema) } });

  let response: Record<string, unknown>;
  const streamed = streamContentTypes(route);
  if (streamed.length) {
    const json = declared?.schema ? schemaOf(declared.schema) : {};
    const content = Object.fromEntries(streamed.map((type) => [type, type === 'application/json' ? media(json) : { schema: { type: 'string' } }]));
    response = { description, headers, content };
  } else if (declared?.raw) {
    response = answer(declared.schema ? schemaOf(declared.schema) : { type: 'object', additionalProperties: true });
  } else if (isPaginated(route)) {
    response = answer({
      type: 'object',
      required: ['data', 'pagination'],
      properties: { data: { type: 'array', items: declared?.schema ? schemaOf(declared.schema) : { type: 'object', additionalProperties: true } }, pagination: ref('schemas', 'Pagination') },
    });
  } else {
    const data = declared?.schema ? schemaOf(declared.schema) : { type: 'object', additionalProperties: true };
    response = answer({ type: 'object', required: ['data'], properties: { data } });
  }
  const responses: Record<string, unknown> = { [status]: response };
  for (const other of declared?.alsoStatus ?? []) responses[other] = { ...response, description: `${description} (also answered with ${other})` };
  // A dry run (or an import that stores nothing) answers 200 with the same report as the 201 of a stored import.
  if (route.bulkBody && status === 201) responses[200] = { ...response, description: 'Nothing was stored (dry run): the same report' };
  return responses;
}

function operation(route: RouteDefinition): Operation {
  const errors = Object.fromEntries(errorStatuses(route).map((status) => [status, ref('responses', String(status))]));
  const access = [
    isPublic(route) ? 'Access: public.' : route.permission === 'authenticated' ? 'Access: any authenticated caller.' : `Permission: \`${route.permission}\`.`,
    route.feature ? `Plan feature: \`${route.feature}\`.` : '',
    route.usersOnly ? 'Signed-in users only (not API keys).' : '',
  ].filter(Boolean);
  const body = requestBody(route);
  return {
    operationId: operationId(route),
    tags: route.tags,
    summary: route.summary,
    description: [route.description, access.join(' ')].filter(Boolean).join('\n\n'),
    'x-permission': route.permission,
    ...(route.feature ? { 'x-feature': route.feature } : {}),
    security: isPublic(route) ? [] : security(route),
    parameters: parameters(route),
    ...(body ? { requestBody: body } : {}),
    responses: { ...errors, ...successResponses(route) },
  };
}

function security(route: RouteDefinition): unknown[] {
  if (route.usersOnly || route.permission.startsWith('platform:')) return [{ bearerAuth: [] }];
  return [{ bearerAuth: [] }, { apiKeyAuth: [] }];
}

function components(): Record<string, unknown> {
  const errorBody = (status: number) => {
    const codes = Object.entries(ERROR_STATUS)
      .filter(([, code]) => code === status)
      .map(([name]) => name);
    return {
      schema: ref('schemas', 'ErrorEnvelope'),
      example: { error: { code: codes[0], message: ERROR_RESPONSES[status], requestId: '0b4f3c1e-5a6d-4e2f-9c8b-7a6f5e4d3c2b' } },
    };
  };
  const responses = Object.fromEntries(
    Object.entries(ERROR_RESPONSES).map(([status, description]) => [
      status,
      {
        description,
        headers: {
          'X-Request-Id': ref('headers', 'X-Request-Id'),
          ...(status === '429' ? { RateLimit: ref('headers', 'RateLimit'), 'RateLimit-Policy': ref('headers', 'RateLimit-Policy') } : {}),
          ...(status === '429' || status === '503' ? { 'Retry-After': ref('headers', 'Retry-After') } : {}),
        },
        content: { 'application/json': errorBody(Number(status)) },
      },
    ]),
  );
  return {
    securitySchemes: {
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token (JWT), or an API key (`crm_live_...`) where API keys are accepted' },
      apiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key (`crm_live_...`)' },
    },
    schemas: {
      ErrorCode: { type: 'string', enum: Object.keys(ERROR_STATUS) },
      ErrorEnvelope: {
        type: 'object',
        required: ['error'],
        additionalProperties: false,
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message', 'requestId'],
            additionalProperties: false,
            properties: {
              code: ref('schemas', 'ErrorCode'),
              message: { type: 'string' },
              details: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['message'],
                  additionalProperties: false,
                  properties: { field: { type: 'string' }, row: { type: 'integer', minimum: 1 }, message: { type: 'string' } },
                },
              },
              requestId: { type: 'string' },
            },
          },
        },
      },
      Pagination: PAGINATION,
    },
    parameters: {
      IdempotencyKey: {
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description: 'Makes a retry safe: the first answer is replayed for 24 hours (`Idempotent-Replayed: true`)',
        schema: { type: 'string', minLength: 1, maxLength: 255 },
      },
      TenantId: {
        name: 'X-Tenant-ID',
        in: 'header',
        required: false,
        description: "Names the tenant; it must agree with the token's (403 TENANT_MISMATCH otherwise)",
        schema: { type: 'string', format: 'uuid' },
      },
    },
    headers: {
      'X-Request-Id': { description: 'The request id (taken from the request when sane, else generated)', schema: { type: 'string' } },
      RateLimit: { description: 'IETF draft-8: what is left of the budget', schema: { type: 'string' } },
      'RateLimit-Policy': { description: 'IETF draft-8: the budget and its window', schema: { type: 'string' } },
      'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } },
      'Idempotent-Replayed': { description: '`true` when this is the stored answer of an earlier request with the same Idempotency-Key', schema: { type: 'string', enum: ['true'] } },
    },
    responses,
  };
}

export function buildOpenApiDocument(routes: RouteDefinition[]): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const path = openApiPath(route);
    paths[path] = { ...paths[path], [route.method]: operation(route) };
  }
  const ids = Object.values(paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
  if (new Set(ids).size !== ids.length) throw new Error('Two routes derive the same operationId');
  const tags = [...new Set(routes.flatMap((route) => route.tags))].map((name) => ({ name }));
  return {
    openapi: '3.0.3',
    info: {
      title: 'CRM API',
      version: '1.0.0',
      description:
        'Multi-tenant CRM REST API. JSON in and out; answers are `{data}` (lists add `pagination`), errors `{error: {code, message, details?, requestId}}`. ' +
        '`/api` is an alias of `/api/v1`.',
    },
    servers: [{ url: '/' }],
    tags,
    paths,
    components: components(),
  };
}
