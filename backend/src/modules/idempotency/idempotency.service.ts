import { createHash } from 'node:crypto';
import { canonicalJson } from '../../lib/canonical-json';
import { raw as rawResult, RouteResult } from '../../http/route';
import { AppError } from '../../lib/errors';
import { IdempotencyKey } from './idempotency-key.model';

/** Longer than any request may run (statement timeout), after which a crashed attempt may be retried. */
const LOCK_SECONDS = 120;

export type Claim = { kind: 'claimed'; id: string } | { kind: 'replay'; result: RouteResult };

/** method + path + body with sorted keys: the same request, however its JSON was spelled. */
export function fingerprint(method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method.toUpperCase()} ${path}\n${canonicalJson(body ?? null)}`).digest('hex');
}


/**
 * Claims a key for this caller in the current tenant scope. Its transaction commits before the work
 * starts, so a concurrent duplicate finds the row: in progress (409), finished (replayed), or made
 * for a different request (422). An expired key, or one whose attempt died, is claimed afresh.
 */
export async function claimKey(caller: string, key: string, print: string, ttlSeconds: number): Promise<Claim> {
  const now = Date.now();
  const fresh = {
    caller,
    key,
    fingerprint: print,
    status: 'in_progress' as const,
    lockedUntil: new Date(now + LOCK_SECONDS * 1000),
    expiresAt: new Date(now + ttlSeconds * 1000),
  };
  const inserted = await IdempotencyKey.query().insert(fresh).onConflict(['tenantId', 'caller', 'key']).ignore();
  if (inserted.id) return { kind: 'claimed', id: inserted.id };

  const existing = await IdempotencyKey.query().findOne({ caller, key }).forUpdate();
  if (!existing) throw new AppError('IDEMPOTENCY_IN_PROGRESS', 'A request with this Idempotency-Key is in progress');
  const expired = existing.expiresAt.getTime() <= now;
  const abandoned = existing.status === 'in_progress' && (existing.lockedUntil?.getTime() ?? 0) <= now;
  if (expired || (abandoned && existing.fingerprint === print)) {
    await IdempotencyKey.query().findById(existing.id).patch({ ...fresh, responseStatus: null, responseBody: null, responseHeaders: null, completedAt: null });
    return { kind: 'claimed', id: existing.id };
  }
  if (existing.fingerprint !== print) {
    throw new AppError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used for a different request');
  }
  if (existing.status === 'in_progress') {
    throw new AppError('IDEMPOTENCY_IN_PROGRESS', 'A request with this Idempotency-Key is in progress', undefined, { 'Retry-After': '1' });
  }
  return { kind: 'replay', result: replay(existing) };
}

function replay(row: IdempotencyKey): RouteResult {
  const headers = { ...(row.responseHeaders ?? {}), 'Idempotent-Replayed': 'true' };
  if (row.responseStatus === 204) return { kind: 'empty', status: 204, headers };
  return rawResult(row.responseStatus ?? 200, row.responseBody, headers);
}

/**
 * The secrets this service makes (randomSecret: a prefix and 32 random bytes, base64url): API keys, webhook
 * signing secrets, invitation and reset tokens, refresh tokens. An answer shows one once; its stored copy
 * for replays must not keep it in clear for IDEMPOTENCY_TTL_SECONDS.
 */
const MADE_SECRET = /^(crm_live_|whsec_|inv_|sinv_|prt_|rt_|art_|mfa_)[A-Za-z0-9_-]{43}$/;
/** What a replay shows in place of a secret: the first answer was the only one to carry it. */
export const REDACTED_SECRET = '[redacted: shown only in the first answer]';

/** A copy of a JSON answer, as it would be sent (dates as strings), with every made secret replaced by REDACTED_SECRET. */
export const redactSecrets = (body: unknown): unknown => (body === undefined ? body : redacted(JSON.parse(JSON.stringify(body)) as unknown));

function redacted(value: unknown): unknown {
  if (typeof value === 'string') return MADE_SECRET.test(value) ? REDACTED_SECRET : value;
  if (Array.isArray(value)) return value.map(redacted);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, redacted(field)]));
  return value;
}

/** Stores the answer (its secrets redacted) in the same transaction as the work, so both commit or neither does. */
export async function completeKey(id: string, result: RouteResult): Promise<void> {
  const stored =
    result.kind === 'json'
      ? { responseStatus: result.status, responseBody: redactSecrets(result.body), responseHeaders: result.headers ?? null }
      : { responseStatus: result.status, responseBody: null, responseHeaders: result.kind === 'empty' ? (result.headers ?? null) : null };
  await IdempotencyKey.query().findById(id).patch({ ...stored, status: 'completed', completedAt: new Date(), lockedUntil: null });
}

/** After a failed attempt: a 4xx is the answer and is kept; a 5xx frees the key for a retry. */
export async function settleFailedKey(id: string, error: AppError | undefined, requestId: string): Promise<void> {
  if (!error || error.status >= 500) {
    await IdempotencyKey.query().deleteById(id);
    return;
  }
  const body = {
    error: { code: error.code, message: error.message, ...(error.details?.length ? { details: error.details } : {}), requestId },
  };
  await IdempotencyKey.query()
    .findById(id)
    .patch({ status: 'completed', responseStatus: error.status, responseBody: body, responseHeaders: error.headers ?? null, completedAt: new Date(), lockedUntil: null });
}
