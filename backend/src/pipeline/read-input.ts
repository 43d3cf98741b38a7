import { parse as parseCookies } from 'cookie';
import { RouteInput } from '../http/route';
import { validateInput } from '../http/validate-input';
import { RequestFrame } from './request-frame';

/**
 * Stage 12: params, query and body checked against the route's schemas (one 400 listing every problem;
 * anything undeclared is refused), and what a handler may read of the request.
 */
export function readInput({ route, req, res }: RequestFrame): RouteInput {
  return {
    ...validateInput(route, { params: req.params, query: req.query, body: req.body }),
    headers: req.headers,
    cookies: req.headers.cookie ? parseCookies(req.headers.cookie) : {},
    requestId: String(res.locals.requestId),
    ip: req.ip ?? '',
    userAgent: req.get('user-agent'),
    requestedTenantId: res.locals.requestedTenantId as string | undefined,
    ...(route.rawBody ? { rawBody: res.locals.rawBody as Buffer } : {}),
  };
}
