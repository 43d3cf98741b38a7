import { AsyncResource } from 'node:async_hooks';
import express, { Request, RequestHandler } from 'express';
import { AppError } from '../lib/errors';

const ACCEPTED_TYPES = ['application/json', 'application/*+json', 'text/csv'];
const hasBody = (req: Request) =>
  req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;

const unsupported = (req: Request): AppError | undefined =>
  hasBody(req) && !req.is(ACCEPTED_TYPES) ? new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json (or text/csv for imports)') : undefined;

/**
 * Stage 4: JSON bodies up to the configured limit; a body of any other type than JSON is 415 (CSV is for
 * imports). Parse errors reach the error handler, which maps them to INVALID_JSON and PAYLOAD_TOO_LARGE.
 * `next` is bound to the request's async context, which the body stream's callbacks would otherwise lose.
 */
export function jsonBody(limit: string): RequestHandler {
  const json = express.json({ limit, strict: true, type: ['application/json', 'application/*+json'] });
  return (req, res, next) => {
    const refused = unsupported(req);
    if (refused) return next(refused);
    // CSV is read by bulk routes only; elsewhere it would reach the route unparsed.
    if (hasBody(req) && req.is('text/csv')) return next(new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json (text/csv is for imports)'));
    json(req, res, AsyncResource.bind(next));
  };
}

/**
 * Stage 4 of a bulk route: only the media type is checked now; the body (JSON or CSV, past BODY_LIMIT)
 * is read once the caller is authenticated (bulk-body.ts).
 */
export function deferredBody(): RequestHandler {
  return (req, _res, next) => next(unsupported(req));
}

/**
 * Stage 4 of a route that verifies a signature over its body (a Stripe webhook): the bytes as sent, up to
 * the limit, kept for the handler (`input.rawBody`); nothing is parsed, so nothing can be re-serialised.
 */
export function rawBody(limit: string): RequestHandler {
  const raw = express.raw({ limit, type: () => true });
  return (req, res, next) =>
    raw(req, res, AsyncResource.bind((error?: unknown) => {
      if (error) return next(error);
      res.locals.rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      req.body = undefined;
      next();
    }));
}
