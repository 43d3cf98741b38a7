import Joi from 'joi';
import { QueryBuilder } from 'objection';
import { TenantModel } from '../infra/tenant-model';

export interface Pagination {
  limit: number;
  nextCursor: string | null;
  hasMore: boolean;
}

/** An opaque cursor: the last row's sort values, then its id. */
export const encodeCursor = (values: readonly (string | number)[]): string =>
  Buffer.from(JSON.stringify(values)).toString('base64url');

/**
 * A `cursor` query parameter that decodes, during validation, into the values `shape` describes; anything
 * this list did not give out is a 400 like any other bad parameter, never a database error.
 */
export function cursorParam(shape: Joi.ArraySchema): Joi.StringSchema {
  return Joi.string()
    .max(512)
    .custom((value: string, helpers) => {
      const values = parseJson(Buffer.from(value, 'base64url').toString('utf8'));
      return values === undefined || shape.validate(values, { convert: false }).error ? helpers.error('any.invalid') : values;
    })
    .messages({ 'any.invalid': '{{#label}} is not a cursor this list gave out' });
}

/**
 * A timestamp column as cursor text with its microseconds: PostgreSQL keeps them, a JS Date does not,
 * and a cursor that lost them would repeat or skip rows at page edges.
 */
export const preciseTimestampSql = (column: string): string =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Turns `limit + 1` fetched rows into a page: the extra row only says there is more. */
export function toPage<R>(rows: R[], limit: number, cursorOf: (last: R) => ReadonlyArray<string | number>): { rows: R[]; pagination: Pagination } {
  const hasMore = rows.length > limit;
  const pageRows = rows.slice(0, limit);
  const last = pageRows.at(-1);
  return { rows: pageRows, pagination: { limit, hasMore, nextCursor: hasMore && last ? encodeCursor(cursorOf(last)) : null } };
}

/** PostgreSQL keeps microseconds; a JS Date keeps milliseconds, which would repeat or skip rows at page edges. */
const PRECISE_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export type CreationCursor = [createdAt: string, id: string];

/** Query parameters of a list in creation order, keyset-paged on (created_at, id). */
export const creationPageQuery = {
  limit: Joi.number().integer().min(1).max(500).default(50),
  cursor: cursorParam(Joi.array().ordered(Joi.string().pattern(PRECISE_TIMESTAMP).required(), Joi.string().guid().required())),
};

export interface CreationPage {
  limit: number;
  cursor?: CreationCursor;
}

/** One page of `query`, oldest first: rows inserted meanwhile land after the cursor, never repeat or shift a page. */
export async function pageByCreation<M extends TenantModel>(
  query: QueryBuilder<M, M[]>,
  page: CreationPage,
): Promise<{ rows: M[]; pagination: Pagination }> {
  const modelClass = query.modelClass();
  const table = query.tableRefFor(modelClass);
  const createdAt = `${table}.createdAt`;
  const id = `${table}.id`;
  if (page.cursor) query.whereRaw('(??, ??) > (?::timestamptz, ?::uuid)', [createdAt, id, ...page.cursor]);
  // A query that selects its own columns keeps them (a list may leave a large column out).
  if (!query.has('select')) query.select(`${table}.*`);
  const rows = (await query
    .select(modelClass.raw(`${preciseTimestampSql('??')} as cursor_created_at`, [createdAt]))
    .orderBy([
      { column: createdAt, order: 'asc' },
      { column: id, order: 'asc' },
    ])
    .limit(page.limit + 1)) as Array<M & { cursorCreatedAt: string }>;
  return toPage(rows, page.limit, (last) => [last.cursorCreatedAt, last.id]);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
