import { randomUUID } from 'node:crypto';
import { AppConfig } from '../../config/app-config';
import { tenantScope } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { recordEvent } from '../events/event-context';
import { queueEmail } from '../notifications/notifications.service';
import { compileReport, runReport } from './report-builder';
import { REPORT_RESOURCES } from './report-fields';
import { nextRunAfter, recipientsOf } from './report-schedule';
import { reportCsv } from './reports.service';
import { SavedReport } from './saved-report.model';

/** One recipient's part of a run: the rows mailed to them, or why they were not mailed. */
type RecipientOutcome = { userId: string; rows: number } | { userId: string; skipped: string };

const yyyymmdd = (date: Date): string => date.toISOString().slice(0, 10).replaceAll('-', '');

/**
 * The report, locked, when its tick has come by `now`; the sweep of another instance that holds it
 * already is skipped rather than waited for.
 */
async function dueReport(id: string, now: Date): Promise<(SavedReport & { schedule: NonNullable<SavedReport['schedule']>; nextRunAt: Date }) | undefined> {
  const report = await SavedReport.query().findById(id).forUpdate().skipLocked();
  if (!report?.schedule || !report.nextRunAt || report.nextRunAt > now) return undefined;
  return report as SavedReport & { schedule: NonNullable<SavedReport['schedule']>; nextRunAt: Date };
}

/** The run's row, the report's next tick (after `now`: missed ticks are not replayed), and its audit entry. */
async function recordRun(report: SavedReport, scheduledFor: Date, now: Date, status: 'sent' | 'failed', recipients: RecipientOutcome[], error: string | null) {
  const { trx, tenantId } = tenantScope();
  const runId = randomUUID();
  await trx('report_runs').insert({ tenantId, id: runId, reportId: report.id, scheduledFor, status, recipients: JSON.stringify(recipients), error });
  await SavedReport.query().patch({ nextRunAt: nextRunAfter(report.schedule!.cron, report.definition.timeZone, now) } as never).findById(report.id);
  const mailed = recipients.filter((outcome) => 'rows' in outcome).length;
  recordEvent({ type: 'report.scheduled_run', id: report.id, runId, scheduledFor: scheduledFor.toISOString(), status, mailed, skipped: recipients.length - mailed });
  return { runId, status, mailed };
}

/**
 * Runs a due scheduled report once per recipient, as that recipient (their role's permissions and, for a
 * sales user, their own and their team's records: a recipient never reads more than they could through
 * the API), and queues each their CSV. A recipient who left the organization, was deactivated or may not
 * read the report's resource is skipped, and the run says so. Within the tenant's unit of work: the
 * mails, the run row and the audit entry commit together.
 */
export async function runScheduledReport(config: AppConfig, id: string, now: Date): Promise<{ runId: string; status: string; mailed: number } | undefined> {
  const report = await dueReport(id, now);
  if (!report) return undefined;
  const { trx, tenantId } = tenantScope();
  const organization = (await trx('tenants').where({ id: tenantId }).first<{ name: string }>('name'))!.name;
  const known = await recipientsOf(report.schedule.recipients);
  const table = REPORT_RESOURCES[report.definition.resource]!.table;
  const filename = `report-${report.id.slice(0, 8)}-${yyyymmdd(report.nextRunAt)}.csv`;
  const outcomes: RecipientOutcome[] = [];
  for (const userId of report.schedule.recipients) {
    const recipient = known.get(userId);
    if (!recipient) {
      outcomes.push({ userId, skipped: 'not an active user of the organization' });
      continue;
    }
    if (!recipient.caller.permissions.has(`${table}:read`)) {
      outcomes.push({ userId, skipped: `may not read ${table}` });
      continue;
    }
    const { columns } = await compileReport(recipient.caller, report.definition);
    const rows = await runReport(recipient.caller, report.definition, config.reports.statementTimeoutMs);
    const csv = reportCsv(rows, columns.map((column) => column.key));
    await queueEmail(config, 'scheduled_report', { email: recipient.email, userId }, { organization, reportName: report.name, scheduledFor: report.nextRunAt.toISOString(), rows: rows.length, filename, csv });
    outcomes.push({ userId, rows: rows.length });
  }
  return recordRun(report, report.nextRunAt, now, 'sent', outcomes, null);
}

/**
 * A run that could not complete (its query timed out, the definition no longer compiles): recorded as
 * failed and audited in a unit of work of its own, and the report moves to its next tick rather than
 * failing again every minute. The error a user sees is the report's own message, never the database's.
 */
export async function recordFailedRun(id: string, now: Date, error: unknown): Promise<{ runId: string; status: string; mailed: number } | undefined> {
  const report = await dueReport(id, now);
  if (!report) return undefined;
  const message = error instanceof AppError ? error.message : 'The report could not be run';
  return recordRun(report, report.nextRunAt, now, 'failed', [], message);
}
