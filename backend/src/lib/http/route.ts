import { Readable } from 'node:stream';
import Joi from 'joi';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** `resource:action`, e.g. `leads:write`; checked against the catalogue when routes are registered. */
export type Permission = `${string}:${string}`;

export interface RouteInput<P = Record<string, string>, Q = Record<string, unknown>, B = unknown> {
  params: P;
  query: Q;
  body: B;
  headers: Record<string, string | string[] | undefined>;
  requestId: string;
}

export type RouteResult =
  | { kind: 'json'; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: 'text'; status: number; contentType: string; text: string }
  | { kind: 'stream'; status: number; contentType: string; filename?: string; stream: Readable }
  | { kind: 'empty'; status: 204 };

/**
 * Everything about one endpoint, declared once: the request chain, the OpenAPI document and the
 * tests all read this. `permission` is mandatory; a route open to anyone says `'public'`.
 */
export interface RouteDefinition {
  method: HttpMethod;
  path: string;
  permission: Permission | 'public';
  /** Mounted under /api/v1 (and the /api alias) unless false, as the operational routes are. */
  versioned?: boolean;
  summary: string;
  tags: string[];
  description?: string;
  schema?: { params?: Joi.ObjectSchema; query?: Joi.ObjectSchema; body?: Joi.Schema };
  /** Documented answer of a success, for the OpenAPI document. */
  response?: { status: number; description: string; schema?: Joi.Schema };
  handler(input: RouteInput): Promise<RouteResult>;
}

export const defineRoute = (route: RouteDefinition): RouteDefinition => route;

export const ok = (data: unknown, headers?: Record<string, string>): RouteResult => ({
  kind: 'json',
  status: 200,
  body: { data },
  headers,
});
export const created = (data: unknown): RouteResult => ({ kind: 'json', status: 201, body: { data } });
export const noContent = (): RouteResult => ({ kind: 'empty', status: 204 });
/** A body outside the `{data}` envelope, for operational endpoints whose shape tools expect. */
export const raw = (status: number, body: unknown, headers?: Record<string, string>): RouteResult => ({
  kind: 'json',
  status,
  body,
  headers,
});
