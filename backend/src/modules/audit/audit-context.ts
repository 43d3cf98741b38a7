/** Who acts, from where: stamped on every entry of one request. */
export interface AuditActor {
  actorType: 'user' | 'api_key' | 'platform_admin' | 'system';
  actorId: string | null;
  impersonatorId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

/** One audited fact. `before`/`after` hold the changed fields; values about a person are encrypted at rest. */
export interface AuditEvent {
  action: string;
  resourceType?: string;
  resourceId?: string;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  /** The email of the person the record is about, whose key encrypts its personal data (crypto-shredding). */
  subject?: string | null;
  result?: 'success' | 'failure';
  errorCode?: string | null;
}
