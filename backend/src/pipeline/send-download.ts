import { AppDeps } from '../app-deps';
import { Semaphore } from '../infra/semaphore';
import { TenantSlots } from '../infra/tenant-slots';
import { withTenant } from '../infra/tenant-scope';
import { Download, sendDownload } from '../http/download';
import { RequestFrame } from './request-frame';
import { inUnitOfWork } from './unit-of-work';

/** Per-instance caps on transfers that last: downloads while sent, their page reads, imports while read and run. */
export interface Transfers {
  downloads: TenantSlots;
  /** Downloads' page reads at once, whichever tenants they are for. */
  downloadPages: Semaphore;
  imports: TenantSlots;
  /** Live event streams while open, capped by the tenant's plan. */
  liveStreams: TenantSlots;
}

export function createTransfers(deps: AppDeps): Transfers {
  return {
    downloads: new TenantSlots(deps.config.transfers.downloadsPerTenant, 'downloads'),
    // However many downloads run, at least three quarters of the pool stay free for other requests.
    downloadPages: new Semaphore(Math.max(1, Math.floor(deps.config.db.poolMax / 4))),
    imports: new TenantSlots(deps.config.transfers.importsPerTenant, 'imports'),
    liveStreams: new TenantSlots(Number.POSITIVE_INFINITY, 'live event streams'),
  };
}

/**
 * Stage 17 for a download, once the unit of work has committed: its body reads page by page, each page
 * in a short transaction of its own, so a slow client holds no connection and no open transaction. It
 * takes one of the tenant's download slots while it is sent (429 beyond them); a live event stream, one of
 * its live-stream slots, as many as its plan allows. The events the work
 * recorded (an export counts the rows it sent) are published after the last byte, in a unit of work of
 * their own.
 */
export async function sendTenantDownload(deps: AppDeps, transfers: Transfers, frame: RequestFrame, tenantId: string, download: Download): Promise<void> {
  const free = download.live ? transfers.liveStreams.take(tenantId, download.live.streamsPerTenant) : transfers.downloads.take(tenantId);
  const gauge = deps.metrics.downloads;
  gauge.inc({ state: 'sending' });
  try {
    const inTenant = <T>(unit: () => Promise<T>) => transfers.downloadPages.run(() => withTenant(deps.knex, tenantId, unit));
    const outcome = await sendDownload(frame.res, download, inTenant, {
      stallTimeoutMs: deps.config.transfers.downloadStallMs,
      waiting: (waiting) => {
        gauge.inc({ state: waiting ? 'waiting_on_client' : 'sending' });
        gauge.dec({ state: waiting ? 'sending' : 'waiting_on_client' });
      },
    });
    if (outcome === 'stalled') deps.logger.warn('download cut off: the client stopped reading', { route: frame.route.path });
  } finally {
    gauge.dec({ state: 'sending' });
    free();
  }
  await inUnitOfWork(deps, tenantId, async () => undefined);
}
