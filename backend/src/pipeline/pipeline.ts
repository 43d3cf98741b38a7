import express, { RequestHandler } from 'express';
import { AppDeps } from '../app-deps';
import { withTenant } from '../infra/tenant-scope';
import { RouteDefinition, RouteResult } from '../http/route';
import { buildRouter } from '../http/build-router';
import { authenticate } from '../middleware/authenticate';
import { deferredBody, jsonBody, rawBody } from '../middleware/body-parsers';
import { bulkBody } from '../middleware/bulk-body';
import { corsPolicy } from '../middleware/cors-policy';
import { errorReporterOf } from '../infra/error-tracking';
import { errorHandler } from '../middleware/error-handler';
import { notFound } from '../middleware/not-found';
import { RateLimiters } from '../middleware/rate-limits';
import { requestId } from '../middleware/request-id';
import { requestLogger } from '../middleware/request-logger';
import { securityHeaders } from '../middleware/security-headers';
import { tenantResolver } from '../middleware/tenant-resolver';
import { consoleRuntime, observeRequest } from '../modules/admin/console-runtime';
import { isPlatformRoute } from '../modules/auth/principal.service';
import { docsUi } from '../modules/docs/docs.routes';
import { runWithEvents } from '../modules/events/event-context';
import { isKnownPermission } from '../modules/roles/permissions';
import { noteRefusal, refuseThrottledKey } from '../modules/security/id-walk';
import { auditActorOf } from './audit-actor';
import { takeBulkSlot } from './bulk-slot';
import { authorizePlatformCaller, authorizeTenantCaller, TenantCredential, tenantCallerOf } from './authorize-caller';
import { auditFailedWrite } from './failure-audit';
import { passGates } from './gates';
import { claimIdempotencyKey, completeClaim, settleOnFailure, wantsIdempotency } from './idempotency';
import { chargePlanBudget } from './plan-budget';
import { readInput } from './read-input';
import { isWrite, openFrame, RequestFrame } from './request-frame';
import { respond } from './respond';
import { runHandler } from './run-handler';
import { sanitizeInput } from './sanitize-input';
import { createTransfers, sendTenantDownload, Transfers } from './send-download';
import { inUnitOfWork } from './unit-of-work';

/**
 * The request pipeline: every stage a request passes, in the order it runs, in this one file
 * (docs/ARCHITECTURE.md shows the same table). Stages 1-3 run for every request. Routing then finds the
 * request's declaration, as Fastify routes before its hooks, and stages 4-17 read that declaration:
 * nothing below decides by comparing paths.
 *
 *  1 request id        adopt a sane X-Request-Id or make one; the log context
 *  2 log + metrics     one JSON line and a histogram sample when the answer is done
 *  3 headers + CORS    helmet; CORS headers for allowed origins only
 *  4 body              JSON up to BODY_LIMIT (a bulk route's body waits for stage 7; a signed webhook's stays bytes)
 *  5 rate limit        per client IP; sign-in routes fail closed, login also per account
 *  6 tenant            the tenant the request names (X-Tenant-ID or subdomain)
 *  7 authentication    bearer JWT or API key (not on public routes); then a bulk body is read
 *  8 authorization     the caller confirmed in the database, the route's permission held
 *  9 gates             the route's feature flag; organization pending deletion; its plan feature; lapsed billing's quotas
 * 10 plan budget       the caller's hourly requests by plan
 * 11 sanitize          operator and prototype keys, markup, nesting
 * 12 validate          params, query and body against the route's schemas
 * 13 idempotency       an Idempotency-Key claimed, committed before the work
 * 14 unit of work      the tenant transaction the work runs in; a bulk route's holds an import slot of its tenant
                      (an advisory lock: IMPORTS_PER_TENANT across all instances, 429 beyond)
 * 15 handler           the route's handler; services record domain events
 * 16 domain events     the registry's subscribers, before commit: outbox, Slack, e-mail, security detectors, audit
 * 17 response          the handler's answer as HTTP; any error, as the contract's envelope; a download
 *                      after the commit, page by page in short transactions, its events after its last byte
 *
 * Tenant routes run stages 8-16 in the caller's tenant transaction; with an Idempotency-Key, stages 8-13
 * commit on their own and 14-16 get a transaction of their own. A write that fails after stage 10 is
 * audited as `request.failed`; a 404 or 403 is counted towards the id-walk detector. Platform
 * routes run 8 (on their own pool), 11, 12, 15 and 17; public routes 11, 12, 15 and 17.
 */
export function buildPipeline(deps: AppDeps, limiters: RateLimiters, routes: RouteDefinition[]): express.Express {
  const runtime = consoleRuntime(deps);
  const json = jsonBody(deps.config.http.bodyLimit);
  const raw = rawBody(deps.config.http.bodyLimit);
  const tenant = tenantResolver(deps.knex, deps.config.auth.tenantBaseDomain);
  const authentication = authenticate(deps.knex, deps.config.jwt, limiters.failedAuthentication);
  const transfers = createTransfers(deps);

  const stagesOf = (route: RouteDefinition): RequestHandler[] => [
    route.rawBody ? raw : route.bulkBody ? deferredBody() : json, // 4 body
    ...rateLimitOf(route, limiters), // 5 rate limit
    tenant, // 6 tenant
    ...(route.permission === 'public' ? [] : [authentication]), // 7 authentication
    ...(route.bulkBody ? [bulkBody(route.bulkBody, transfers.imports)] : []), //   a bulk body, now that the caller is known
    routeStages(deps, limiters, transfers, route), // 8-17
  ];

  const app = express();
  app.disable('x-powered-by');
  // No conditional GETs in the contract: express would otherwise hash every answer's body for an ETag.
  app.set('etag', false);
  app.set('trust proxy', deps.config.http.trustProxy);
  app.use(requestId()); // 1 request id
  app.use(requestLogger(deps.logger, deps.metrics, (request) => observeRequest(runtime, request))); // 2 log + metrics
  app.use(securityHeaders(), corsPolicy(deps.config.http.corsOrigins)); // 3 headers + CORS

  // Routing: operational routes at the root, the API at /api/v1 and its alias /api, the docs UI.
  app.use(buildRouter(routes.filter((route) => route.versioned === false), stagesOf, isKnownPermission));
  const api = buildRouter(routes.filter((route) => route.versioned !== false), stagesOf, isKnownPermission);
  app.use('/api/v1', api);
  app.use('/api', api);
  app.use('/docs', limiters.anonymous);
  app.use(docsUi());
  // No declaration: the body is still read (malformed JSON is a 400) and the IP charged, then 404.
  app.use(json, limiters.anonymous, notFound());

  app.use(errorHandler(deps.logger, errorReporterOf(deps.config))); // 17 response, of any stage's error
  return app;
}

/**
 * Stage 5: sign-in routes take their own limits (failing closed), every other route the anonymous IP budget
 * (a route that authenticates lets credentials through to stage 7, which charges them when they fail).
 */
function rateLimitOf(route: RouteDefinition, limiters: RateLimiters): RequestHandler[] {
  if (route.rateLimit === 'login') return [limiters.auth, limiters.login];
  if (route.rateLimit === 'signup') return [limiters.auth, limiters.signup];
  if (route.rateLimit === 'auth') return [limiters.auth];
  return [route.permission === 'public' ? limiters.anonymous : limiters.beforeAuthentication];
}

/** Stages 8-17 of one declared route; which of them apply follows from its permission. */
function routeStages(deps: AppDeps, limiters: RateLimiters, transfers: Transfers, route: RouteDefinition): RequestHandler {
  const run = route.permission === 'public' ? publicStages : isPlatformRoute(route.permission) ? platformStages : tenantStages;
  return async (req, res, next) => {
    try {
      respond(res, await run(deps, limiters, openFrame(route, req, res), transfers)); // 17 response
    } catch (error) {
      next(error);
    }
  };
}

type Stages = (deps: AppDeps, limiters: RateLimiters, frame: RequestFrame, transfers: Transfers) => Promise<RouteResult>;

/** Anyone may call: no caller to check, no tenant transaction (sign-in flows open their own). */
const publicStages: Stages = async (_deps, _limiters, frame) => {
  sanitizeInput(frame); // 11 sanitize
  frame.input = readInput(frame); // 12 validate
  return runHandler(frame); // 15 handler
};

/** The admin console: a platform admin, checked on the runtime pool; handlers read through the platform pool. */
const platformStages: Stages = async (deps, _limiters, frame) => {
  frame.principal = await authorizePlatformCaller(deps.platformKnex, frame, deps.config.auth.adminMfaRequired); // 8 authorization
  sanitizeInput(frame); // 11 sanitize
  frame.input = readInput(frame); // 12 validate
  return runHandler(frame); // 15 handler
};

/** A tenant's caller: stages 8-16 in its tenant transaction, the events of its work published before commit. */
const tenantStages: Stages = async (deps, limiters, frame, transfers) => {
  const credential = tenantCallerOf(frame); // 8 authorization, the part that needs no database
  const { tenantId } = credential;
  frame.res.locals.auth = { tenantId };
  const actor = auditActorOf(frame, credential);
  return runWithEvents({ tenantId, actor }, async () => {
    try {
      if (!wantsIdempotency(frame)) {
        const result = await inUnitOfWork(deps, tenantId, async () => {
          await admitAndRead(deps, limiters, frame, credential); // 8-12
          return handle(deps, frame); // 15 handler; 16 domain events when it returns
        });
        if (result.kind === 'download') await sendTenantDownload(deps, transfers, frame, tenantId, result); // 17, after the commit
        return result;
      }
      const claim = await withTenant(deps.knex, tenantId, async () => {
        await admitAndRead(deps, limiters, frame, credential); // 8-12
        return claimIdempotencyKey(frame, actor, consoleRuntime(deps).settings.current().idempotencyTtlSeconds); // 13 idempotency
      });
      if (claim.kind === 'replay') return claim.result;
      return await settleOnFailure(deps.knex, tenantId, claim.id, String(actor.requestId), () =>
        inUnitOfWork(deps, tenantId, () => handle(deps, frame), completeClaim(claim.id)), // 14-16, the answer stored before commit
      );
    } catch (error) {
      if (frame.principal && isWrite(frame.route)) await auditFailedWrite(deps, frame, tenantId, actor, error);
      await noteRefusal(deps, credential, actor, error); //   a 404/403 counted towards an id walk
      throw error;
    }
  });
};

/** Stage 15 of a tenant route, a bulk route's import slot taken first in the same transaction (14). */
async function handle(deps: AppDeps, frame: RequestFrame): Promise<RouteResult> {
  if (frame.route.bulkBody) await takeBulkSlot(deps.config.transfers.importsPerTenant);
  return runHandler(frame);
}

/** Stages 8-12 of a tenant route, in its transaction: the caller is let through (8-10), then its input is read (11-12). */
async function admitAndRead(deps: AppDeps, limiters: RateLimiters, frame: RequestFrame, credential: TenantCredential): Promise<void> {
  await refuseThrottledKey(deps, credential); // 8 an API key throttled for walking ids: 429
  const principal = await authorizeTenantCaller(frame, credential); // 8 authorization
  await passGates(frame.route, principal, consoleRuntime(deps).flags, frame.req.baseUrl + frame.req.path); // 9 gates
  await chargePlanBudget(limiters.principal, frame, principal); // 10 plan budget
  frame.principal = principal;
  sanitizeInput(frame); // 11 sanitize
  frame.input = readInput(frame); // 12 validate
}
