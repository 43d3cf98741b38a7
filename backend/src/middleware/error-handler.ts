import { ErrorRequestHandler } from 'express';
import { fromDatabaseError } from '../lib/database-errors';
import { AppError } from '../lib/errors';
import { ErrorReporter } from '../infra/error-tracking';
import { Logger } from '../infra/logger';
import { routeTemplate } from './request-logger';

interface BodyParserError {
  type?: string;
  status?: number;
}

const BODY_ERRORS: Record<string, () => AppError> = {
  'entity.parse.failed': () => new AppError('INVALID_JSON', 'The request body is not valid JSON'),
  'entity.too.large': () => new AppError('PAYLOAD_TOO_LARGE', 'The request body is too large'),
  'encoding.unsupported': () => new AppError('UNSUPPORTED_MEDIA_TYPE', 'The content encoding is not supported'),
  'charset.unsupported': () => new AppError('UNSUPPORTED_MEDIA_TYPE', 'The charset is not supported'),
  'request.aborted': () => new AppError('VALIDATION_ERROR', 'The request was aborted by the client'),
};

/** Anything thrown, as the contract's error. Unknown errors become a logged 500 that reveals nothing. */
export function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  // objection's throwIfNotFound(): a row the tenant cannot see is, to the caller, a row that does not exist.
  if ((error as { name?: string })?.name === 'NotFoundError') return new AppError('NOT_FOUND', 'Resource not found');
  const bodyError = BODY_ERRORS[(error as BodyParserError)?.type ?? ''];
  if (bodyError) return bodyError();
  return fromDatabaseError(error);
}

/** The one place that turns errors into the `{error: {...}}` envelope. */
export function errorHandler(logger: Logger, reporter: ErrorReporter): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const known = toAppError(error);
    const appError = known ?? new AppError('INTERNAL_ERROR', 'An unexpected error occurred');
    if (!known || appError.status >= 500) {
      logger.error('request failed', { error, method: req.method, path: req.path, code: appError.code });
      reporter.report(error, {
        source: 'request',
        requestId: res.locals.requestId as string | undefined,
        route: routeTemplate(req),
        method: req.method,
        status: appError.status,
        tenantId: (res.locals.auth as { tenantId?: string } | undefined)?.tenantId,
      });
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // For the request logger's observers (the console's recent errors): the code, never the message.
    res.locals.errorCode = appError.code;
    if (appError.headers) res.set(appError.headers);
    res.status(appError.status).json({
      error: {
        code: appError.code,
        message: appError.message,
        ...(appError.details?.length ? { details: appError.details } : {}),
        requestId: res.locals.requestId,
      },
    });
  };
}
