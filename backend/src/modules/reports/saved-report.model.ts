import { TenantModel } from '../../infra/tenant-model';
import type { ReportDefinition } from './report-builder';
import type { ReportSchedule } from './report-schedule';

/** A builder report kept by name for the organization: run, exported and changed through /reports/:id. */
export class SavedReport extends TenantModel {
  static override tableName = 'saved_reports';
  static override jsonAttributes = ['definition', 'schedule'];

  name!: string;
  definition!: ReportDefinition;
  /** Mailed to its recipients on each tick of its cron expression; null when not scheduled. */
  schedule!: ReportSchedule | null;
  /** The schedule's next tick (null without one): the sweep sends reports whose tick has come. */
  nextRunAt!: Date | null;
  ownerId!: string;
  createdAt!: Date;
  updatedAt!: Date;
}

export const presentReport = (report: SavedReport) => ({
  id: report.id,
  name: report.name,
  definition: report.definition,
  schedule: report.schedule ?? null,
  nextRunAt: report.nextRunAt ?? null,
  ownerId: report.ownerId,
  createdAt: report.createdAt,
  updatedAt: report.updatedAt,
});
