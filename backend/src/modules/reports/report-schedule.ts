import { CronExpressionParser } from 'cron-parser';
import { tenantScope } from '../../infra/tenant-scope';
import { AppError, ErrorDetail } from '../../lib/errors';
import { ReportCaller } from './report-scope';

/** When a saved report is mailed, and to whom: users of the organization, by id. */
export interface ReportSchedule {
  cron: string;
  recipients: string[];
}

/** A recipient as a scheduled run needs them: where to mail, and whose permissions and scope apply. */
export interface Recipient {
  email: string;
  caller: Extract<ReportCaller, { kind: 'user' }>;
}

/**
 * Five fields (minute hour day-of-month month day-of-week), read in the report's time zone. A sixth
 * (seconds) field is refused: the sweep that sends reports runs once a minute.
 */
function parse(cron: string, timeZone: string, after: Date) {
  if (cron.trim().split(/\s+/).length !== 5) throw new Error('five fields are expected');
  return CronExpressionParser.parse(cron, { currentDate: after, tz: timeZone });
}

/** The first tick of the schedule strictly after `after`: a missed tick is skipped, never replayed. */
export function nextRunAfter(cron: string, timeZone: string, after: Date): Date {
  return parse(cron, timeZone, after).next().toDate();
}

/** Active users of the current organization, by id, with their role's permissions (row-level security keeps others out). */
export async function recipientsOf(ids: string[]): Promise<Map<string, Recipient>> {
  const { trx } = tenantScope();
  const rows = (await trx('users as u')
    .join('roles as r', (on) => on.on('r.id', 'u.roleId').andOn('r.tenantId', 'u.tenantId'))
    .whereIn('u.id', ids)
    .where('u.status', 'active')
    .whereNull('u.deletedAt')
    .select('u.id', 'u.email', 'u.teamId', 'r.key as roleKey', 'r.permissions')) as Array<{ id: string; email: string; teamId: string | null; roleKey: string | null; permissions: string[] }>;
  return new Map(
    rows.map((row) => [row.id, { email: row.email, caller: { kind: 'user', userId: row.id, teamId: row.teamId, roleKey: row.roleKey, permissions: new Set(row.permissions) } }]),
  );
}

/**
 * A schedule about to be saved: its cron expression parses and its recipients are active users of the
 * organization (another organization's user is as unknown as a made-up id). Answers when it is next due.
 */
export async function checkSchedule(schedule: ReportSchedule, timeZone: string): Promise<Date> {
  const problems: ErrorDetail[] = [];
  let next: Date | undefined;
  try {
    next = nextRunAfter(schedule.cron, timeZone, new Date());
  } catch (error) {
    problems.push({ field: 'schedule.cron', message: `is not a cron expression (${(error as Error).message})` });
  }
  const known = await recipientsOf(schedule.recipients);
  schedule.recipients.forEach((id, index) => {
    if (!known.has(id)) problems.push({ field: `schedule.recipients.${index}`, message: 'is not an active user of this organization' });
  });
  if (problems.length || !next) throw new AppError('VALIDATION_ERROR', 'The schedule is invalid', problems);
  return next;
}
