import { Readable } from 'node:stream';
import Joi from 'joi';
import { notFound } from '../../lib/errors';
import { DownloadBody } from '../../http/route';
import { Page, pageByCreation } from '../../lib/pagination';
import { AuditArchive } from './audit-archive.model';

const LISTED = ['id', 'firstSeq', 'lastSeq', 'entryCount', 'oldestAt', 'newestAt', 'lastHash', 'contentSha256', 'createdAt'] as const;

export const auditArchiveSchema = Joi.object({
  id: Joi.string().uuid().required(),
  firstSeq: Joi.number().integer().required(),
  lastSeq: Joi.number().integer().required(),
  entryCount: Joi.number().integer().required(),
  oldestAt: Joi.date().iso().required(),
  newestAt: Joi.date().iso().required(),
  lastHash: Joi.string().required().description('Hash of the last archived entry: the anchor verification starts from after this prune'),
  contentSha256: Joi.string().required().description('SHA-256 of the gzipped download, to check a stored copy'),
  sizeBytes: Joi.number().integer().required(),
  createdAt: Joi.date().iso().required(),
});

export async function listAuditArchives(page: Page) {
  const query = AuditArchive.query().select(...LISTED, AuditArchive.raw('octet_length(content) as size_bytes'));
  const result = await pageByCreation(query, page);
  return {
    rows: result.rows.map((row) => {
      const { cursorCreatedAt: _cursor, ...listed } = row as AuditArchive & { cursorCreatedAt?: string; sizeBytes: number };
      return listed;
    }),
    pagination: result.pagination,
  };
}

/** One archive, read whole in the request's transaction (it is one stored value), sent after it commits. */
export async function auditArchiveDownload(id: string): Promise<{ filename: string; body: DownloadBody }> {
  const archive = await AuditArchive.query().findById(id).select('firstSeq', 'lastSeq', 'content');
  if (!archive) throw notFound('Audit archive');
  return { filename: `audit-archive-${archive.firstSeq}-${archive.lastSeq}.ndjson.gz`, body: () => Readable.from([archive.content]) };
}
