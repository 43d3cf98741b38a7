import { AppError } from '../lib/errors';
import { forbiddenContent, forbiddenQueryContent } from '../middleware/sanitize';
import { RequestFrame } from './request-frame';

/**
 * Stage 11: a body or query with operator or prototype keys, markup in text or absurd nesting is a 400,
 * whatever the route. A bulk body's rows are checked by the import itself, row by row, so that each
 * problem is reported with its row (and valid-only imports keep the good rows).
 */
export function sanitizeInput({ route, req }: RequestFrame): void {
  const problems = [...(route.bulkBody ? [] : forbiddenContent(req.body)), ...forbiddenQueryContent(req.query as Record<string, unknown>)];
  if (problems.length) throw new AppError('VALIDATION_ERROR', 'The request contains forbidden keys or markup', problems.slice(0, 20));
}
