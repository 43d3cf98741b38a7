import { Request, RequestHandler } from 'express';
import { Logger } from '../infra/logger';
import { Metrics } from '../infra/metrics';

/** A finished request as observers (usage counters, recent errors) get it. */
export interface FinishedRequest {
  at: Date;
  requestId: string | null;
  tenantId: string | null;
  method: string;
  route: string;
  status: number;
  /** The error code the error handler answered with, if any. */
  code: string | null;
  durationMs: number;
}

/** Stage 2: one structured line per request and its duration in the histogram, when the answer is done. */
export function requestLogger(logger: Logger, metrics: Metrics, onFinished?: (request: FinishedRequest) => void): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    let logged = false;
    const finish = (aborted: boolean) => {
      if (logged) return;
      logged = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeTemplate(req);
      metrics.httpDuration.observe({ method: req.method, route, status_code: String(res.statusCode) }, seconds);
      const level = res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info';
      logger.log(level, 'request', {
        requestId: res.locals.requestId,
        tenantId: res.locals.auth?.tenantId,
        method: req.method,
        // The path only: query strings may carry search terms about people.
        path: req.path,
        route,
        status: res.statusCode,
        durationMs: Math.round(seconds * 1000 * 10) / 10,
        ip: req.ip,
        aborted,
      });
      onFinished?.({
        at: new Date(),
        requestId: (res.locals.requestId as string | undefined) ?? null,
        tenantId: (res.locals.auth as { tenantId?: string } | undefined)?.tenantId ?? null,
        method: req.method,
        route,
        status: res.statusCode,
        code: (res.locals.errorCode as string | undefined) ?? null,
        durationMs: Math.round(seconds * 1000 * 10) / 10,
      });
    };
    res.on('finish', () => finish(false));
    res.on('close', () => finish(!res.writableFinished));
    next();
  };
}

/** The matched route template (`/api/v1/leads/:id`), so metrics have bounded label values. */
export function routeTemplate(req: Request): string {
  const path = (req.route as { path?: string } | undefined)?.path;
  return path === undefined ? 'unmatched' : `${req.baseUrl}${path}`;
}
