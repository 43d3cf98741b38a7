/** How bad a finding is; `high` and `critical` ones are mailed to the tenant's admins. */
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Every kind of security event a detector raises (docs/SECURITY.md lists each with what to do). */
export const SECURITY_EVENT_TYPES = [
  'privilege.role_escalated',
  'privilege.admin_granted',
  'privilege.wide_api_key',
  'mfa.disabled',
  'export.mass',
  'session.refresh_reuse',
  'signin.failures_one_ip',
  'signin.failures_one_account',
  'signin.new_network',
  'access.id_walk',
  'impersonation.started',
  'impersonation.ended',
  'response.refresh_family_revoked',
  'response.signin_delayed',
  'response.api_key_throttled',
] as const;
export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];

/** What a detector found in one unit of work's domain events. */
export interface SecurityFinding {
  type: SecurityEventType;
  severity: Severity;
  /** One line for people: what happened, without personal data beyond ids. */
  summary: string;
  /** The user the finding is about, when there is one. */
  userId: string | null;
  details: Record<string, unknown>;
  /** What makes two findings the same pattern (besides their type): one alert per pattern per window. */
  subject: string;
  /** Mailed to the user it is about rather than by severity to the admins (a sign-in from a new network). */
  notifyUser?: boolean;
}

export const isSevere = (severity: Severity): boolean => severity === 'high' || severity === 'critical';

/** Whether a severity is the threshold or above it. */
export const atLeast = (severity: Severity, threshold: Severity): boolean => SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(threshold);
