import express, { Request, RequestHandler, Response } from 'express';
import { AppDeps } from './app-deps';
import { Semaphore } from './infra/semaphore';
import { withTenant } from './infra/tenant-scope';
import { TenantSlots } from './infra/tenant-slots';
import { AppError } from './lib/errors';
import { buildRouter, RouterOptions } from './lib/http/build-router';
import { Download, sendDownload } from './lib/http/download';
import { RouteDefinition, RouteResult } from './lib/http/route';
import { authenticate } from './middleware/authenticate';
import { bodyParsers } from './middleware/body-parsers';
import { bulkBody } from './middleware/bulk-body';
import { corsPolicy } from './middleware/cors-policy';
import { errorHandler, toAppError } from './middleware/error-handler';
import { notFound } from './middleware/not-found';
import { createRateLimiters, RateLimiters } from './middleware/rate-limits';
import { requestId } from './middleware/request-id';
import { requestLogger } from './middleware/request-logger';
import { sanitize } from './middleware/sanitize';
import { securityHeaders } from './middleware/security-headers';
import { tenantResolver } from './middleware/tenant-resolver';
import { accountsRoutes } from './modules/accounts/accounts.routes';
import { activitiesRoutes } from './modules/activities/activities.routes';
import { adminAuthRoutes } from './modules/admin/admin-auth.routes';
import { adminConsoleRoutes } from './modules/admin/console.routes';
import { consoleRuntime, observeRequest } from './modules/admin/console-runtime';
import { refuseDuringImpersonation } from './modules/admin/impersonation-policy';
import { adminTenantsRoutes } from './modules/admin/tenants.routes';
import { apiKeysRoutes } from './modules/api-keys/api-keys.routes';
import { AuditActor, queuedAudit, runWithAuditContext } from './modules/audit/audit-context';
import { useAuditEncryptionKey } from './modules/audit/audit-crypto';
import { flushAudit, writeAuditNow } from './modules/audit/audit-store';
import { auditRoutes } from './modules/audit/audit.routes';
import { authRoutes } from './modules/auth/auth.routes';
import { Credential, PlatformAdminPrincipal, TenantPrincipal } from './modules/auth/principal';
import { authorize, isPlatformRoute, loadPlatformPrincipal, loadTenantPrincipal } from './modules/auth/principal.service';
import { organizationRoutes } from './modules/compliance/organization.routes';
import { privacyRoutes } from './modules/compliance/privacy.routes';
import { contactsRoutes } from './modules/contacts/contacts.routes';
import { importUndoRoutes } from './modules/crm/import.routes';
import { dealsRoutes } from './modules/deals/deals.routes';
import { docsRoutes, docsUi } from './modules/docs/docs.routes';
import { healthRoutes } from './modules/health/health.routes';
import { claimKey, completeKey, fingerprint, settleFailedKey } from './modules/idempotency/idempotency.service';
import { leadsRoutes } from './modules/leads/leads.routes';
import { organizationSettingsRoutes } from './modules/organization-settings/organization-settings.routes';
import { requireFeature } from './modules/plans/plan-gates';
import { rateLimitRoutes } from './modules/plans/rate-limit.routes';
import { isKnownPermission } from './modules/roles/permissions';
import { rolesRoutes } from './modules/roles/roles.routes';
import { tasksRoutes } from './modules/tasks/tasks.routes';
import { ticketsRoutes } from './modules/tickets/tickets.routes';
import { usersRoutes } from './modules/users/users.routes';
import { integrationsRoutes } from './modules/integrations/integrations.routes';
import { publishWebhookEvents } from './modules/webhooks/webhook-outbox';
import { queueNotifications } from './modules/notifications/notification-rules';
import { passwordResetRoutes } from './modules/auth/password-reset.routes';
import { webhooksRoutes } from './modules/webhooks/webhooks.routes';

/** Every declared route of the service, in one list: the chain, the OpenAPI document and tests read it. */
export function declaredRoutes(deps: AppDeps, limiters: RateLimiters): RouteDefinition[] {
  const routes = [
    ...healthRoutes({ ...deps, metricsToken: deps.config.metricsToken }),
    ...authRoutes(deps),
    ...passwordResetRoutes(deps),
    ...adminAuthRoutes(deps),
    ...adminTenantsRoutes(deps, consoleRuntime(deps)),
    ...adminConsoleRoutes(deps, consoleRuntime(deps)),
    ...organizationSettingsRoutes(),
    ...usersRoutes(deps),
    ...rolesRoutes(),
    ...apiKeysRoutes(),
    ...webhooksRoutes(deps),
    ...integrationsRoutes(deps),
    ...auditRoutes(),
    ...rateLimitRoutes(limiters),
    ...leadsRoutes(),
    ...contactsRoutes(),
    ...accountsRoutes(),
    ...dealsRoutes(),
    ...tasksRoutes(),
    ...activitiesRoutes(),
    ...ticketsRoutes(),
    ...importUndoRoutes(),
    ...organizationRoutes(deps),
    ...privacyRoutes(deps),
  ];
  return [...routes, ...docsRoutes(routes)];
}

const WRITE_METHODS = new Set(['post', 'put', 'patch', 'delete']);
const versionedPaths = (path: string) => [`/api/v1${path}`, `/api${path}`];

/** Builds the Express app without listening, so tests drive it in-process. The order of links matters. */
export function createApp(deps: AppDeps): express.Express {
  useAuditEncryptionKey(deps.config.encryptionKey);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.http.trustProxy);

  // Sign-in routes take their limits per route (failing closed); every other anonymous request shares one.
  let authPaths = new Set<string>();
  const runtime = consoleRuntime(deps);
  const limiters = createRateLimiters(deps, (path) => authPaths.has(path), () => runtime.settings.current());
  const routes = declaredRoutes(deps, limiters);
  const transfers: Transfers = {
    downloads: new TenantSlots(deps.config.transfers.downloadsPerTenant, 'downloads'),
    // However many downloads run, at least three quarters of the pool stay free for other requests.
    downloadPages: new Semaphore(Math.max(1, Math.floor(deps.config.db.poolMax / 4))),
    imports: new TenantSlots(deps.config.transfers.importsPerTenant, 'imports'),
  };
  authPaths = new Set(routes.filter((route) => route.rateLimit).flatMap((route) => versionedPaths(route.path)));

  app.use(requestId());
  app.use(requestLogger(deps.logger, deps.metrics, (request) => observeRequest(runtime, request)));
  app.use(securityHeaders());
  app.use(corsPolicy(deps.config.http.corsOrigins));
  // Bulk bodies (imports) may exceed BODY_LIMIT and be CSV: their routes read them, after authentication.
  const bulkRequests = new Set(
    routes.filter((route) => route.bulkBody).flatMap((route) => versionedPaths(route.path).map((path) => `${route.method} ${path}`.toLowerCase())),
  );
  app.use(bodyParsers(deps.config.http.bodyLimit, (req) => bulkRequests.has(`${req.method} ${req.path.replace(/\/$/, '')}`.toLowerCase())));
  app.use(limiters.anonymous);
  app.use(tenantResolver(deps.knex, deps.config.auth.tenantBaseDomain));
  app.use(sanitize());

  const authenticateLink = authenticate(deps.knex, deps.config.jwt, limiters.failedAuthentication);
  const options: RouterOptions = {
    chainFor: (route) => chainFor(route, authenticateLink, limiters, transfers),
    admit: (route, res) => admitCaller(deps, route, res),
    execute: (route, res, run) => execute(deps, limiters, transfers, route, res, run),
    isKnownPermission,
  };
  app.use(docsUi());
  app.use(buildRouter(routes.filter((route) => route.versioned === false), options));
  const api = buildRouter(routes.filter((route) => route.versioned !== false), options);
  app.use('/api/v1', api);
  app.use('/api', api);

  app.use(notFound());
  app.use(errorHandler(deps.logger));
  return app;
}

/** Per-tenant caps of this instance on transfers that last: downloads while sent, imports while read and run. */
interface Transfers {
  downloads: TenantSlots;
  /** Downloads' page reads at once, whichever tenants they are for. */
  downloadPages: Semaphore;
  imports: TenantSlots;
}

/** The per-route links a declaration asks for, between the global chain and the handler. */
function chainFor(route: RouteDefinition, authenticateLink: RequestHandler, limiters: RateLimiters, transfers: Transfers): RequestHandler[] {
  if (route.rateLimit === 'login') return [limiters.auth, limiters.login];
  if (route.rateLimit === 'auth') return [limiters.auth];
  if (route.permission === 'public') return [];
  return route.bulkBody ? [authenticateLink, bulkBody(route.bulkBody, transfers.imports)] : [authenticateLink];
}

/**
 * What can be decided before reading the request's input: whether a caller is there, whether its kind
 * fits the route, and, for platform routes (no tenant transaction), the admin's permission. A caller
 * who may not use a route learns that, not how its input is shaped.
 */
async function admitCaller(deps: AppDeps, route: RouteDefinition, res: Response): Promise<void> {
  if (route.permission === 'public') return;
  const credential = res.locals.credential as Credential | undefined;
  if (!credential) throw new AppError('UNAUTHORIZED', 'Authentication is required');
  if (isPlatformRoute(route.permission)) {
    if (credential.kind !== 'platform_admin') throw new AppError('FORBIDDEN', 'This endpoint is for platform administrators');
    const principal = await loadPlatformPrincipal(deps.knex, credential);
    authorize(route.permission, principal);
    res.locals.platformPrincipal = principal;
    return;
  }
  if (credential.kind === 'platform_admin') {
    throw new AppError('UNAUTHORIZED', 'A platform token is not valid for tenant endpoints');
  }
  if (credential.kind === 'user' && credential.impersonatorId) refuseDuringImpersonation(route);
}

/**
 * Links 7-11 around the handler. Tenant routes run in one transaction bound to the caller's tenant
 * (row-level security applies) that first confirms the caller (revocation, status, suspension), checks
 * the permission, the plan feature and the plan's request budget, and writes the audit entries last.
 * With an Idempotency-Key, the key is claimed in a transaction of its own before the work starts and
 * completed in the work's transaction. Platform routes take the platform path.
 */
async function execute(
  deps: AppDeps,
  limiters: RateLimiters,
  transfers: Transfers,
  route: RouteDefinition,
  res: Response,
  run: (principal?: Parameters<typeof authorize>[1]) => Promise<RouteResult>,
): Promise<RouteResult> {
  if (route.permission === 'public') return run();
  if (isPlatformRoute(route.permission)) return run(res.locals.platformPrincipal as PlatformAdminPrincipal);
  // admitCaller has made sure of a tenant credential.
  const credential = res.locals.credential as Exclude<Credential, { kind: 'platform_admin' }>;

  const req = res.req as Request;
  const tenantId = credential.tenantId;
  res.locals.auth = { tenantId };
  const admit = async (): Promise<TenantPrincipal> => {
    const principal = await loadTenantPrincipal(credential);
    res.locals.principal = principal;
    authorize(route.permission, principal, route.usersOnly);
    // The one gate of an organization awaiting deletion: reads go on, writes stop unless declared open.
    if (principal.deletionScheduledFor && WRITE_METHODS.has(route.method) && !route.allowedWhilePendingDeletion) {
      throw new AppError('TENANT_PENDING_DELETION', 'This organization is scheduled for deletion: only reads, exports and cancelling the deletion are possible', [
        { field: 'organization', message: `scheduled for deletion on ${principal.deletionScheduledFor.toISOString()}` },
      ]);
    }
    if (route.feature) requireFeature(principal, route.feature);
    await runLink(limiters.principal, req, res);
    return principal;
  };
  const actor: AuditActor = {
    actorType: credential.kind,
    actorId: credential.kind === 'user' ? credential.userId : credential.apiKeyId,
    impersonatorId: credential.kind === 'user' ? (credential.impersonatorId ?? null) : null,
    ip: req.ip ?? null,
    userAgent: req.get('user-agent') ?? null,
    requestId: String(res.locals.requestId),
  };

  const writeEntries = async () => {
    // CRM writes become webhook events from their audit entries, in the same transaction (the outbox).
    await publishWebhookEvents(queuedAudit());
    await queueNotifications(deps.config, queuedAudit());
    await flushAudit();
  };
  // Entries queued by the work are written last in its transaction (flushAudit), so they commit with it.
  const work = async (principal: TenantPrincipal) => {
    const result = await run(principal);
    // A download's entries wait for its last byte (an export counts the rows it sent): see send below.
    if (result.kind !== 'download') await writeEntries();
    return result;
  };
  /**
   * Sends a download once the request's transaction has committed: its body reads page by page, each
   * page in a short transaction of its own, so a slow client holds no connection. Its entries follow.
   */
  const send = async (download: Download) => {
    const free = transfers.downloads.take(tenantId);
    const gauge = deps.metrics.downloads;
    gauge.inc({ state: 'sending' });
    try {
      const inTenant = <T>(unit: () => Promise<T>) => transfers.downloadPages.run(() => withTenant(deps.knex, tenantId, unit));
      const outcome = await sendDownload(res, download, inTenant, {
        stallTimeoutMs: deps.config.transfers.downloadStallMs,
        waiting: (waiting) => {
          gauge.inc({ state: waiting ? 'waiting_on_client' : 'sending' });
          gauge.dec({ state: waiting ? 'sending' : 'waiting_on_client' });
        },
      });
      if (outcome === 'stalled') deps.logger.warn('download cut off: the client stopped reading', { route: route.path });
    } finally {
      gauge.dec({ state: 'sending' });
      free();
    }
    await withTenant(deps.knex, tenantId, writeEntries);
  };
  let admitted = false;
  const admitOnce = async () => {
    const principal = await admit();
    admitted = true;
    return principal;
  };

  try {
    return await runWithAuditContext(actor, async () => {
      const key = WRITE_METHODS.has(route.method) ? idempotencyKeyOf(req) : undefined;
      if (key === undefined) {
        const result = await withTenant(deps.knex, tenantId, async () => work(await admitOnce()));
        if (result.kind === 'download') await send(result);
        return result;
      }
      const caller = `${actor.actorType}:${actor.actorId}`;
      const print = fingerprint(req.method, req.originalUrl, req.body);
      const { principal, claim } = await withTenant(deps.knex, tenantId, async () => {
        const confirmed = await admitOnce();
        return { principal: confirmed, claim: await claimKey(caller, key, print, consoleRuntime(deps).settings.current().idempotencyTtlSeconds) };
      });
      if (claim.kind === 'replay') return claim.result;
      try {
        return await withTenant(deps.knex, tenantId, async () => {
          const result = await work(principal);
          await completeKey(claim.id, result);
          return result;
        });
      } catch (error) {
        await withTenant(deps.knex, tenantId, () => settleFailedKey(claim.id, toAppError(error), actor.requestId ?? ''));
        throw error;
      }
    });
  } catch (error) {
    if (admitted && WRITE_METHODS.has(route.method)) await auditFailure(deps, tenantId, actor, route, req, error);
    throw error;
  }
}

/** A refused or failed write by a confirmed caller is audited too, in its own transaction (the work's rolled back). */
async function auditFailure(deps: AppDeps, tenantId: string, actor: AuditActor, route: RouteDefinition, req: Request, error: unknown) {
  const appError = toAppError(error);
  const resourceId = typeof req.params.id === 'string' && /^[0-9a-f-]{36}$/i.test(req.params.id) ? req.params.id : undefined;
  try {
    await withTenant(deps.knex, tenantId, () =>
      writeAuditNow(actor, [
        {
          action: 'request.failed',
          resourceType: route.path.split('/')[1],
          ...(resourceId ? { resourceId } : {}),
          after: { method: route.method.toUpperCase(), route: route.path },
          result: 'failure',
          errorCode: appError?.code ?? 'INTERNAL_ERROR',
        },
      ]),
    );
  } catch (auditError) {
    deps.logger.error('could not audit a failed request', { error: auditError });
  }
}

/** `Idempotency-Key` (IETF draft): 1 to 255 characters. */
function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  if (key.length < 1 || key.length > 255) {
    throw new AppError('VALIDATION_ERROR', 'Idempotency-Key must be 1 to 255 characters', [
      { field: 'Idempotency-Key', message: 'must be 1 to 255 characters' },
    ]);
  }
  return key;
}

/** Runs an Express middleware (a rate limiter) inline, inside the transaction that knows the caller. */
function runLink(link: RequestHandler, req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) => {
    void link(req, res, (error?: unknown) => (error ? reject(error) : resolve()));
  });
}
