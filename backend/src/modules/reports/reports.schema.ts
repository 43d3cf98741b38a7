import Joi from 'joi';
import type { BuiltinParameters } from './builtin-reports';
import type { ReportDefinition } from './report-builder';
import { INTERVALS, MEASURE_FUNCTIONS, REPORT_RESOURCE_NAMES } from './report-fields';
import type { ReportDraft } from './reports.service';

/** The IANA zones this runtime knows (PostgreSQL knows the same database); UTC is always one. */
const TIME_ZONES = new Set(['UTC', ...Intl.supportedValuesOf('timeZone')]);
const timeZone = Joi.string()
  .max(64)
  .custom((value: string, helpers) => (TIME_ZONES.has(value) ? value : helpers.error('any.invalid')))
  .default('UTC')
  .description('IANA time zone the report reads days, weeks and months in (default UTC)');

/** A day, `YYYY-MM-DD`. */
const day = Joi.string()
  .pattern(/^\d{4}-\d{2}-\d{2}$/)
  .custom((value: string, helpers) => (Number.isNaN(Date.parse(value)) ? helpers.error('string.pattern.base') : value))
  .messages({ 'string.pattern.base': '{{#label}} must be a day (YYYY-MM-DD)' });
/** The longest range a built-in report covers in one request. */
export const MAX_RANGE_DAYS = 366 * 3;

const scalar = Joi.alternatives(Joi.string().max(200), Joi.number());
const fieldName = Joi.string().pattern(/^[A-Za-z][A-Za-z0-9]{0,39}$/).messages({ 'string.pattern.base': '{{#label}} must be a field name' });
/** A built-in field's name, or `customFields.<key>`: one of the tenant's custom fields of the resource. */
const groupName = Joi.string()
  .pattern(/^(?:[A-Za-z][A-Za-z0-9]{0,39}|customFields\.[a-z][a-z0-9_]{0,39})$/)
  .messages({ 'string.pattern.base': '{{#label}} must be a field name' });
const filterValue = Joi.alternatives(scalar, Joi.array().items(scalar).min(1).max(100), Joi.object({ gte: scalar, lte: scalar }).min(1));

export const reportDefinitionSchema = Joi.object<ReportDefinition>({
  resource: Joi.string().valid(...REPORT_RESOURCE_NAMES).required(),
  filters: Joi.object({
    // Keys with a dot are refused in every body (middleware/sanitize.ts): custom fields nest, as in views.
    customFields: Joi.object().pattern(/^[a-z][a-z0-9_]{0,39}$/, filterValue).min(1).max(20).description("The tenant's custom fields of the resource, by key"),
  })
    .pattern(fieldName, filterValue)
    .max(20)
    .default({}),
  groupBy: Joi.array()
    .items(groupName, Joi.object({ field: groupName.required(), interval: Joi.string().valid(...INTERVALS).required() }))
    .max(3)
    .default([]),
  measures: Joi.array()
    .items(Joi.object({ fn: Joi.string().valid(...MEASURE_FUNCTIONS).required(), field: fieldName }))
    .min(1)
    .max(10)
    .default([{ fn: 'count' }]),
  sort: Joi.string().pattern(/^-?(?:[A-Za-z][A-Za-z0-9]{0,60}|customFields\.[a-z][a-z0-9_]{0,39})$/).description('A column of the answer (a group key or a measure such as `count`, `sumAmount`); - for descending'),
  limit: Joi.number().integer().min(1).max(1000).default(100),
  timeZone,
});

const rangeWithin = (value: { from?: string; to?: string }, helpers: Joi.CustomHelpers) => {
  if (!value.from || !value.to) return value;
  const days = (Date.parse(value.to) - Date.parse(value.from)) / 86_400_000;
  if (days < 0) return helpers.message({ custom: '"to" must not be before "from"' });
  if (days >= MAX_RANGE_DAYS) return helpers.message({ custom: `the range covers at most ${MAX_RANGE_DAYS} days` });
  return value;
};

const builtinKeys = { from: day, to: day, ownerId: Joi.string().uuid(), timeZone };
/** Every built-in report takes from, to, ownerId and timeZone; the two about deals also take pipelineId. */
export const builtinQuery = (withPipeline: boolean): Joi.ObjectSchema<BuiltinParameters> =>
  (withPipeline ? Joi.object({ ...builtinKeys, pipelineId: Joi.string().uuid() }) : Joi.object(builtinKeys)).custom(rangeWithin);

const name = Joi.string().trim().min(1).max(100);
/** A cron expression (five fields, in the report's time zone) and the users it is mailed to; null unschedules. */
const schedule = Joi.object({
  cron: Joi.string().trim().min(9).max(100).required().description('Five fields: minute hour day-of-month month day-of-week, in the report\'s time zone'),
  recipients: Joi.array().items(Joi.string().uuid()).min(1).max(50).unique().required().description('Active users of the organization'),
}).allow(null);
export const reportParams = Joi.object<{ id: string }>({ id: Joi.string().uuid().required() });
export const createReportBody = Joi.object<ReportDraft>({ name: name.required(), definition: reportDefinitionSchema.required(), schedule });
export const updateReportBody = Joi.object<Partial<ReportDraft>>({ name, definition: reportDefinitionSchema, schedule }).min(1);
export const runsQuery = Joi.object<{ limit: number }>({ limit: Joi.number().integer().min(1).max(100).default(20) });
export const exportQuery = Joi.object({ format: Joi.string().valid('csv').default('csv') });

const cell = Joi.alternatives(Joi.string().allow(null), Joi.number());
export const reportRowSchema = Joi.object().pattern(/.*/, cell).description('Group keys and measures, by name');
export const savedReportSchema = Joi.object({
  id: Joi.string().uuid(),
  name: Joi.string(),
  definition: Joi.object().unknown(),
  schedule: Joi.object({ cron: Joi.string(), recipients: Joi.array().items(Joi.string().uuid()) }).allow(null),
  nextRunAt: Joi.date().iso().allow(null),
  ownerId: Joi.string().uuid(),
  createdAt: Joi.date().iso(),
  updatedAt: Joi.date().iso(),
});

export const reportRunSchema = Joi.object({
  id: Joi.string().uuid(),
  scheduledFor: Joi.date().iso().description('The tick of the schedule this run answers'),
  status: Joi.string().valid('sent', 'failed'),
  recipients: Joi.array().items(
    Joi.object({
      userId: Joi.string().uuid(),
      rows: Joi.number().integer().description('Rows of the report mailed to them (run with their permissions and scope)'),
      skipped: Joi.string().description('Why they were not mailed'),
    }),
  ),
  error: Joi.string().allow(null),
  createdAt: Joi.date().iso(),
});
