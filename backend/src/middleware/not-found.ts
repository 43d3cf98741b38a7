import { RequestHandler } from 'express';
import { AppError } from '../lib/errors';

/** After every router: an unknown route answers the contract's 404 envelope. */
export const notFound = (): RequestHandler => (req, _res, next) =>
  next(new AppError('NOT_FOUND', `No route for ${req.method} ${req.path}`));
