import { TenantModel } from '../../infra/tenant-model';

export type DataExportStatus = 'pending' | 'running' | 'completed' | 'failed' | 'expired';
export type DataExportFormat = 'json' | 'csv';

/** One organization export request; its content is in data_export_chunks once completed. */
export class DataExport extends TenantModel {
  static override tableName = 'dataExports';

  requestedBy!: string | null;
  format!: DataExportFormat;
  status!: DataExportStatus;
  sizeBytes!: string | number | null;
  error!: string | null;
  startedAt!: Date | null;
  completedAt!: Date | null;
  expiresAt!: Date | null;
  createdAt!: Date;
}
