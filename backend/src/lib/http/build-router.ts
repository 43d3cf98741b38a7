import { parse as parseCookies } from 'cookie';
import express, { NextFunction, Request, RequestHandler, Response } from 'express';
import { Principal } from '../../modules/auth/principal';
import { RouteDefinition, RouteInput, RouteResult } from './route';
import { validateInput } from './validate-input';

const PERMISSION = /^[a-z][a-z_]*:[a-z][a-z_]*$/;

export interface RouterOptions {
  /** Links of the chain a declaration asks for (authentication, authorization, ...), before validation. */
  chainFor(route: RouteDefinition): RequestHandler[];
  /** Checks that need no transaction (the kind of caller; a platform caller's permission), before validation. */
  admit(route: RouteDefinition, res: Response): Promise<void>;
  /**
   * Runs the handler: for non-public routes, inside the caller's tenant transaction (or the platform
   * path) once the caller is confirmed and authorized, handing the handler its principal. A download is
   * sent here too, after that transaction has committed (its body reads in short transactions of its own).
   */
  execute(route: RouteDefinition, res: Response, work: (principal?: Principal) => Promise<RouteResult>): Promise<RouteResult>;
  /** Whether a declared permission exists in the catalogue. */
  isKnownPermission(permission: string): boolean;
}

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
    const key = `${route.versioned === false ? '' : 'v1'} ${id}`;
    if (seen.has(key)) throw new Error(`Route ${id} is declared twice`);
    seen.add(key);
  }
}

export function buildRouter(routes: RouteDefinition[], options: RouterOptions): express.Router {
  assertRoutesValid(routes, options.isKnownPermission);
  const router = express.Router({ strict: false });
  for (const route of routes) {
    router[route.method](route.path, ...options.chainFor(route), runner(route, options));
  }
  return router;
}

function runner(route: RouteDefinition, options: RouterOptions): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      await options.admit(route, res);
      const validated = validateInput(route, { params: req.params, query: req.query, body: req.body });
      const input: RouteInput = {
        ...validated,
        headers: req.headers,
        cookies: req.headers.cookie ? parseCookies(req.headers.cookie) : {},
        requestId: String(res.locals.requestId),
        ip: req.ip ?? '',
        userAgent: req.get('user-agent'),
        requestedTenantId: res.locals.requestedTenantId as string | undefined,
      };
      const result = await options.execute(route, res, (principal) => route.handler({ ...input, principal }));
      if (result.kind !== 'download') send(res, result);
    } catch (error) {
      next(error);
    }
  };
}

function send(res: Response, result: Exclude<RouteResult, { kind: 'download' }>): void {
  switch (result.kind) {
    case 'json':
      if (result.headers) res.set(result.headers);
      res.status(result.status).json(result.body);
      return;
    case 'text':
      res.status(result.status).type(result.contentType).send(result.text);
      return;
    case 'empty':
      if (result.headers) res.set(result.headers);
      res.status(204).end();
      return;
  }
}
