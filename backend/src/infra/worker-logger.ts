import { Logger as WorkerLogger } from 'graphile-worker';

/** For graphile-worker's schema migrations, whose progress lines would only clutter a boot log. */
export const silentWorkerLogger = new WorkerLogger(() => () => undefined);
