import { declaredRoutes } from '../../src/app';
import { createMetrics } from '../../src/infra/metrics';
import { RouteDefinition } from '../../src/lib/http/route';
import { createRateLimiters } from '../../src/middleware/rate-limits';
import { isPlatformRoute } from '../../src/modules/auth/principal.service';
import { TestApp } from './test-app';

/**
 * The route declarations the app serves (app.ts `declaredRoutes`), so that sweeps cover a route the
 * day it is declared. Built with limiters of their own, on a registry of their own.
 */
export function servedRoutes(t: TestApp): RouteDefinition[] {
  const deps = { ...t.deps, metrics: createMetrics(t.deps.knex) };
  return declaredRoutes(deps, createRateLimiters(deps));
}

/** The URL a declaration is served at: `/api/v1` unless unversioned, `:params` filled in. */
export function urlOf(route: RouteDefinition, params: Record<string, string> = {}): string {
  const path = route.path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(params[name] ?? '00000000-0000-4000-8000-000000000000'));
  return route.versioned === false ? path : `/api/v1${path}`;
}

export const routeName = (route: RouteDefinition): string => `${route.method.toUpperCase()} ${route.path}`;

/** Routes of a tenant's caller: neither public (no caller, no tenant) nor the platform's (admin token, cross-tenant by design). */
export const isTenantRoute = (route: RouteDefinition): boolean => route.permission !== 'public' && !isPlatformRoute(route.permission);

/** The path parameters a declaration names. */
export const paramsOf = (route: RouteDefinition): string[] => [...route.path.matchAll(/:(\w+)/g)].map((match) => match[1]!);
