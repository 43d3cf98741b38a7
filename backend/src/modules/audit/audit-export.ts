import { pipeline, Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { defuseFormula } from '../../lib/csv-cell';
import { tenantScope } from '../../infra/tenant-scope';
import { AuditFilters, AuditLogRow, ENTRY_COLUMNS, entriesMatching } from './audit-entries.repository';
import { presentAuditEntry, PresentedAuditEntry } from './audit-entry.presenter';

export type ExportFormat = 'csv' | 'json';

const CSV_COLUMNS = ENTRY_COLUMNS;


/**
 * The filtered entries, oldest first (in append order, pending entries included), read row by row through a database stream on the request's
 * transaction (which stays open until the body is sent), so memory stays constant however many match.
 */
export function exportAuditEntries(filters: AuditFilters, format: ExportFormat): Readable {
  const entries = presented(filters);
  if (format === 'json') return Readable.from(jsonArray(entries));
  // pipeline, not pipe: a failing read must fail the body, and a reader that leaves must stop the read.
  return pipeline(Readable.from(csvRecords(entries)), stringify({ header: true, columns: [...CSV_COLUMNS] }), () => undefined);
}

/** Takes the scope now: rows arrive later, outside its async context. */
function presented(filters: AuditFilters): AsyncIterable<PresentedAuditEntry> {
  const scope = tenantScope();
  const rows = entriesMatching(scope, filters).orderBy('a.appendId', 'asc').stream() as AsyncIterable<AuditLogRow>;
  return (async function* () {
    for await (const row of rows) yield presentAuditEntry(row, scope.tenantId);
  })();
}

async function* jsonArray(entries: AsyncIterable<PresentedAuditEntry>): AsyncIterable<string> {
  let separator = '';
  yield '[';
  for await (const entry of entries) {
    yield `${separator}${JSON.stringify(entry)}`;
    separator = ',';
  }
  yield ']';
}

async function* csvRecords(entries: AsyncIterable<PresentedAuditEntry>): AsyncIterable<Record<string, unknown>> {
  for await (const { actor, changes, ...rest } of entries) {
    const record: Record<string, unknown> = {
      ...rest,
      actorType: actor.type,
      actorId: actor.id,
      impersonatorId: actor.impersonatorId,
      changes: changes === null ? null : JSON.stringify(changes),
    };
    yield Object.fromEntries(Object.entries(record).map(([column, value]) => [column, defuseFormula(value)]));
  }
}

