import express, { NextFunction, Request, RequestHandler, Response } from 'express';
import { RouteDefinition, RouteResult } from './route';
import { validateInput } from './validate-input';

const PERMISSION = /^[a-z][a-z_]*:[a-z][a-z_]*$/;

export interface RouterOptions {
  /** Links of the chain a declaration asks for (authentication, authorization, ...), before validation. */
  chainFor(route: RouteDefinition): RequestHandler[];
  /** Runs the handler, inside a tenant transaction when the route needs one. */
  execute<T>(route: RouteDefinition, res: Response, work: () => Promise<T>): Promise<T>;
}

/** Refuses a declaration set that would leave a door open or ambiguous, before the server listens. */
export function assertRoutesValid(routes: RouteDefinition[]): void {
  const seen = new Set<string>();
  for (const route of routes) {
    const id = `${route.method.toUpperCase()} ${route.path}`;
    if (!route.permission) throw new Error(`Route ${id} declares no permission (use 'public' explicitly)`);
    if (route.permission !== 'public' && !PERMISSION.test(route.permission)) {
      throw new Error(`Route ${id} declares a malformed permission "${route.permission}"`);
    }
    const key = `${route.versioned === false ? '' : 'v1'} ${id}`;
    if (seen.has(key)) throw new Error(`Route ${id} is declared twice`);
    seen.add(key);
  }
}

export function buildRouter(routes: RouteDefinition[], options: RouterOptions): express.Router {
  assertRoutesValid(routes);
  const router = express.Router({ strict: false });
  for (const route of routes) {
    router[route.method](route.path, ...options.chainFor(route), runner(route, options));
  }
  return router;
}

function runner(route: RouteDefinition, options: RouterOptions): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const input = validateInput(route, { params: req.params, query: req.query, body: req.body });
      const result = await options.execute(route, res, () =>
        route.handler({ ...input, headers: req.headers, requestId: String(res.locals.requestId) }),
      );
      send(res, result);
    } catch (error) {
      next(error);
    }
  };
}

function send(res: Response, result: RouteResult): void {
  switch (result.kind) {
    case 'json':
      if (result.headers) res.set(result.headers);
      res.status(result.status).json(result.body);
      return;
    case 'text':
      res.status(result.status).type(result.contentType).send(result.text);
      return;
    case 'empty':
      res.status(204).end();
      return;
    case 'stream':
      res.status(result.status).type(result.contentType);
      if (result.filename) res.attachment(result.filename);
      result.stream.on('error', (error) => res.destroy(error));
      result.stream.pipe(res);
      return;
  }
}
