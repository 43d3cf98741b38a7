import { RequestHandler } from 'express';
import { TenantPrincipal } from '../modules/auth/principal';
import { RequestFrame } from './request-frame';

/**
 * Stage 10: the caller's hourly request budget under its plan (429 RATE_LIMITED past it), counted per
 * user or API key. The limiter is express-rate-limit's, run inline: it keys on the principal in res.locals.
 */
export function chargePlanBudget(limiter: RequestHandler, frame: RequestFrame, principal: TenantPrincipal): Promise<void> {
  frame.res.locals.principal = principal;
  return new Promise((resolve, reject) => {
    void limiter(frame.req, frame.res, (error?: unknown) => (error ? reject(error) : resolve()));
  });
}
