import { TenantModel } from '../../infra/tenant-model';
import type { ReportDefinition } from './report-builder';

/** A builder report kept by name for the organization: run, exported and changed through /reports/:id. */
export class SavedReport extends TenantModel {
  static override tableName = 'saved_reports';
  static override jsonAttributes = ['definition'];

  name!: string;
  definition!: ReportDefinition;
  ownerId!: string;
  createdAt!: Date;
  updatedAt!: Date;
}

export const presentReport = (report: SavedReport) => ({
  id: report.id,
  name: report.name,
  definition: report.definition,
  ownerId: report.ownerId,
  createdAt: report.createdAt,
  updatedAt: report.updatedAt,
});
