import { IncomingMessage } from 'node:http';
import request from 'supertest';
import { declaredRoutes } from '../../src/app';
import { createMetrics } from '../../src/infra/metrics';
import { RouteDefinition } from '../../src/http/route';
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

/**
 * A live stream (`text/event-stream`) never ends, so a sweep reads its answer only up to the first bytes
 * and then closes the connection (which frees the stream's slot); any other answer, an error included,
 * is read and parsed whole.
 */
export function readingStreamsBriefly<T extends request.Test>(req: T, route: { response?: { contentType?: string | string[] } }): T {
  if (route.response?.contentType !== 'text/event-stream') return req;
  return req.buffer(true).parse((res, done) => {
    const stream = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
    let text = '';
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      done(null, stream ? text : parsedJson(text));
      if (stream) (res as unknown as IncomingMessage).destroy();
    };
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      text += chunk;
      if (stream) finish();
    });
    res.on('end', finish);
  }) as T;
}

function parsedJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
