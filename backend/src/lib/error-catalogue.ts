import { ERROR_STATUS, ErrorCode } from './errors';

/** What an integrator should do on an error: whether the same request can succeed later unchanged. */
export type RetryAdvice = 'no' | 'yes, after Retry-After' | 'yes, with backoff' | 'after fixing the cause';

export interface ErrorEntry {
  meaning: string;
  retry: RetryAdvice;
  fix: string;
}

/**
 * The integrator's view of every error code. Typed by ErrorCode, so a code added to errors.ts without an
 * entry here does not compile; docs/ERRORS.md is generated from this (`npm run docs:errors`).
 */
export const ERROR_CATALOGUE: Record<ErrorCode, ErrorEntry> = {
  VALIDATION_ERROR: {
    meaning: 'The input breaks the route\'s schema: every problem is listed in `details` (`field`, `message`; `row` for an import).',
    retry: 'no',
    fix: 'Correct the fields named in `details`; unknown fields and query parameters are refused too.',
  },
  INVALID_JSON: {
    meaning: 'The body is not parsable JSON.',
    retry: 'no',
    fix: 'Send valid JSON with `Content-Type: application/json`.',
  },
  UNAUTHORIZED: {
    meaning: 'No credentials, unknown or revoked credentials, or a wrong password.',
    retry: 'after fixing the cause',
    fix: 'Send `Authorization: Bearer <access token or API key>`; sign in again when the session has ended.',
  },
  TOKEN_EXPIRED: {
    meaning: 'The access token has expired.',
    retry: 'after fixing the cause',
    fix: 'Get a new pair with `POST /auth/refresh` and repeat the request.',
  },
  FORBIDDEN: {
    meaning: 'The caller lacks the permission the route needs, or the account is disabled.',
    retry: 'no',
    fix: 'Ask a tenant admin for a role holding the permission named in the message.',
  },
  TENANT_MISMATCH: {
    meaning: 'The tenant named (`X-Tenant-ID` or subdomain) is not the credentials\' tenant.',
    retry: 'no',
    fix: 'Name the tenant the token or API key belongs to, or none.',
  },
  TENANT_SUSPENDED: {
    meaning: 'The organization is suspended by the platform operator.',
    retry: 'no',
    fix: 'Contact the operator\'s support.',
  },
  MFA_ENROLLMENT_REQUIRED: {
    meaning:
      'MFA is required and the caller has none: a platform staff member while the deployment requires it, or a user whose organization requires it (`requireMfa`); only the own account (MFA setup) is open.',
    retry: 'after fixing the cause',
    fix: 'Enrol a TOTP factor on the own account, then sign in again.',
  },
  PLAN_FEATURE_UNAVAILABLE: {
    meaning: 'The organization\'s plan does not include this feature or its quota is used up.',
    retry: 'no',
    fix: 'Upgrade the plan, or delete records to get under the quota.',
  },
  PAYMENT_REQUIRED: {
    meaning: 'The trial or subscription has lapsed: what exceeds the free plan is read-only.',
    retry: 'no',
    fix: 'A tenant admin renews the subscription (billing checkout).',
  },
  NOT_FOUND: {
    meaning: 'No such resource, or it belongs to another tenant (the same answer on purpose), or no such route.',
    retry: 'no',
    fix: 'Check the id and the path (`/api/v1/...`).',
  },
  BILLING_DISABLED: {
    meaning: 'This deployment takes no payments: its billing routes do not exist.',
    retry: 'no',
    fix: 'Nothing to do: plans are assigned by the operator.',
  },
  CONFLICT: {
    meaning: 'The change contradicts the current state (a duplicate, a record changed meanwhile, a wrong state for the action).',
    retry: 'after fixing the cause',
    fix: 'Read the resource again and decide; the message says which rule applied.',
  },
  DUPLICATE_FOUND: {
    meaning:
      'A create asked to be refused if it looks like existing records (`?onDuplicate=reject`), and it does: each `details` entry (`field: duplicateOf`) starts with a candidate\'s id, then its score and reasons.',
    retry: 'after fixing the cause',
    fix: 'Update or merge the candidate (`POST /{resource}/:id/merge`), or create the record without `onDuplicate=reject`.',
  },
  IDEMPOTENCY_IN_PROGRESS: {
    meaning: 'A request with the same `Idempotency-Key` is still being processed.',
    retry: 'yes, with backoff',
    fix: 'Repeat it after a moment: the first request\'s answer is then replayed.',
  },
  TENANT_PENDING_DELETION: {
    meaning: 'The organization is scheduled for deletion: only reads, exports, sign-in, sign-out and the cancel work.',
    retry: 'no',
    fix: 'A tenant admin cancels the deletion, or export the data before it goes.',
  },
  BATCH_ROLLED_BACK: {
    meaning: 'An item of an atomic batch (`POST /{resource}/batch` with `atomic: true`): this operation was not stored because another operation of the batch failed; that item carries the cause.',
    retry: 'after fixing the cause',
    fix: 'Correct the operation whose item has another error and send the batch again.',
  },
  PAYLOAD_TOO_LARGE: {
    meaning: 'The body (1 MB for JSON, 50 MB for an import) or the request head (16 KB) is too large.',
    retry: 'no',
    fix: 'Send less: split an import, shorten headers.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    meaning: 'The body\'s `Content-Type` is not `application/json` (or `text/csv` on import routes).',
    retry: 'no',
    fix: 'Set the content type the route takes.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    meaning: 'The `Idempotency-Key` was used before with a different request.',
    retry: 'no',
    fix: 'Use a new key for each distinct request.',
  },
  CURSOR_EXPIRED: {
    meaning: 'A change-feed cursor older than the feed\'s 30-day retention: events after it may have been pruned.',
    retry: 'no',
    fix: 'Resynchronise from the lists, then follow the feed from the oldest cursor named in `details` (or from now).',
  },
  SUPPLIER_UNAVAILABLE: {
    meaning: 'The parts supplier did not answer (timeout, outage, or its circuit breaker is open); nothing was ordered.',
    retry: 'yes, after Retry-After',
    fix: 'Retry with the same `Idempotency-Key` after `Retry-After`: an order the supplier did take is found, not placed twice.',
  },
  SUPPLIER_ERROR: {
    meaning: 'The parts supplier refused the request as sent, usually because of the integration\'s credentials.',
    retry: 'after fixing the cause',
    fix: 'Check the supplier integration\'s `apiKey` and `customerId` (PATCH /integrations/:id), then retry.',
  },
  SUPPLIER_NOT_CONFIGURED: {
    meaning: 'The organization has no active parts supplier integration.',
    retry: 'after fixing the cause',
    fix: 'Create the supplier integration (POST /integrations, type `capricorn`), then retry.',
  },
  RATE_LIMITED: {
    meaning:
      'A rate limit (per IP, per sign-in, or the plan\'s per-caller budget) is spent, or the organization already runs as many imports or downloads at once as it may (imports counted across all instances).',
    retry: 'yes, after Retry-After',
    fix: 'Wait the seconds in `Retry-After`; `RateLimit` headers show the budget left.',
  },
  INTERNAL_ERROR: {
    meaning: 'An unexpected failure on the server; it is logged with the `requestId`.',
    retry: 'yes, with backoff',
    fix: 'Retry writes with the same `Idempotency-Key`; report persistent ones with the `requestId`.',
  },
  SERVICE_UNAVAILABLE: {
    meaning: 'A dependency (database, Redis for sign-in, Stripe) is unreachable, or the server is draining.',
    retry: 'yes, after Retry-After',
    fix: 'Wait the seconds in `Retry-After` (a write refused so was not stored).',
  },
};

/** docs/ERRORS.md, exactly: a table generated from ERROR_STATUS and ERROR_CATALOGUE. */
export function errorCatalogueMarkdown(): string {
  const escape = (text: string) => text.replace(/\|/g, '\\|');
  const rows = (Object.keys(ERROR_STATUS) as ErrorCode[]).map((code) => {
    const entry = ERROR_CATALOGUE[code];
    return `| \`${code}\` | ${ERROR_STATUS[code]} | ${escape(entry.meaning)} | ${entry.retry} | ${escape(entry.fix)} |`;
  });
  return [
    '# Error codes',
    '',
    '<!-- Generated by `npm run docs:errors` from backend/src/lib/errors.ts and error-catalogue.ts: do not edit. -->',
    '',
    'Every error answers `{"error": {"code", "message", "details"?, "requestId"}}` with one of these codes',
    '(docs/API.md, *Answers and errors*). Branch on `code`, never on `message`. "Retry" says whether the same',
    'request can succeed later unchanged; quote `requestId` when reporting a problem.',
    '',
    '| code | status | meaning | retry | usual fix |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
