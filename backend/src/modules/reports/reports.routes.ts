import Joi from 'joi';
import { AppDeps } from '../../app-deps';
import { AnyRouteInput, created, defineRoute, noContent, ok, principalOf, RouteDefinition } from '../../http/route';
import { BUILTIN_REPORTS, BuiltinReportName } from './builtin-reports';
import { runReport } from './report-builder';
import { builtinQuery, createReportBody, exportQuery, reportDefinitionSchema, reportParams, reportRowSchema, reportRunSchema, runsQuery, savedReportSchema, updateReportBody } from './reports.schema';
import { createReport, deleteReport, exportSavedReport, getReport, listReportRuns, listReports, runSavedReport, updateReport } from './reports.service';

/** What each built-in report answers, for its summary; the formulas are in docs/API.md, "Reports". */
const BUILTIN_SUMMARIES: Record<BuiltinReportName, string> = {
  pipeline: 'Open deals by pipeline, stage and currency: count, amount and probability-weighted amount',
  'sales-performance': 'Won and lost deals by owner, month of closing and currency: counts, amounts, win rate, average sales cycle',
  'lead-funnel': 'Leads by source: conversions to contact, deal and won deal, their rates, median days to convert',
  activity: 'Calls, emails, meetings and notes by owner and week',
  tickets: 'Tickets opened and resolved by priority and week: median first-response and resolution hours, SLA breaches',
};
const WITH_PIPELINE: BuiltinReportName[] = ['pipeline', 'sales-performance'];

const yyyymmdd = (date: Date): string => date.toISOString().slice(0, 10).replaceAll('-', '');

export function reportsRoutes(deps: AppDeps): RouteDefinition[] {
  const tags = ['Reports'];
  const timeoutMs = deps.config.reports.statementTimeoutMs;
  const caller = (input: AnyRouteInput) => principalOf(input, 'user', 'api_key');
  const user = (input: AnyRouteInput) => principalOf(input, 'user');
  const rows = Joi.array().items(reportRowSchema);

  const builtins = (Object.keys(BUILTIN_REPORTS) as BuiltinReportName[]).map((name) =>
    defineRoute({
      method: 'get',
      path: `/reports/${name}`,
      permission: 'reports:read',
      summary: BUILTIN_SUMMARIES[name],
      description: "Also needs read permission on the report's resource; a sales user's report counts their own and their team's records.",
      response: { status: 200, description: 'The rows', schema: rows },
      tags,
      schema: { query: builtinQuery(WITH_PIPELINE.includes(name)) },
      handler: async (input) => ok(await BUILTIN_REPORTS[name](caller(input), input.query, timeoutMs)),
    }),
  );

  return [
    ...builtins,
    defineRoute({
      method: 'post',
      path: '/reports/run',
      // A read sent as POST (its definition is a body): a refused one is audited like a failed write.
      auditResource: 'report',
      allowedWhilePendingDeletion: true,
      permission: 'reports:read',
      summary: 'Run a report: group a resource\'s records by fields (dates by interval) and measure them',
      description: 'Reads only; needs read permission on the resource. Fields are whitelisted per resource (docs/API.md, "Reports").',
      response: { status: 200, description: 'The rows', schema: rows },
      tags,
      schema: { body: reportDefinitionSchema },
      handler: async (input) => ok(await runReport(caller(input), input.body, timeoutMs)),
    }),
    defineRoute({
      method: 'get',
      path: '/reports',
      permission: 'reports:read',
      summary: "The organization's saved reports (of resources the caller may read)",
      response: { status: 200, description: 'The reports', schema: Joi.array().items(savedReportSchema) },
      tags,
      handler: async (input) => ok(await listReports(caller(input))),
    }),
    defineRoute({
      method: 'post',
      path: '/reports',
      auditResource: 'report',
      permission: 'reports:manage',
      usersOnly: true,
      summary: 'Save a report definition under a name, for the organization; with a schedule, it is mailed to its recipients on each tick',
      response: { status: 201, description: 'The report', schema: savedReportSchema },
      tags,
      schema: { body: createReportBody },
      handler: async (input) => created(await createReport(user(input), input.body)),
    }),
    defineRoute({
      method: 'get',
      path: '/reports/:id',
      permission: 'reports:read',
      summary: 'A saved report',
      response: { status: 200, description: 'The report', schema: savedReportSchema },
      tags,
      schema: { params: reportParams },
      handler: async (input) => ok(await getReport(caller(input), input.params.id)),
    }),
    defineRoute({
      method: 'patch',
      path: '/reports/:id',
      auditResource: 'report',
      permission: 'reports:manage',
      usersOnly: true,
      summary: "Change a saved report's name, definition or schedule (null unschedules it)",
      response: { status: 200, description: 'The report', schema: savedReportSchema },
      tags,
      schema: { params: reportParams, body: updateReportBody },
      handler: async (input) => ok(await updateReport(user(input), input.params.id, input.body)),
    }),
    defineRoute({
      method: 'delete',
      path: '/reports/:id',
      auditResource: 'report',
      permission: 'reports:manage',
      usersOnly: true,
      summary: 'Delete a saved report',
      tags,
      schema: { params: reportParams },
      handler: async (input) => {
        await deleteReport(user(input), input.params.id);
        return noContent();
      },
    }),
    defineRoute({
      method: 'get',
      path: '/reports/:id/run',
      permission: 'reports:read',
      summary: "Run a saved report as the caller (their permissions and scope apply, not its author's)",
      response: { status: 200, description: 'The report and its rows', schema: Joi.object({ report: savedReportSchema, rows }) },
      tags,
      schema: { params: reportParams },
      handler: async (input) => ok(await runSavedReport(caller(input), input.params.id, timeoutMs)),
    }),
    defineRoute({
      method: 'get',
      path: '/reports/:id/runs',
      permission: 'reports:read',
      summary: "A saved report's scheduled runs, newest first: when, whom it was mailed to (rows each) or why not",
      response: { status: 200, description: 'The runs', schema: Joi.array().items(reportRunSchema) },
      tags,
      schema: { params: reportParams, query: runsQuery },
      handler: async (input) => ok(await listReportRuns(caller(input), input.params.id, input.query.limit)),
    }),
    defineRoute({
      method: 'get',
      path: '/reports/:id/export',
      permission: 'reports:read',
      summary: 'A saved report run as the caller, as CSV (header of column names, a line per row)',
      response: { status: 200, description: 'The CSV', contentType: 'text/csv' },
      tags,
      schema: { params: reportParams, query: exportQuery },
      handler: async (input) => {
        const { body } = await exportSavedReport(caller(input), input.params.id, timeoutMs);
        return { kind: 'download', status: 200, contentType: 'text/csv; charset=utf-8', filename: `report-${input.params.id.slice(0, 8)}-${yyyymmdd(new Date())}.csv`, body };
      },
    }),
  ];
}
