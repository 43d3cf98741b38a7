import { ErrorReporter } from './error-tracking';
import { flushLogs, Logger } from './logger';

/**
 * A crash leaves one structured log line, then the process exits 1 (the orchestrator restarts it): an
 * uncaught exception or an unhandled rejection means state this process can no longer trust. The line
 * carries the error's name, message and stack, never a request body (the logger redacts secret keys).
 * With error tracking on, the error is reported too, and the exit waits (up to 2 s) for the report to leave.
 */
export function exitOnProcessErrors(logger: Logger, reporter?: ErrorReporter): void {
  const crash = (kind: string) => (error: unknown) => {
    const described = error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { name: typeof error, message: String(error) };
    logger.error(kind, { error: described });
    reporter?.report(error, { source: 'process' });
    void Promise.allSettled([flushLogs(), reporter?.flush(2000)]).finally(() => process.exit(1));
  };
  process.once('uncaughtException', crash('uncaught exception: exiting'));
  process.once('unhandledRejection', crash('unhandled rejection: exiting'));
}
