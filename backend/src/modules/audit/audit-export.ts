import { pipeline, Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { defuseFormula } from '../../lib/csv-cell';
import { tenantScope } from '../../infra/tenant-scope';
import { DownloadBody, InTenant } from '../../http/route';
import { AuditFilters, AuditLogRow, ENTRY_COLUMNS, entriesMatching } from './audit-entries.repository';
import { presentAuditEntry, PresentedAuditEntry } from './audit-entry.presenter';

export type ExportFormat = 'csv' | 'json';

const CSV_COLUMNS = ENTRY_COLUMNS;

/** Entries per page: each page is one short transaction, so a client that reads slowly holds no connection. */
const PAGE_ENTRIES = 1000;

/**
 * The filtered entries, oldest first in append order (pending entries included), as a download read a
 * page at a time (keyset on append_id), so memory stays at a page however many match and no
 * transaction stays open while the client reads.
 */
export function exportAuditEntries(filters: AuditFilters, format: ExportFormat): DownloadBody {
  return (inTenant) => {
    const entries = presented(filters, inTenant);
    if (format === 'json') return Readable.from(jsonArray(entries));
    // pipeline, not pipe: a failing read must fail the body, and a reader that leaves must stop the read.
    return pipeline(Readable.from(csvRecords(entries)), stringify({ header: true, columns: [...CSV_COLUMNS] }), () => undefined);
  };
}

async function* presented(filters: AuditFilters, inTenant: InTenant): AsyncIterable<PresentedAuditEntry> {
  let after = '0';
  for (;;) {
    const rows = await inTenant(async () => {
      const scope = tenantScope();
      const page = (await entriesMatching(scope, filters).where('a.appendId', '>', after).orderBy('a.appendId', 'asc').limit(PAGE_ENTRIES)) as AuditLogRow[];
      return page.map((row) => ({ appendId: String(row.appendId), entry: presentAuditEntry(row, scope.tenantId) }));
    });
    for (const row of rows) yield row.entry;
    if (rows.length < PAGE_ENTRIES) return;
    after = rows.at(-1)!.appendId;
  }
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

