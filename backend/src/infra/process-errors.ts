import { flushLogs, Logger } from './logger';

/**
 * A crash leaves one structured log line, then the process exits 1 (the orchestrator restarts it): an
 * uncaught exception or an unhandled rejection means state this process can no longer trust. The line
 * carries the error's name, message and stack, never a request body (the logger redacts secret keys).
 */
export function exitOnProcessErrors(logger: Logger): void {
  const crash = (kind: string) => (error: unknown) => {
    const described = error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { name: typeof error, message: String(error) };
    logger.error(kind, { error: described });
    void flushLogs().finally(() => process.exit(1));
  };
  process.once('uncaughtException', crash('uncaught exception: exiting'));
  process.once('unhandledRejection', crash('unhandled rejection: exiting'));
}
