import type { ErrorEvent } from '@sentry/node';
import { AppConfig } from '../config/app-config';

/** Where an error happened, as far as a report may say: identifiers and templates, never bodies or people. */
export interface ErrorContext {
  source: 'request' | 'job' | 'process';
  requestId?: string;
  /** The route template (`/api/v1/leads/:id`), never the path with its ids or query. */
  route?: string;
  method?: string;
  status?: number;
  tenantId?: string;
  job?: { task: string; id: string; attempt: number };
}

export interface ErrorReporter {
  report(error: unknown, context: ErrorContext): void;
  /** Waits for queued reports to leave (before a crash exits), at most this long. */
  flush(timeoutMs: number): Promise<boolean>;
}

/** Without SENTRY_DSN: nothing is built, nothing is sent. */
const silent: ErrorReporter = { report: () => undefined, flush: () => Promise.resolve(true) };

/**
 * Text an error message may carry that names a person or opens a door: e-mail addresses, bearer tokens and
 * JWTs, API keys, long hex or base64 runs (hashes, secrets), and the bound values knex quotes after ` - `.
 */
const SCRUBBERS: Array<[RegExp, string]> = [
  [/[^\s@"'<>(),;]+@[^\s@"'<>(),;]+\.[a-z]{2,}/gi, '[email]'],
  [/\bbearer\s+\S+/gi, 'Bearer [token]'],
  [/\beyJ[\w-]+\.[\w-]+\.[\w-]+/g, '[jwt]'],
  [/\b(sk|rk|pk|whsec|crm)_[\w-]{8,}/gi, '[key]'],
  [/\b[a-f0-9]{32,}\b/gi, '[hex]'],
  [/[A-Za-z0-9+/_-]{40,}={0,2}/g, '[secret]'],
];

export function scrubText(text: string): string {
  return SCRUBBERS.reduce((scrubbed, [pattern, replacement]) => scrubbed.replace(pattern, replacement), text);
}

/**
 * Sentry's beforeSend: what leaves is the error's type, its scrubbed message, its stack frames (file, line,
 * function; no local variables are collected) and the tags set here. The request itself (body, headers,
 * cookies, query, URL), the user, breadcrumbs and extra data are dropped whatever put them there.
 */
export function scrubEvent(event: ErrorEvent): ErrorEvent {
  delete event.request;
  delete event.user;
  delete event.breadcrumbs;
  delete event.extra;
  delete event.server_name;
  if (event.message) event.message = scrubText(event.message);
  for (const exception of event.exception?.values ?? []) {
    if (exception.value) exception.value = scrubText(exception.value);
    for (const frame of exception.stacktrace?.frames ?? []) delete frame.vars;
  }
  return event;
}

/**
 * Sentry's client is loaded only when a DSN is set: loading it costs about half a second of start-up, which
 * every process without error tracking (development, tests, the CLI) would pay for nothing.
 */
function sentryReporter(): typeof import('./sentry-reporter') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a synchronous, conditional load (see above)
  return require('./sentry-reporter') as typeof import('./sentry-reporter');
}

const reporters = new WeakMap<AppConfig, ErrorReporter>();

/** The process's one reporter for this configuration (the API and the worker each have theirs). */
export function errorReporterOf(config: AppConfig): ErrorReporter {
  let reporter = reporters.get(config);
  if (!reporter) {
    reporter = config.errorTracking ? sentryReporter().createErrorReporter(config.errorTracking, config.env) : silent;
    reporters.set(config, reporter);
  }
  return reporter;
}
