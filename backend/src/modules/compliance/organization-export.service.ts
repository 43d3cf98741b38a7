import { Readable } from 'node:stream';
import { tenantScope } from '../../infra/tenant-scope';
import { enqueueJob } from '../../jobs/enqueue';
import { AppError, notFound } from '../../lib/errors';
import { DownloadBody, InTenant } from '../../http/route';
import { Page, pageByCreation } from '../../lib/pagination';
import { recordEvent } from '../events/event-context';
import { actorId, TenantPrincipal } from '../auth/principal';
import { DataExport, DataExportFormat } from './data-export.model';
import { ORGANIZATION_EXPORT_TASK } from './organization-export.job';

/** One export per tenant per hour, counted from the last request that did not fail. */
const EXPORT_INTERVAL_SECONDS = 3600;

const LISTED = ['id', 'format', 'status', 'requestedBy', 'sizeBytes', 'createdAt', 'startedAt', 'completedAt', 'expiresAt'] as const;

export const presentExport = (row: DataExport) => ({
  id: row.id,
  format: row.format,
  status: row.status,
  requestedBy: row.requestedBy,
  sizeBytes: row.sizeBytes === null ? null : Number(row.sizeBytes),
  createdAt: row.createdAt.toISOString(),
  startedAt: row.startedAt?.toISOString() ?? null,
  completedAt: row.completedAt?.toISOString() ?? null,
  expiresAt: row.expiresAt?.toISOString() ?? null,
});

/**
 * Records the request and enqueues the job that writes it, in the request's transaction. A per-tenant
 * advisory lock makes two simultaneous requests take turns, so the hourly limit holds across instances.
 */
/** Exports an organization keeps, newest first; a new request deletes the finished ones past it. */
export const KEPT_EXPORTS = 3;

export async function requestExport(principal: TenantPrincipal, format: DataExportFormat): Promise<{ exportId: string; status: string }> {
  const { tenantId, trx } = tenantScope();
  await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`organization-export:${tenantId}`]);
  const { rows } = await trx.raw<{ rows: Array<{ wait: string | null }> }>(
    `select ceil(extract(epoch from max(created_at) + make_interval(secs => ?) - now())) as wait
       from data_exports where tenant_id = ? and status <> 'failed'`,
    [EXPORT_INTERVAL_SECONDS, tenantId],
  );
  const wait = Number(rows[0]?.wait ?? 0);
  if (wait > 0) {
    throw new AppError('RATE_LIMITED', 'One organization export per hour: retry after the number of seconds in Retry-After', undefined, {
      'Retry-After': String(wait),
    });
  }
  const created = await DataExport.query().insertAndFetch({ requestedBy: actorId(principal), format, status: 'pending' });
  // Each export holds a copy of the whole organization: only the newest few are kept (their chunks go with them).
  await trx('dataExports')
    .where({ tenantId })
    .whereNotIn('status', ['pending', 'running'])
    .whereNotIn('id', trx('dataExports').where({ tenantId }).orderBy('createdAt', 'desc').orderBy('id', 'desc').limit(KEPT_EXPORTS).select('id'))
    .delete();
  await enqueueJob(ORGANIZATION_EXPORT_TASK, { exportId: created.id }, { maxAttempts: 3 });
  recordEvent({ type: 'organization.export_requested', exportId: created.id, format });
  return { exportId: created.id, status: created.status };
}

export async function listExports(page: Page) {
  const result = await pageByCreation(DataExport.query().select(...LISTED), page);
  return { rows: result.rows.map(presentExport), pagination: result.pagination };
}

/**
 * A completed export's content as a download: the chunks are counted now, then read one per short
 * transaction while the client takes them. A chunk gone meanwhile (the export expired) ends the download
 * with an error, never with a shorter file that looks whole. Unknown, foreign or expired: 404; not
 * completed yet (or failed): 409.
 */
export async function exportDownload(id: string): Promise<{ format: DataExportFormat; filename: string; body: DownloadBody }> {
  const found = await DataExport.query().findById(id).select('id', 'format', 'status', 'createdAt', 'expiresAt');
  // Past its expiry the content is as good as gone, even before the hourly job deletes it.
  if (!found || found.status === 'expired' || (found.expiresAt && found.expiresAt <= new Date())) throw notFound('Export');
  if (found.status !== 'completed') {
    throw new AppError('CONFLICT', `The export is ${found.status}, not ready for download`, [{ field: 'status', message: `is ${found.status}` }]);
  }
  recordEvent({ type: 'organization.export_downloaded', exportId: id, format: found.format });
  const { tenantId, trx } = tenantScope();
  const [counted] = await trx('dataExportChunks').where({ tenantId, exportId: id }).count<Array<{ count: string }>>({ count: '*' });
  const chunkCount = Number(counted?.count ?? 0);
  async function* chunks(inTenant: InTenant): AsyncGenerator<Buffer> {
    for (let seq = 0; seq < chunkCount; seq += 1) {
      const chunk = await inTenant(() =>
        tenantScope().trx('dataExportChunks').where({ tenantId, exportId: id, seq }).first<{ content: Buffer } | undefined>('content'),
      );
      if (!chunk) throw new Error(`Organization export ${id} lost chunk ${seq} during its download`);
      yield chunk.content;
    }
  }
  const day = found.createdAt.toISOString().slice(0, 10);
  return {
    format: found.format,
    filename: `organization-export-${day}.${found.format === 'json' ? 'json' : 'zip'}`,
    body: (inTenant) => Readable.from(chunks(inTenant), { highWaterMark: 1 }),
  };
}
