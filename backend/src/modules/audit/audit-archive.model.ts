import { TenantModel } from '../../infra/tenant-model';

/** What audit retention pruned: the stored entries as gzipped NDJSON, written by the job as the jobs role. */
export class AuditArchive extends TenantModel {
  static override tableName = 'auditArchives';

  firstSeq!: number;
  lastSeq!: number;
  entryCount!: number;
  oldestAt!: Date;
  newestAt!: Date;
  lastHash!: string;
  contentSha256!: string;
  content!: Buffer;
  createdAt!: Date;
}
