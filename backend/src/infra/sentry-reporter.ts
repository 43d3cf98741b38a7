import { defaultStackParser, makeNodeTransport, NodeClient, Scope } from '@sentry/node';
import { AppConfig } from '../config/app-config';
import { ErrorReporter, scrubEvent } from './error-tracking';

/**
 * Reports through Sentry's own Node client (not its global hub, so that each configuration, as each test app,
 * has its own and none patches modules). No default integrations: they would add request data, breadcrumbs
 * of console lines and outgoing URLs, and process handlers of their own; process errors are ours (process-errors.ts).
 */
export function createErrorReporter(tracking: NonNullable<AppConfig['errorTracking']>, environment: AppConfig['env']): ErrorReporter {
  const client = new NodeClient({
    dsn: tracking.dsn,
    release: tracking.release,
    environment,
    transport: makeNodeTransport,
    stackParser: defaultStackParser,
    integrations: [],
    sendDefaultPii: false,
    sendClientReports: false,
    maxBreadcrumbs: 0,
    beforeSend: scrubEvent,
  });
  client.init();
  return {
    report(error, context) {
      const scope = new Scope();
      scope.setClient(client);
      scope.setTags({
        source: context.source,
        ...(context.requestId && { request_id: context.requestId }),
        ...(context.route && { route: context.route }),
        ...(context.method && { method: context.method }),
        ...(context.status && { status: String(context.status) }),
        ...(context.tenantId && { tenant_id: context.tenantId }),
        ...(context.job && { job_task: context.job.task, job_id: context.job.id, job_attempt: String(context.job.attempt) }),
      });
      if (context.route) scope.setTransactionName(`${context.method ?? ''} ${context.route}`.trim());
      client.captureException(error, undefined, scope);
    },
    flush: (timeoutMs) => Promise.resolve(client.flush(timeoutMs)),
  };
}
