import { Knex } from 'knex';
import { withTenant } from '../infra/tenant-scope';
import { AppError } from '../lib/errors';
import { RouteResult } from '../http/route';
import { toAppError } from '../middleware/error-handler';
import { AuditActor } from '../modules/audit/audit-context';
import { Claim, claimKey, completeKey, fingerprint, settleFailedKey } from '../modules/idempotency/idempotency.service';
import { isWrite, RequestFrame } from './request-frame';

/** Whether the request is a write that names an `Idempotency-Key` (Stripe semantics). */
export const wantsIdempotency = ({ route, req }: RequestFrame): boolean => isWrite(route) && req.get('idempotency-key') !== undefined;

/**
 * Stage 13: claims the `Idempotency-Key` (1 to 255 characters, IETF draft) for this caller and this
 * request, in the checks' own transaction, which commits before the work starts: a second request with
 * the key finds it in flight (409), done (a replay of the first answer) or used for another request (422).
 */
export function claimIdempotencyKey({ req }: RequestFrame, actor: AuditActor, ttlSeconds: number): Promise<Claim> {
  const key = req.get('idempotency-key')!;
  if (key.length < 1 || key.length > 255) {
    throw new AppError('VALIDATION_ERROR', 'Idempotency-Key must be 1 to 255 characters', [{ field: 'Idempotency-Key', message: 'must be 1 to 255 characters' }]);
  }
  return claimKey(`${actor.actorType}:${actor.actorId}`, key, fingerprint(req.method, req.originalUrl, req.body), ttlSeconds);
}

/** The answer of a claimed key, stored in the work's own transaction: a replay is exactly what committed. */
export const completeClaim = (claimId: string) => (result: RouteResult): Promise<void> => completeKey(claimId, result);

/** A claimed key whose work fails is settled in a transaction of its own: a 5xx frees the key, any other failure is kept. */
export async function settleOnFailure<T>(knex: Knex, tenantId: string, claimId: string, requestId: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    await withTenant(knex, tenantId, () => settleFailedKey(claimId, toAppError(error), requestId));
    throw error;
  }
}
