import { AsyncResource } from 'node:async_hooks';
import express, { Request, RequestHandler } from 'express';
import { AppError } from '../lib/errors';

const ACCEPTED_TYPES = ['application/json', 'application/*+json', 'text/csv'];
const hasBody = (req: Request) =>
  req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;

/**
 * Link 3c: JSON bodies up to the configured limit; a body of any other type than JSON or CSV is 415.
 * Parse errors reach the error handler, which maps them to INVALID_JSON and PAYLOAD_TOO_LARGE.
 * Bodies of bulk routes (`parsedByRoute`) are left unread: their route parses them after authentication.
 * `next` is bound to the request's async context, which the body stream's callbacks would otherwise lose.
 */
export function bodyParsers(limit: string, parsedByRoute: (req: Request) => boolean = () => false): RequestHandler {
  const json = express.json({ limit, strict: true, type: ['application/json', 'application/*+json'] });
  return (req, res, next) => {
    if (hasBody(req) && !req.is(ACCEPTED_TYPES)) {
      next(new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json (or text/csv for imports)'));
      return;
    }
    if (parsedByRoute(req)) {
      next();
      return;
    }
    // CSV is read by bulk routes only; elsewhere it would reach the route unparsed.
    if (hasBody(req) && req.is('text/csv')) {
      next(new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json (text/csv is for imports)'));
      return;
    }
    json(req, res, AsyncResource.bind(next));
  };
}
