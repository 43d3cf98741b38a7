import http from 'node:http';
import { Logger } from './logger';

/** A part of the process to stop, by name (logged), or nothing when the process does not run that part. */
export type StopStep = [part: string, stop: () => Promise<unknown>] | undefined | false;

/**
 * Stops the parts one after another, in the order given: each only once nothing above it can use it.
 * Every part is tried even if one fails; resolves true when all stopped cleanly.
 */
export async function stopInOrder(logger: Logger, steps: StopStep[]): Promise<boolean> {
  let clean = true;
  for (const step of steps) {
    if (!step) continue;
    const [part, stop] = step;
    try {
      await stop();
      logger.info('stopped', { part });
    } catch (error) {
      clean = false;
      logger.error('error while stopping', { part, error });
    }
  }
  return clean;
}

/** Stops accepting connections; resolves once in-flight requests are answered (idle keep-alives are closed at once). */
export function closeHttpServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
