/**
 * What the report builder may name, as data: per resource, the fields it groups and filters by, and the
 * numbers it measures. A name not declared here is a 400; SQL is written only from these declarations,
 * and every value a request carries is a bound parameter.
 */

/** `category`: a closed set of keys; `id`: a record's id; `date`: a timestamp or date, grouped by interval; `number`: measured. */
export type FieldKind = 'category' | 'id' | 'date' | 'number';

export interface ReportField {
  /** The column, snake_case, of the resource's table. */
  column: string;
  kind: FieldKind;
}

export interface ReportResource {
  /** The table, also the `<resource>:read` permission the caller needs. */
  table: string;
  /** The column naming the user responsible for a record: a sales user's reports count their own and their team's. */
  ownerColumn: string;
  fields: Record<string, ReportField>;
}

const field = (column: string, kind: FieldKind): ReportField => ({ column, kind });
const timestamps = { createdAt: field('created_at', 'date'), updatedAt: field('updated_at', 'date') };

export const REPORT_RESOURCES: Record<string, ReportResource> = {
  leads: {
    table: 'leads',
    ownerColumn: 'owner_id',
    fields: {
      status: field('status', 'category'),
      source: field('source', 'category'),
      ownerId: field('owner_id', 'id'),
      score: field('score', 'number'),
      convertedAt: field('converted_at', 'date'),
      ...timestamps,
    },
  },
  contacts: {
    table: 'contacts',
    ownerColumn: 'owner_id',
    fields: { ownerId: field('owner_id', 'id'), accountId: field('account_id', 'id'), title: field('title', 'category'), ...timestamps },
  },
  accounts: {
    table: 'accounts',
    ownerColumn: 'owner_id',
    fields: {
      status: field('status', 'category'),
      industry: field('industry', 'category'),
      size: field('size', 'category'),
      ownerId: field('owner_id', 'id'),
      ...timestamps,
    },
  },
  deals: {
    table: 'deals',
    ownerColumn: 'owner_id',
    fields: {
      stage: field('stage', 'category'),
      pipelineId: field('pipeline_id', 'id'),
      currency: field('currency', 'category'),
      ownerId: field('owner_id', 'id'),
      accountId: field('account_id', 'id'),
      amount: field('amount', 'number'),
      probability: field('probability', 'number'),
      expectedCloseDate: field('expected_close_date', 'date'),
      closedAt: field('closed_at', 'date'),
      ...timestamps,
    },
  },
  tasks: {
    table: 'tasks',
    ownerColumn: 'assignee_id',
    fields: {
      status: field('status', 'category'),
      priority: field('priority', 'category'),
      assigneeId: field('assignee_id', 'id'),
      dueDate: field('due_date', 'date'),
      completedAt: field('completed_at', 'date'),
      ...timestamps,
    },
  },
  activities: {
    table: 'activities',
    ownerColumn: 'owner_id',
    fields: {
      type: field('type', 'category'),
      relatedType: field('related_type', 'category'),
      ownerId: field('owner_id', 'id'),
      durationMinutes: field('duration_minutes', 'number'),
      occurredAt: field('occurred_at', 'date'),
      ...timestamps,
    },
  },
  tickets: {
    table: 'tickets',
    ownerColumn: 'assignee_id',
    fields: {
      status: field('status', 'category'),
      priority: field('priority', 'category'),
      assigneeId: field('assignee_id', 'id'),
      accountId: field('account_id', 'id'),
      resolvedAt: field('resolved_at', 'date'),
      firstResponseAt: field('first_response_at', 'date'),
      ...timestamps,
    },
  },
};

export const REPORT_RESOURCE_NAMES = Object.keys(REPORT_RESOURCES);
export const INTERVALS = ['day', 'week', 'month', 'quarter', 'year'] as const;
export type Interval = (typeof INTERVALS)[number];
export const MEASURE_FUNCTIONS = ['count', 'sum', 'avg', 'min', 'max'] as const;
export type MeasureFunction = (typeof MEASURE_FUNCTIONS)[number];
