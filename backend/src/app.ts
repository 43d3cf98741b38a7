import express, { Response } from 'express';
import { AppDeps } from './app-deps';
import { withTenant } from './infra/tenant-scope';
import { AppError } from './lib/errors';
import { buildRouter, RouterOptions } from './lib/http/build-router';
import { RouteDefinition } from './lib/http/route';
import { bodyParsers } from './middleware/body-parsers';
import { corsPolicy } from './middleware/cors-policy';
import { errorHandler } from './middleware/error-handler';
import { notFound } from './middleware/not-found';
import { requestId } from './middleware/request-id';
import { requestLogger } from './middleware/request-logger';
import { securityHeaders } from './middleware/security-headers';
import { healthRoutes } from './modules/health/health.routes';

export interface AuthContext {
  tenantId: string;
}

/** Every declared route of the service, in one list: the chain, the OpenAPI document and tests read it. */
export function declaredRoutes(deps: AppDeps): RouteDefinition[] {
  return [...healthRoutes({ ...deps, metricsToken: deps.config.metricsToken })];
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

  const routes = declaredRoutes(deps);
  const options: RouterOptions = {
    chainFor: () => [],
    execute: (route, res, work) => (route.permission === 'public' ? work() : inTenantScope(deps, res, work)),
  };
  app.use(buildRouter(routes.filter((route) => route.versioned === false), options));
  const api = buildRouter(routes.filter((route) => route.versioned !== false), options);
  app.use('/api/v1', api);
  app.use('/api', api);

  app.use(notFound());
  app.use(errorHandler(deps.logger));
  return app;
}

/** Tenant routes run in one transaction bound to the caller's tenant (row-level security applies). */
function inTenantScope<T>(deps: AppDeps, res: Response, work: () => Promise<T>): Promise<T> {
  const auth = res.locals.auth as AuthContext | undefined;
  if (!auth) throw new AppError('UNAUTHORIZED', 'Authentication is required');
  return withTenant(deps.knex, auth.tenantId, () => work());
}
