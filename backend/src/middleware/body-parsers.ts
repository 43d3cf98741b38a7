import { AsyncResource } from 'node:async_hooks';
import express, { RequestHandler } from 'express';

/**
 * Link 3c: JSON bodies up to the configured limit. Parse errors reach the error handler, which maps
 * them to INVALID_JSON and PAYLOAD_TOO_LARGE. `next` is bound to the request's async context,
 * which the body stream's callbacks would otherwise lose.
 */
export function bodyParsers(limit: string): RequestHandler {
  const json = express.json({ limit, strict: true, type: ['application/json', 'application/*+json'] });
  return (req, res, next) => json(req, res, AsyncResource.bind(next));
}
