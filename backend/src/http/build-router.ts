import express, { RequestHandler } from 'express';
import { isPlatformRoute } from '../modules/auth/principal.service';
import { RouteDefinition } from './route';

/** `resource:action`; a staff permission carries the `platform:` prefix (`platform:tenants:read`, `platform:impersonate`). */
const PERMISSION = /^(platform:[a-z][a-z_]*(:[a-z][a-z_]*)?|[a-z][a-z_]*:[a-z][a-z_]*)$/;
const WRITES = new Set(['post', 'put', 'patch', 'delete']);

/** Refuses a declaration set that would leave a door open or ambiguous, before the server listens. */
export function assertRoutesValid(routes: RouteDefinition[], isKnownPermission: (permission: string) => boolean): void {
  const seen = new Set<string>();
  for (const route of routes) {
    const id = `${route.method.toUpperCase()} ${route.path}`;
    if (!route.permission) throw new Error(`Route ${id} declares no permission (use 'public' explicitly)`);
    const special = route.permission === 'public' || route.permission === 'authenticated';
    if (!special && !PERMISSION.test(route.permission)) {
      throw new Error(`Route ${id} declares a malformed permission "${route.permission}"`);
    }
    if (!special && !isKnownPermission(route.permission)) {
      throw new Error(`Route ${id} declares the unknown permission "${route.permission}"`);
    }
    const tenantWrite = WRITES.has(route.method) && route.permission !== 'public' && !isPlatformRoute(route.permission);
    if (tenantWrite && !route.auditResource) throw new Error(`Route ${id} is a tenant write and declares no auditResource`);
    const key = `${route.versioned === false ? '' : 'v1'} ${id}`;
    if (seen.has(key)) throw new Error(`Route ${id} is declared twice`);
    seen.add(key);
  }
}

/** Mounts each declaration with the stages the pipeline gives it, once the declarations are checked. */
export function buildRouter(
  routes: RouteDefinition[],
  stagesOf: (route: RouteDefinition) => RequestHandler[],
  isKnownPermission: (permission: string) => boolean,
): express.Router {
  assertRoutesValid(routes, isKnownPermission);
  const router = express.Router({ strict: false });
  for (const route of routes) router[route.method](route.path, ...stagesOf(route));
  return router;
}
