import { randomUUID } from 'node:crypto';
import { RequestHandler } from 'express';
import { runWithRequestContext } from '../infra/request-context';

/** Printable, bounded ids only: anything else could forge log lines or bloat them. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Stage 1: adopts a sane X-Request-Id or makes one, echoes it, and opens the request's log context. */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const id = given && SANE_REQUEST_ID.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.set('X-Request-Id', id);
    runWithRequestContext({ requestId: id }, next);
  };
}
