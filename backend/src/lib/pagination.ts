import Joi from 'joi';
import { Knex } from 'knex';
import { QueryBuilder } from 'objection';
import { TenantModel } from '../infra/tenant-model';

/**
 * Keyset paging, the one way every list here pages: a list declares its keyset (the columns it is ordered
 * by, the last one unique, all in one direction), and a cursor carries the last row's values of those
 * columns as text. A page then costs the same at any depth, and rows written meanwhile never shift one.
 */

export interface Pagination {
  limit: number;
  nextCursor: string | null;
  hasMore: boolean;
}

/** The kinds of value a key may hold: each has one text form in cursors, one check and one cast back. */
export type KeyType = 'timestamp' | 'uuid' | 'bigint' | 'number' | 'date' | 'text';

export interface Keyset {
  /** SQL expressions (checked names only), the last one unique so that the order is total. */
  readonly keys: ReadonlyArray<{ readonly sql: string; readonly type: KeyType }>;
  readonly order: 'asc' | 'desc';
}

/** Longer than any cursor a list gives out (a text sort value is capped at TEXT_VALUE_MAX). */
export const CURSOR_MAX_LENGTH = 1024;
const TEXT_VALUE_MAX = 512;

const PRECISE_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Each kind's cursor text: how it is read from a row, what a valid one looks like (else PostgreSQL would
 * take 'yesterday' or 'infinity' as timestamps: a cursor is checked, never trusted), and its cast back.
 */
const KEY_FORMS: Record<KeyType, { read(sql: string): string; valid(value: string): boolean; cast: string }> = {
  // PostgreSQL keeps microseconds; a JS Date keeps milliseconds, which would repeat or skip rows at page edges.
  timestamp: {
    read: (sql) => preciseTimestampSql(sql),
    valid: (value) => PRECISE_TIMESTAMP.test(value) && !Number.isNaN(Date.parse(value)),
    cast: '::timestamptz',
  },
  uuid: { read: (sql) => `${sql}::text`, valid: (value) => UUID.test(value), cast: '::uuid' },
  bigint: { read: (sql) => `${sql}::text`, valid: (value) => /^-?\d{1,19}$/.test(value), cast: '::bigint' },
  number: { read: (sql) => `${sql}::text`, valid: (value) => /^-?\d{1,20}(\.\d{1,10})?$/.test(value), cast: '::numeric' },
  date: { read: (sql) => `${sql}::text`, valid: (value) => /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(value)), cast: '::date' },
  text: { read: (sql) => `${sql}::text`, valid: () => true, cast: '' },
};

/** A timestamp column as cursor text with its microseconds. */
export const preciseTimestampSql = (column: string): string =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** An opaque cursor: an optional tag (a list with several sorts names the one it was made for), then the key values. */
export const encodeCursor = (values: readonly string[]): string => Buffer.from(JSON.stringify(values)).toString('base64url');

/** The key values of a cursor this keyset gave out (under this tag, if any), or undefined for anything else. */
export function decodeCursor(cursor: string, keyset: Keyset, tag?: string): string[] | undefined {
  if (cursor.length > CURSOR_MAX_LENGTH) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const values: unknown[] = tag === undefined ? parsed : parsed[0] === tag ? parsed.slice(1) : [];
  const keys = keyset.keys;
  const valid =
    values.length === keys.length &&
    values.every((value, index) => typeof value === 'string' && value.length <= TEXT_VALUE_MAX && KEY_FORMS[keys[index]!.type].valid(value));
  return valid ? (values as string[]) : undefined;
}

/** A `cursor` query parameter that decodes, during validation, into the keyset's values: anything else is a 400. */
export function cursorParam(keyset: Keyset): Joi.StringSchema {
  return Joi.string()
    .max(CURSOR_MAX_LENGTH)
    .custom((value: string, helpers) => decodeCursor(value, keyset) ?? helpers.error('any.invalid'))
    .messages({ 'any.invalid': '{{#label}} is not a cursor this list gave out' });
}

/** `where` condition (bound to a cursor's values) for the rows after that cursor in the keyset's order. */
export function afterCursorSql(keyset: Keyset): string {
  const columns = keyset.keys.map((key) => key.sql).join(', ');
  const values = keyset.keys.map((key) => `?${KEY_FORMS[key.type].cast}`).join(', ');
  return `(${columns}) ${keyset.order === 'asc' ? '>' : '<'} (${values})`;
}

export const orderSql = (keyset: Keyset): string => keyset.keys.map((key) => `${key.sql} ${keyset.order}`).join(', ');

/** The key values of a row as cursor text, one select expression each. */
export const cursorValuesSql = (keyset: Keyset): string[] => keyset.keys.map((key) => KEY_FORMS[key.type].read(key.sql));

/** Turns `limit + 1` rows into a page: the extra row only says there is more. */
function toPage<R>(rows: R[], limit: number, cursorOf: (last: R) => readonly string[]): { rows: R[]; pagination: Pagination } {
  const hasMore = rows.length > limit;
  const pageRows = rows.slice(0, limit);
  const last = pageRows.at(-1);
  return { rows: pageRows, pagination: { limit, hasMore, nextCursor: hasMore && last ? encodeCursor(cursorOf(last)) : null } };
}

/** A type, not an interface: a validated query (a plain record) must convert to it. */
export type Page = {
  limit: number;
  /** Decoded by cursorParam during validation. */
  cursor?: string[];
};

type Pageable = Knex.QueryBuilder | QueryBuilder<TenantModel, TenantModel[]>;

/**
 * One page of `builder` in the keyset's order. The builder brings its filters and its columns (a model's
 * query selecting none gets all of its table's; a knex query must name them); the key values ride along
 * under aliases of their own and are taken off the rows before they are returned.
 */
export async function keysetPage<R>(builder: Pageable, keyset: Keyset, page: Page): Promise<{ rows: R[]; pagination: Pagination }> {
  const isModelQuery = builder instanceof QueryBuilder;
  // A model's query may have no knex of its own until it runs (the tenant transaction binds it): objection's raw.
  const raw = (sql: string) => (isModelQuery ? builder.modelClass().raw(sql) : (builder.client.raw(sql) as Knex.Raw));
  if (isModelQuery && !builder.has('select')) builder.select(`${builder.tableRefFor(builder.modelClass())}.*`);
  const query = builder as Knex.QueryBuilder;
  if (page.cursor) query.whereRaw(afterCursorSql(keyset), page.cursor);
  const aliases = keyset.keys.map((_, index) => `keysetCursor${index}`);
  const rows = (await query
    .select(...cursorValuesSql(keyset).map((sql, index) => raw(`${sql} as "${aliases[index]}"`)))
    .orderByRaw(orderSql(keyset))
    .limit(page.limit + 1)) as Array<R & Record<string, string>>;
  const result = toPage(rows, page.limit, (last) => aliases.map((alias) => last[alias]!));
  for (const row of result.rows) for (const alias of aliases) delete row[alias];
  return { rows: result.rows, pagination: result.pagination };
}

/** A keyset on a timestamp column, then the id: the shape of most lists (creation order, newest first). */
export function timeKeyset(options: { table?: string; column?: string; order?: 'asc' | 'desc' } = {}): Keyset {
  const prefix = options.table ? `"${options.table}".` : '';
  return {
    keys: [
      { sql: `${prefix}"${options.column ?? 'created_at'}"`, type: 'timestamp' },
      { sql: `${prefix}"id"`, type: 'uuid' },
    ],
    order: options.order ?? 'asc',
  };
}

/** Oldest first. */
export const creationKeyset = (table?: string): Keyset => timeKeyset({ table });

/** Query parameters of a list in creation order. */
export const creationPageQuery = {
  limit: Joi.number().integer().min(1).max(500).default(50),
  cursor: cursorParam(creationKeyset()),
};

/** One page of a model's query, oldest first. */
export function pageByCreation<M extends TenantModel>(query: QueryBuilder<M, M[]>, page: Page): Promise<{ rows: M[]; pagination: Pagination }> {
  // Raw SQL meets no identifier mapper: the model's camelCase table name is spelled as the database's.
  const table = query.tableRefFor(query.modelClass()).replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
  return keysetPage<M>(query as unknown as Pageable, creationKeyset(table), page);
}
