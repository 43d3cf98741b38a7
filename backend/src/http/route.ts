import { Readable } from 'node:stream';
import Joi from 'joi';
import { AuditResource } from '../modules/audit/audit-resources';
import { Principal } from '../modules/auth/principal';
import { PlanFeature } from '../modules/plans/plan-gates';
import { AppError } from '../lib/errors';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** `resource:action`, e.g. `leads:write`; checked against the catalogue when routes are registered. */
export type Permission = `${string}:${string}`;

/**
 * Who may call: anyone (`public`), any authenticated tenant caller (`authenticated`), or callers holding a
 * permission. `platform:*` permissions make a platform (cross-tenant, admin-token) route.
 */
export type Access = Permission | 'public' | 'authenticated';

export interface RouteInput<P = Record<string, string>, Q = Record<string, unknown>, B = unknown> {
  params: P;
  query: Q;
  body: B;
  headers: Record<string, string | string[] | undefined>;
  cookies: Record<string, string | undefined>;
  requestId: string;
  ip: string;
  userAgent?: string;
  /** The tenant the request names (X-Tenant-ID or subdomain), before any authentication. */
  requestedTenantId?: string;
  /** The authenticated caller; set on every route that is not public. */
  principal?: Principal;
  /** The body's exact bytes, on a route that declares `rawBody` (a signed webhook). */
  rawBody?: Buffer;
}

/** Any route's input, whatever its schemas declare: what a helper reading only the caller, headers or client takes. */
export type AnyRouteInput = RouteInput<unknown, unknown, unknown>;

/** The caller of a non-public route; its absence there is a programming error. */
export function principalOf<K extends Principal['kind']>(input: Pick<RouteInput, 'principal'>, ...kinds: K[]): Extract<Principal, { kind: K }> {
  const principal = input.principal;
  if (!principal || (kinds.length > 0 && !kinds.includes(principal.kind as K))) {
    throw new AppError('FORBIDDEN', 'This endpoint is not available to this kind of caller');
  }
  return principal as Extract<Principal, { kind: K }>;
}

/**
 * A body too large for BODY_LIMIT (bulk imports), read by the route's own link: a JSON array, or text/csv
 * spooled to a temporary file (a SpooledUpload) for the handler to read as a stream.
 */
export interface BulkBody {
  limitBytes: number;
  maxRows: number;
}

export const tooManyRows = (maxRows: number): AppError => new AppError('PAYLOAD_TOO_LARGE', `An import takes at most ${maxRows} rows`);

/** Runs one short unit of work in the caller's tenant scope: its own transaction, committed when it returns. */
export type InTenant = <T>(unit: () => Promise<T>) => Promise<T>;

/**
 * A download's body, opened once the request's transaction has committed. Whatever it reads from the
 * database it reads through `inTenant`, a page per call, so no connection or transaction is held while
 * the client takes its time (http/download.ts sends it). `clientGone` aborts when the client
 * disconnects, for a body that waits between pieces.
 */
export type DownloadBody = (inTenant: InTenant, clientGone: AbortSignal) => Readable;

/** A download that lasts as long as its client stays (a live event stream): capped per tenant by plan. */
export interface LiveTransfer {
  streamsPerTenant: number;
  /** Headers of the stream's answer (no caching, no proxy buffering). */
  headers: Record<string, string>;
}

export type RouteResult =
  | { kind: 'json'; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: 'text'; status: number; contentType: string; text: string }
  | { kind: 'download'; status: 200; contentType: string; filename?: string; live?: LiveTransfer; body: DownloadBody }
  | { kind: 'empty'; status: 204; headers?: Record<string, string> };

/**
 * Everything about one endpoint, declared once: the request pipeline, the OpenAPI document and the
 * tests all read this. `permission` is mandatory; a route open to anyone says `'public'`.
 */
export interface RouteDefinition {
  method: HttpMethod;
  path: string;
  permission: Access;
  /** Only signed-in users, not API keys (sessions, password, logout). */
  usersOnly?: boolean;
  /**
   * The resource a tenant write acts on, as the audit trail names it (`lead`, `import`): a failed write
   * is audited under it, with the same name as its successes. Every tenant write route declares one.
   */
  auditResource?: AuditResource;
  /** The plan feature the route needs (402 PLAN_FEATURE_UNAVAILABLE without it). */
  feature?: PlanFeature;
  /**
   * The feature flag the route is rolled out under (PUT /admin/feature-flags/:key): for a tenant the flag
   * is off for, the route answers 404 as if it did not exist.
   */
  flag?: string;
  /**
   * A write that stays open while the organization awaits deletion (sign-out, export, cancelling the
   * deletion); every other write then answers 409 TENANT_PENDING_DELETION.
   */
  allowedWhilePendingDeletion?: boolean;
  /** The body is kept as bytes (up to BODY_LIMIT), never parsed: a webhook whose signature covers the exact bytes. */
  rawBody?: boolean;
  /** Takes a bulk body (JSON or CSV past BODY_LIMIT), read once the caller is authenticated. */
  bulkBody?: BulkBody;
  /** Sign-in routes: their IP limit fails closed when Redis is away; `login` adds the IP + account limit. */
  rateLimit?: 'auth' | 'login' | 'signup';
  /** Mounted under /api/v1 (and the /api alias) unless false, as the operational routes are. */
  versioned?: boolean;
  summary: string;
  tags: string[];
  description?: string;
  schema?: { params?: Joi.ObjectSchema; query?: Joi.ObjectSchema; body?: Joi.Schema };
  /** Documented answer of a success, for the OpenAPI document (default: 201 for POST, 204 for DELETE, else 200, as `{data}`). */
  response?: {
    status: number;
    description: string;
    /** The shape of `data` (of each item, for a paginated list). */
    schema?: Joi.Schema;
    /** The body is sent as is (`raw()`), outside the `{data}` envelope. */
    raw?: boolean;
    /** The media type(s) of a text or stream answer; an `application/json` stream is sent as `schema`, unwrapped. */
    contentType?: string | string[];
    /** Other statuses answering with the same shape (a probe's 503). */
    alsoStatus?: number[];
    /** Error statuses beyond those the declaration implies (e.g. a public route checking a token: 401). */
    errors?: number[];
  };
  handler(input: RouteInput): Promise<RouteResult>;
}

/**
 * The type a schema declares for its value: `Joi.object<LeadQuery>({...})` declares `LeadQuery`. An
 * undeclared `Joi.object({...})` is `any` to joi; its input then keeps the loose type `Otherwise`, so a
 * handler never receives an `any`.
 */
type Declared<T, Otherwise> = 0 extends 1 & T ? Otherwise : T;

/**
 * A route as written in a `*.routes.ts`: its handler's `input.params`, `input.query` and `input.body` are
 * the types its schemas declare, which validateInput has checked and converted them to before it runs.
 */
export interface TypedRouteDefinition<P, Q, B> extends Omit<RouteDefinition, 'schema' | 'handler'> {
  schema?: { params?: Joi.ObjectSchema<P>; query?: Joi.ObjectSchema<Q>; body?: Joi.Schema<B> };
  handler(
    input: RouteInput<Declared<P, Record<string, string>>, Declared<Q, Record<string, unknown>>, Declared<B, unknown>>,
  ): Promise<RouteResult>;
}

/**
 * Declares a route, typing its handler's input from its schemas (a route without them is typed as
 * RouteInput's defaults). The pipeline calls every handler with the input validateInput returned for
 * these same schemas, so the declared types hold; the list of routes forgets them.
 */
export const defineRoute = <P = Record<string, string>, Q = Record<string, unknown>, B = unknown>(
  route: TypedRouteDefinition<P, Q, B>,
): RouteDefinition => route as unknown as RouteDefinition;

export const ok = (data: unknown, headers?: Record<string, string>): RouteResult => ({
  kind: 'json',
  status: 200,
  body: { data },
  headers,
});
export const created = (data: unknown, headers?: Record<string, string>): RouteResult => ({
  kind: 'json',
  status: 201,
  body: { data },
  headers,
});
/** A list answer: `{data: [...], pagination: {limit, nextCursor, hasMore}}`. */
export const page = (data: unknown[], pagination: { limit: number; nextCursor: string | null; hasMore: boolean }): RouteResult => ({
  kind: 'json',
  status: 200,
  body: { data, pagination },
});
export const noContent = (headers?: Record<string, string>): RouteResult => ({ kind: 'empty', status: 204, headers });
/** A body outside the `{data}` envelope, for operational endpoints whose shape tools expect. */
export const raw = (status: number, body: unknown, headers?: Record<string, string>): RouteResult => ({
  kind: 'json',
  status,
  body,
  headers,
});
