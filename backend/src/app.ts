import express, { RequestHandler, Response } from 'express';
import { AppDeps } from './app-deps';
import { withTenant } from './infra/tenant-scope';
import { AppError } from './lib/errors';
import { buildRouter, RouterOptions } from './lib/http/build-router';
import { RouteDefinition } from './lib/http/route';
import { authenticate } from './middleware/authenticate';
import { bodyParsers } from './middleware/body-parsers';
import { corsPolicy } from './middleware/cors-policy';
import { errorHandler } from './middleware/error-handler';
import { notFound } from './middleware/not-found';
import { requestId } from './middleware/request-id';
import { requestLogger } from './middleware/request-logger';
import { securityHeaders } from './middleware/security-headers';
import { tenantResolver } from './middleware/tenant-resolver';
import { Credential } from './modules/auth/principal';
import { authorize, isPlatformRoute, loadPlatformPrincipal, loadTenantPrincipal } from './modules/auth/principal.service';
import { authRoutes } from './modules/auth/auth.routes';
import { healthRoutes } from './modules/health/health.routes';
import { isKnownPermission } from './modules/roles/permissions';

/** Every declared route of the service, in one list: the chain, the OpenAPI document and tests read it. */
export function declaredRoutes(deps: AppDeps): RouteDefinition[] {
  return [...healthRoutes({ ...deps, metricsToken: deps.config.metricsToken }), ...authRoutes(deps)];
}

/** Builds the Express app without listening, so tests drive it in-process. The order of links matters. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.http.trustProxy);

  app.use(requestId());
  app.use(requestLogger(deps.logger, deps.metrics));
  app.use(securityHeaders());
  app.use(corsPolicy(deps.config.http.corsOrigins));
  app.use(bodyParsers(deps.config.http.bodyLimit));
  app.use(tenantResolver(deps.knex, deps.config.auth.tenantBaseDomain));

  const authenticateLink = authenticate(deps.knex, deps.config.jwt);
  const options: RouterOptions = {
    chainFor: (route) => chainFor(route, authenticateLink),
    execute: (route, res, work) => execute(deps, route, res, work),
    isKnownPermission,
  };
  const routes = declaredRoutes(deps);
  app.use(buildRouter(routes.filter((route) => route.versioned === false), options));
  const api = buildRouter(routes.filter((route) => route.versioned !== false), options);
  app.use('/api/v1', api);
  app.use('/api', api);

  app.use(notFound());
  app.use(errorHandler(deps.logger));
  return app;
}

/** The per-route links a declaration asks for, between the global chain and the handler. */
function chainFor(route: RouteDefinition, authenticateLink: RequestHandler): RequestHandler[] {
  return route.permission === 'public' ? [] : [authenticateLink];
}

/**
 * Tenant routes run in one transaction bound to the caller's tenant (row-level security applies), which
 * first confirms the caller and checks the route's permission; platform routes take the platform path.
 */
async function execute<T>(
  deps: AppDeps,
  route: RouteDefinition,
  res: Response,
  work: (principal?: Parameters<typeof authorize>[1]) => Promise<T>,
): Promise<T> {
  if (route.permission === 'public') return work();
  const credential = res.locals.credential as Credential | undefined;
  if (!credential) throw new AppError('UNAUTHORIZED', 'Authentication is required');

  if (isPlatformRoute(route.permission)) {
    if (credential.kind !== 'platform_admin') throw new AppError('FORBIDDEN', 'This endpoint is for platform administrators');
    const principal = await loadPlatformPrincipal(deps.knex, credential);
    authorize(route.permission, principal);
    return work(principal);
  }
  if (credential.kind === 'platform_admin') {
    throw new AppError('UNAUTHORIZED', 'A platform token is not valid for tenant endpoints');
  }
  res.locals.auth = { tenantId: credential.tenantId };
  return withTenant(deps.knex, credential.tenantId, async () => {
    const principal = await loadTenantPrincipal(credential);
    authorize(route.permission, principal, route.usersOnly);
    return work(principal);
  });
}
