/** Stable error codes of the API contract and the HTTP status each one answers with. */
export const ERROR_STATUS = {
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  UNAUTHORIZED: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  TENANT_MISMATCH: 403,
  TENANT_SUSPENDED: 403,
  /** A staff member without MFA while ADMIN_MFA_REQUIRED, or a user whose organization requires MFA: only setting it up is open. */
  MFA_ENROLLMENT_REQUIRED: 403,
  PLAN_FEATURE_UNAVAILABLE: 402,
  /** Billing lapsed (trial expired, subscription canceled): what exceeds the free plan is read-only. */
  PAYMENT_REQUIRED: 402,
  NOT_FOUND: 404,
  /** Stripe is not configured on this deployment: its billing routes do not exist. */
  BILLING_DISABLED: 404,
  CONFLICT: 409,
  /** A create with `?onDuplicate=reject` looks like existing records: `details` names each candidate. */
  DUPLICATE_FOUND: 409,
  IDEMPOTENCY_IN_PROGRESS: 409,
  /** The organization is scheduled for deletion: reads, exports, sign-out and the cancel still work. */
  TENANT_PENDING_DELETION: 409,
  /** A change-feed cursor older than the feed's retention: events after it are gone. */
  CURSOR_EXPIRED: 410,
  /** An operation of an atomic batch that was rolled back because another one failed (an item's status, never a request's). */
  BATCH_ROLLED_BACK: 424,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
  /** The parts supplier is down or its circuit is open: nothing was sent or changed; `Retry-After` says when to try. */
  SUPPLIER_UNAVAILABLE: 503,
  /** The supplier answered something this connector cannot take (refused credentials, an unknown answer). */
  SUPPLIER_ERROR: 502,
  /** The organization has no active supplier integration (capricorn_edi) to order through. */
  SUPPLIER_NOT_CONFIGURED: 409,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorDetail {
  /** The 1-based data row of a bulk import the problem is in. */
  row?: number;
  field?: string;
  message: string;
}

/** The one error type services throw; the error handler turns it into the contract's envelope. */
export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
  }
}

export const notFound = (what = 'Resource'): AppError => new AppError('NOT_FOUND', `${what} not found`);
