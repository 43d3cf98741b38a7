import { AppError, ErrorDetail } from './errors';

interface PgLikeError {
  code?: string;
  detail?: string;
  column?: string;
  constraint?: string;
  table?: string;
  name?: string;
  nativeError?: PgLikeError;
}

const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '53300', '57014', '40P01']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);
const INVALID_INPUT_CODES = new Set(['23502', '23514', '22P02', '22001', '22003', '22007', '22008', '2201B', '22023']);

/**
 * Maps a PostgreSQL (or objection-wrapped) error to the contract, naming fields but never values,
 * SQL or constraint internals. Returns undefined for errors that are not the database's.
 */
export function fromDatabaseError(error: unknown): AppError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const err = ((error as PgLikeError).nativeError ?? error) as PgLikeError;
  const code = err.code ?? '';

  if (err.name === 'KnexTimeoutError' || NETWORK_CODES.has(code) || code.startsWith('08') || UNAVAILABLE_CODES.has(code)) {
    return new AppError('SERVICE_UNAVAILABLE', 'The database is unavailable, please retry', undefined, {
      'Retry-After': '1',
    });
  }
  const customField = err.column?.startsWith('customFields.') ? err.column : undefined;
  if (code === '23505') {
    const details = customField ? [{ field: customField, message: 'conflicts with an existing record' }] : keyFields(err);
    return new AppError('CONFLICT', 'A record with the same unique value already exists', details);
  }
  // The custom field triggers name the field they refuse (a required one missing), as written: its key stays as is.
  if (code === '23502' && customField) return new AppError('VALIDATION_ERROR', 'A required custom field has no value', [{ field: customField, message: 'is required' }]);
  if (code === '23503') return new AppError('CONFLICT', 'The record is referenced by, or references, another record', keyFields(err));
  if (INVALID_INPUT_CODES.has(code)) {
    const details = err.column ? [{ field: camel(err.column), message: 'is invalid' }] : keyFields(err);
    return new AppError('VALIDATION_ERROR', 'A value is missing or invalid', details);
  }
  return undefined;
}

/**
 * The fields behind a violated key. PostgreSQL omits the "Key (...)" detail on tables with row-level
 * security, so the constraint name (`<table>_<column>_key|fkey|unique`) is the reliable source.
 */
function keyFields(err: PgLikeError): ErrorDetail[] | undefined {
  const fromDetail = err.detail?.match(/^Key \(([^)]+)\)/)?.[1]?.split(',');
  const fromName = err.constraint && err.table && err.constraint.startsWith(`${err.table}_`)
    ? [err.constraint.slice(err.table.length + 1).replace(/_(key|fkey|unique)$/, '').replace(/^tenant_id_/, '')]
    : undefined;
  const columns = (fromDetail ?? fromName ?? [])
    .map((column) => column.trim())
    .filter((column) => column !== 'tenant_id' && /^[a-z_]+$/.test(column));
  if (!columns.length) return undefined;
  return columns.map((column) => ({ field: camel(column), message: 'conflicts with an existing record' }));
}

const camel = (column: string): string => column.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
