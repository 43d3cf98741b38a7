import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import { defuseFormula } from '../../lib/csv-cell';
import { tenantScope } from '../../infra/tenant-scope';
import { notFound } from '../../lib/errors';
import { DownloadBody } from '../../http/route';
import { TenantPrincipal, UserPrincipal } from '../auth/principal';
import { recordEvent } from '../events/event-context';
import { compileReport, ReportDefinition, ReportRow, runReport } from './report-builder';
import { REPORT_RESOURCES } from './report-fields';
import { checkSchedule, ReportSchedule } from './report-schedule';
import { presentReport, SavedReport } from './saved-report.model';

export interface ReportDraft {
  name: string;
  definition: ReportDefinition;
  schedule?: ReportSchedule | null;
}

/** A schedule's next tick, checked (cron and recipients) against the definition's time zone; null without one. */
const nextRunOf = async (schedule: ReportSchedule | null | undefined, definition: ReportDefinition): Promise<Date | null> =>
  schedule ? checkSchedule(schedule, definition.timeZone) : null;

/** Saved reports of resources the caller may not read are as absent as another organization's. */
const mayRead = (principal: TenantPrincipal, report: SavedReport) => principal.permissions.has(`${REPORT_RESOURCES[report.definition.resource]!.table}:read`);

export async function listReports(principal: TenantPrincipal) {
  const reports = await SavedReport.query().orderBy(['name', 'id']);
  return reports.filter((report) => mayRead(principal, report)).map(presentReport);
}

async function loadReport(principal: TenantPrincipal, id: string): Promise<SavedReport> {
  const report = await SavedReport.query().findById(id);
  if (!report || !mayRead(principal, report)) throw notFound('Report');
  return report;
}

export const getReport = async (principal: TenantPrincipal, id: string) => presentReport(await loadReport(principal, id));

export async function createReport(principal: UserPrincipal, draft: ReportDraft) {
  await compileReport(principal, draft.definition);
  const nextRunAt = await nextRunOf(draft.schedule, draft.definition);
  const report = await SavedReport.query()
    .insert({ ...draft, schedule: draft.schedule ?? null, nextRunAt, ownerId: principal.userId, createdBy: principal.userId, updatedBy: principal.userId } as never)
    .returning('*');
  const shown = presentReport(report);
  recordEvent({ type: 'report.created', id: report.id, report: shown });
  return shown;
}

export async function updateReport(principal: UserPrincipal, id: string, patch: Partial<ReportDraft>) {
  const report = await loadReport(principal, id);
  if (patch.definition) await compileReport(principal, patch.definition);
  // A new schedule, or a new time zone for the old one, moves the next tick.
  const timing = patch.schedule !== undefined || patch.definition ? { nextRunAt: await nextRunOf(patch.schedule === undefined ? report.schedule : patch.schedule, patch.definition ?? report.definition) } : {};
  const updated = await SavedReport.query().patchAndFetchById(id, { ...patch, ...timing, updatedBy: principal.userId } as never);
  const before = presentReport(report);
  const after = presentReport(updated);
  const changed = (Object.keys(patch) as Array<keyof ReportDraft>).filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
  if (changed.length) {
    recordEvent({ type: 'report.updated', id, before: Object.fromEntries(changed.map((key) => [key, before[key]])), after: Object.fromEntries(changed.map((key) => [key, after[key]])) });
  }
  return after;
}

export async function deleteReport(principal: UserPrincipal, id: string): Promise<void> {
  const report = await loadReport(principal, id);
  await SavedReport.query().deleteById(id);
  recordEvent({ type: 'report.deleted', id, report: presentReport(report) });
}

/** A saved report run as its caller: their permissions and own/team scope apply, not its author's. */
export async function runSavedReport(principal: TenantPrincipal, id: string, timeoutMs: number): Promise<{ report: ReturnType<typeof presentReport>; rows: ReportRow[] }> {
  const report = await loadReport(principal, id);
  return { report: presentReport(report), rows: await runReport(principal, report.definition, timeoutMs) };
}

/** The latest scheduled runs of a report the caller may read, newest first. */
export async function listReportRuns(principal: TenantPrincipal, id: string, limit: number) {
  await loadReport(principal, id);
  const { trx } = tenantScope();
  const runs = await trx('report_runs').where({ reportId: id }).orderBy('scheduledFor', 'desc').limit(limit).select('id', 'scheduledFor', 'status', 'recipients', 'error', 'createdAt');
  return runs as Array<{ id: string; scheduledFor: Date; status: string; recipients: unknown[]; error: string | null; createdAt: Date }>;
}

const csvCell = (value: unknown) => (value === null || value === undefined ? '' : String(defuseFormula(value)));

/** A report's rows as CSV: a header of its column names, then a line per row, formula-like text defused. */
export function reportCsv(rows: ReportRow[], columns: string[]): string {
  const lines = [columns, ...rows.map((row) => columns.map((column) => csvCell(row[column])))];
  return stringify(lines, { record_delimiter: 'windows' });
}

/**
 * A saved report as a CSV download (the streaming download path): the report runs once the request's
 * transaction has committed, in a unit of work of its own, and is at most `limit` (1,000) rows.
 */
export async function exportSavedReport(principal: TenantPrincipal, id: string, timeoutMs: number): Promise<{ body: DownloadBody }> {
  const report = await loadReport(principal, id);
  const { columns } = await compileReport(principal, report.definition);
  const names = columns.map((column) => column.key);
  const body: DownloadBody = (inTenant) =>
    Readable.from(
      (async function* csv() {
        yield reportCsv(await inTenant(() => runReport(principal, report.definition, timeoutMs)), names);
      })(),
    );
  return { body };
}
