import { AppError } from '../../lib/errors';
import { CircuitOpenError } from '../../infra/outbound/outbound-call';
import { SupplierRefusal } from './supplier-adapter';

/**
 * How a supplier failure reaches the client. An open circuit, a timeout or an outage is 503
 * SUPPLIER_UNAVAILABLE with `Retry-After` (when the breaker lets a probe through, or the reset window after
 * an outage); the supplier's refusals keep their meaning (an unknown part 404, an order it will not cancel
 * 409); refused credentials are 502 SUPPLIER_ERROR, for the organization's admin to fix.
 */
export function supplierFailure(error: unknown, what: string, resetSeconds: number): AppError {
  if (error instanceof CircuitOpenError) return unavailable(error.retryAfterSeconds);
  if (!(error instanceof SupplierRefusal)) return unavailable(resetSeconds);
  if (error.status === 404) return new AppError('NOT_FOUND', `${what} not found at the supplier`);
  if (error.status === 409) return new AppError('CONFLICT', `The supplier refused: ${error.message}`, [{ field: 'status', message: error.code }]);
  if (error.status === 400 || error.status === 422) return new AppError('VALIDATION_ERROR', `The supplier refused the request: ${error.message}`, [{ field: 'items', message: error.code }]);
  return new AppError('SUPPLIER_ERROR', `The supplier refused the organization's credentials or request (${error.code}); check the capricorn_edi integration`);
}

const unavailable = (retryAfterSeconds: number): AppError =>
  new AppError('SUPPLIER_UNAVAILABLE', 'The parts supplier cannot be reached right now; nothing was ordered or changed, try again later', undefined, {
    'Retry-After': String(retryAfterSeconds),
  });
