import Joi from 'joi';
import { tenantScope } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { afterCursorSql, CURSOR_MAX_LENGTH, cursorValuesSql, decodeCursor, encodeCursor, Keyset, orderSql, Pagination } from '../../lib/pagination';
import { CUSTOM_FILTER, CUSTOM_SORT, customFilterSql, CustomQuery } from '../custom-fields/custom-field-query';
import { FilterSpec, ResourceDefinition, SortColumn } from './resource-definition';

const TIMESTAMP_SORTS: Record<string, SortColumn[]> = {
  createdAt: [{ column: 'createdAt', type: 'timestamp' }],
  updatedAt: [{ column: 'updatedAt', type: 'timestamp' }],
};

const isoDate = Joi.date().iso();
export const COMMON_FILTERS: Record<string, FilterSpec> = {
  createdAfter: { column: 'createdAt', op: '>=', schema: isoDate },
  createdBefore: { column: 'createdAt', op: '<=', schema: isoDate },
  updatedAfter: { column: 'updatedAt', op: '>=', schema: isoDate },
  updatedBefore: { column: 'updatedAt', op: '<=', schema: isoDate },
};

export const sortsOf = (def: ResourceDefinition): Record<string, SortColumn[]> => ({ ...TIMESTAMP_SORTS, ...def.sorts });
export const filtersOf = (def: ResourceDefinition): Record<string, FilterSpec> => ({ ...COMMON_FILTERS, ...def.filters });

export const DEFAULT_SORT = '-createdAt';

/**
 * The filters and sort a list (or a saved view) may name: the resource's declared ones, and its custom
 * fields' (`customFields.<key>[eq|gte|lte|in]`, `sort=-customFields.<key>`), checked against the tenant's
 * fields once known (resolveCustomQuery). `T` is the value of the schema a caller adds keys to (a list's page).
 */
export function listFiltersSchema<T extends ListFilterParams = ListFilterParams>(def: ResourceDefinition): Joi.ObjectSchema<T> {
  const sortKeys = Object.keys(sortsOf(def)).flatMap((key) => [key, `-${key}`]);
  const filters = Object.fromEntries(Object.entries(filtersOf(def)).map(([name, spec]) => [name, spec.schema]));
  return Joi.object<T, false, ListFilterParams>({
    sort: Joi.alternatives(Joi.string().valid(...sortKeys), Joi.string().pattern(CUSTOM_SORT)).description(`Default ${DEFAULT_SORT} (or the view's); - for descending`),
    q: Joi.string().trim().min(1).max(200),
    includeDeleted: Joi.boolean().default(false),
    ...filters,
  }).pattern(CUSTOM_FILTER, Joi.string().max(1000));
}

/** The list query parameters a resource accepts; anything else is a 400. */
export function listQuerySchema(def: ResourceDefinition): Joi.ObjectSchema<ListParams> {
  return listFiltersSchema<ListParams>(def).keys({
    limit: Joi.number().integer().min(1).max(500).default(50),
    cursor: Joi.string().max(CURSOR_MAX_LENGTH),
    view: Joi.string().uuid().description('A saved view of this resource: its filters and sort apply, the parameters given override them'),
  });
}

/** A list's filters as validated: without a sort, a saved view's or the default applies. */
export interface ListFilterParams {
  sort?: string;
  q?: string;
  includeDeleted: boolean;
  /** The custom fields' filters and sort, once resolved against the tenant's fields. */
  custom?: CustomQuery;
  [filter: string]: unknown;
}

/** Which rows a list (or the CSV export) covers, and in what order. */
export interface ListFilters extends ListFilterParams {
  sort: string;
}

/** A list's query parameters as validated: its filters, a page and a saved view. */
export interface ListParams extends ListFilterParams {
  limit: number;
  cursor?: string;
  view?: string;
}

export interface ListQuery extends ListFilters {
  limit: number;
  cursor?: string;
}

/** The columns a list query sorts by: a declared sort's, or a custom field's. */
export function sortColumnsOf(def: ResourceDefinition, query: Pick<ListFilters, 'sort' | 'custom'>): SortColumn[] {
  return query.custom?.sort ?? sortsOf(def)[query.sort.startsWith('-') ? query.sort.slice(1) : query.sort]!;
}

/** A sort column as SQL, so that comparing, ordering and reading the cursor all use the same expression. */
export function sortExpression(table: string, sort: SortColumn): string {
  if (sort.expression) return sort.expression;
  const column = `"${table}"."${sort.column.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}"`;
  return sort.nullable ? `coalesce(${column}, '')` : column;
}

/** The rows a list walks through before any cursor: live unless asked otherwise, filtered, matching q. */
export function filteredRecords(def: ResourceDefinition, query: ListFilters) {
  const table = def.model.tableName;
  const builder = def.model.query();
  if (!query.includeDeleted) builder.whereNull(`${table}.deletedAt`);
  for (const [name, spec] of Object.entries(filtersOf(def))) {
    if (query[name] !== undefined) builder.where(`${table}.${spec.column}`, spec.op, query[name] as never);
  }
  for (const filter of query.custom?.filters ?? []) builder.whereRaw(customFilterSql(table, filter), [filter.fieldId, filter.value as never]);
  if (query.q) {
    builder.whereRaw(`("${table}"."search" @@ websearch_to_tsquery('simple', ?) or "${table}"."custom_search" @@ websearch_to_tsquery('simple', ?))`, [query.q, query.q]);
  }
  return builder;
}

/**
 * The keyset of a list's sort (`name`, `-createdAt`, `customFields.budget`): its sort expressions, then the
 * id so that the order is total, all in the sort's direction. Ordering, paging and the CSV export's pages
 * all read this one description.
 */
export function listKeyset(def: ResourceDefinition, query: Pick<ListFilters, 'sort' | 'custom'>): Keyset {
  const table = def.model.tableName;
  const keys = sortColumnsOf(def, query).map((column) => ({ sql: sortExpression(table, column), type: column.type }));
  return { keys: [...keys, { sql: `"${table}"."id"`, type: 'uuid' }], order: query.sort.startsWith('-') ? 'desc' : 'asc' };
}

/** What a list shows of a table: its columns but the tenant (implied) and the search vectors, in table order. */
interface ListColumns {
  /** snake_case, as selected. */
  columns: string[];
  /** camelCase, as answered (the names knexSnakeCaseMappers gives every other read). */
  keys: string[];
}

const listColumnsByTable = new Map<string, ListColumns>();
const camelCase = (column: string) => column.replace(/_([a-z0-9])/g, (_, char: string) => char.toUpperCase());

/**
 * Read from the catalogue once per table and process: the schema changes only with a migration, before a start.
 * The duplicate keys (`dup_*`, record-model.ts) are left out, as presentRecord leaves them out.
 */
async function listColumns(table: string): Promise<ListColumns> {
  const known = listColumnsByTable.get(table);
  if (known) return known;
  const { rows } = await tenantScope().trx.raw<{ rows: Array<{ column_name: string }> }>(
    `select column_name from information_schema.columns
     where table_schema = current_schema() and table_name = ? and column_name not in ('tenant_id', 'search', 'custom_search')
       and column_name not like 'dup\\_%'
     order by ordinal_position`,
    [table],
  );
  const columns = rows.map((row) => row.column_name);
  const found = { columns, keys: columns.map(camelCase) };
  listColumnsByTable.set(table, found);
  return found;
}

/**
 * Keyset pagination over a whitelisted sort: the cursor carries the sort key and the last row's sort
 * values and id, so a page costs the same at any depth and rows inserted meanwhile never shift a page.
 *
 * The query is the model's (TenantModel.query() adds the tenant filter as it is built, and toKnexQuery
 * builds it), but the rows come back as arrays and become the answer's objects in one pass: a list
 * makes no model instances, maps no keys twice, and never selects the search vector only to drop it.
 */
export async function listRecords(def: ResourceDefinition, query: ListQuery): Promise<{ data: unknown[]; pagination: Pagination }> {
  const table = def.model.tableName;
  const keyset = listKeyset(def, query);
  const { columns, keys } = await listColumns(table);

  const builder = filteredRecords(def, query);
  if (query.cursor) {
    // A cursor is valid only for the sort it was made for: the sort is its tag.
    const after = decodeCursor(query.cursor, keyset, query.sort);
    if (!after) throw new AppError('VALIDATION_ERROR', 'The cursor is invalid', [{ field: 'query.cursor', message: 'is not a cursor this list gave out for this sort' }]);
    builder.whereRaw(afterCursorSql(keyset), after);
  }
  const rows = (await builder
    .select(...columns.map((column) => `${table}.${column}`), ...cursorValuesSql(keyset).map((sql) => def.model.raw(sql)))
    .orderByRaw(orderSql(keyset))
    .limit(query.limit + 1)
    .toKnexQuery()
    .options({ rowMode: 'array' })) as unknown as unknown[][];

  const hasMore = rows.length > query.limit;
  const pageRows = hasMore ? rows.slice(0, query.limit) : rows;
  const data = pageRows.map((values) => {
    const record: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) record[keys[i]!] = values[i];
    return def.present ? def.present(record) : record;
  });
  const last = pageRows.at(-1);
  const nextCursor = hasMore && last ? encodeCursor([query.sort, ...(last.slice(columns.length) as string[])]) : null;
  return { data, pagination: { limit: query.limit, hasMore, nextCursor } };
}
