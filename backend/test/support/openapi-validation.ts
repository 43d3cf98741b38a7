import { readFileSync } from 'node:fs';
import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import request from 'supertest';
import type { OpenApiDocument } from '../../src/modules/docs/openapi';
import { TEST_ENV } from './test-database';

/**
 * Jest setup (setupFilesAfterEnv): every supertest response to a documented route is checked against the
 * OpenAPI document the server serves: its status must be documented for the operation, its media type
 * and body must match that status's schema (the error envelope for errors), and X-Request-Id must be
 * set. A mismatch fails the request's promise (or end callback) with what differed. The document is the
 * one global-setup.ts built for the run; validators are compiled once per operation and status, on first use.
 */
type Schema = Record<string, unknown>;
interface Operation {
  responses: Record<string, Schema>;
}
interface Matcher {
  pattern: RegExp;
  params: number;
  operations: Record<string, Operation>;
}

const document = JSON.parse(readFileSync(process.env[TEST_ENV.openApiFile]!, 'utf8')) as OpenApiDocument;
const components = document.components as { schemas: Record<string, Schema>; responses: Record<string, Schema> };

const matchers: Matcher[] = Object.entries(document.paths)
  .map(([template, operations]) => ({
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/]+')}/?$`, 'i'),
    params: (template.match(/\{/g) ?? []).length,
    operations: operations as Record<string, Operation>,
  }))
  // A fixed segment wins over a parameter, as the router declares them (`/deals/forecast` before `/deals/:id`).
  .sort((a, b) => a.params - b.params);

const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
addFormats(ajv);
for (const format of ['int32', 'int64', 'float', 'double']) ajv.addFormat(format, true);
const validators = new Map<string, ValidateFunction>();
const resolvedResponses = new Map<string, Schema>();

/** Replaces `#/components/...` references with what they name (the document's schemas are not recursive). */
function resolved<T>(value: T): T {
  if (Array.isArray(value)) return value.map(resolved) as T;
  if (value === null || typeof value !== 'object') return value;
  const ref = (value as Schema).$ref;
  if (typeof ref === 'string') {
    const [, kind, name] = ref.match(/^#\/components\/(\w+)\/(.+)$/) ?? [];
    return resolved((components as unknown as Record<string, Record<string, T>>)[kind!]![name!]!);
  }
  return Object.fromEntries(Object.entries(value as Schema).filter(([key]) => key !== 'example').map(([key, inner]) => [key, resolved(inner)])) as T;
}

function validatorFor(key: string, schema: Schema): ValidateFunction {
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(schema);
    validators.set(key, validate);
  }
  return validate;
}

/** What is wrong with `res` as an answer to `method url`, or undefined (also for undocumented routes). */
export function responseProblem(method: string, url: string, res: request.Response): string | undefined {
  let path = new URL(url, 'http://localhost').pathname;
  if (/^\/api(\/|$)/i.test(path) && !/^\/api\/v1(\/|$)/i.test(path)) path = path.replace(/^\/api/i, '/api/v1');
  const matcher = matchers.find((candidate) => candidate.pattern.test(path) && candidate.operations[method.toLowerCase()]);
  if (!matcher) return undefined;
  const operation = matcher.operations[method.toLowerCase()]!;
  const where = `${method.toUpperCase()} ${path} answered ${res.status}`;
  const documented = operation.responses[String(res.status)];
  if (!documented) return `${where}, a status its operation does not document (${Object.keys(operation.responses).join(', ')})`;
  if (!res.headers['x-request-id']) return `${where} without X-Request-Id`;
  const key = `${method} ${matcher.pattern.source} ${res.status}`;
  if (!resolvedResponses.has(key)) resolvedResponses.set(key, resolved(documented));
  const response = resolvedResponses.get(key) as { content?: Record<string, { schema: Schema }> };
  if (!response.content) {
    return res.text ? `${where} with a body where none is documented` : undefined;
  }
  const contentType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const media = response.content[contentType];
  if (!media) return `${where} as ${contentType || 'no media type'}, not ${Object.keys(response.content).join(' or ')}`;
  if (contentType !== 'application/json') return undefined;
  const validate = validatorFor(key, media.schema);
  if (validate(res.body)) return undefined;
  const errors = (validate.errors ?? []).slice(0, 5).map((error) => `${error.instancePath || '(body)'} ${error.message}`);
  return `${where} with a body off its schema: ${errors.join('; ')}\nbody: ${JSON.stringify(res.body).slice(0, 500)}`;
}

// supertest's Test reports every answer through assert(resError, res, fn): one hook for awaits and end() alike.
type Assert = (this: request.Test & { method: string; url: string }, resError: unknown, res: request.Response | undefined, fn?: (error: unknown, res?: request.Response) => void) => void;
const TestClass = (request as unknown as { Test: { prototype: { assert: Assert } } }).Test;
const assertResponse = TestClass.prototype.assert;
TestClass.prototype.assert = function (this, resError, res, fn) {
  const problem = res ? responseProblem(this.method, this.url, res) : undefined;
  if (problem && fn) {
    fn(new Error(`OpenAPI: ${problem}`), res);
    return;
  }
  assertResponse.call(this, resError, res, fn);
};
