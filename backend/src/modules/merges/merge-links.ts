import { tenantScope } from '../../infra/tenant-scope';
import type { CrmResource } from '../crm/resource-definition';
import { recordEvent } from '../events/event-context';
import type { MergeableName } from './duplicate-rules';

/** A column of another table pointing at a record; `relatedType` for the polymorphic links of tasks and activities. */
interface Link {
  table: string;
  column: string;
  relatedType?: string;
}

const related = (type: string): Link[] => [
  { table: 'activities', column: 'relatedId', relatedType: type },
  { table: 'tasks', column: 'relatedId', relatedType: type },
];

/**
 * Everything that points at a record of each mergeable resource, and so moves to the survivor of a merge.
 * (Audit entries are history and stay as written: a survivor's timeline shows those of the records merged
 * into it, record-timeline.ts.)
 */
const LINKS: Record<MergeableName, Link[]> = {
  leads: related('lead'),
  contacts: [
    ...related('contact'),
    { table: 'deals', column: 'contactId' },
    { table: 'tickets', column: 'contactId' },
    { table: 'leads', column: 'convertedContactId' },
  ],
  accounts: [
    ...related('account'),
    { table: 'deals', column: 'accountId' },
    { table: 'contacts', column: 'accountId' },
    { table: 'tickets', column: 'accountId' },
    { table: 'leads', column: 'convertedAccountId' },
  ],
};

/** One group of rows moved: their `column` held `from` (a duplicate) and now holds the survivor. */
export interface MovedLinks {
  table: string;
  column: string;
  from: string;
  ids: string[];
}

/** Points every link of the duplicates at the survivor (soft-deleted rows too, so an undo is exact). */
export async function moveLinks(resource: MergeableName, survivorId: string, duplicateIds: readonly string[]): Promise<MovedLinks[]> {
  const { trx } = tenantScope();
  const moved: MovedLinks[] = [];
  for (const link of LINKS[resource]) {
    for (const from of duplicateIds) {
      const query = trx(link.table).where(link.column, from);
      if (link.relatedType) query.where('relatedType', link.relatedType);
      const rows = (await query.update({ [link.column]: survivorId }).returning('id')) as Array<{ id: string }>;
      if (rows.length) moved.push({ table: link.table, column: link.column, from, ids: rows.map((row) => row.id) });
    }
  }
  return moved;
}

/**
 * Points the moved rows back at the duplicate each came from; a row relinked since the merge (its column
 * no longer the survivor) keeps its newer link. Answers the rows that went back.
 */
export async function restoreLinks(survivorId: string, moved: readonly MovedLinks[]): Promise<MovedLinks[]> {
  const { trx } = tenantScope();
  const restored: MovedLinks[] = [];
  for (const group of moved) {
    const rows = (await trx(group.table).whereIn('id', group.ids).where(group.column, survivorId).update({ [group.column]: group.from }).returning('id')) as Array<{ id: string }>;
    if (rows.length) restored.push({ ...group, ids: rows.map((row) => row.id) });
  }
  return restored;
}

const SINGULAR_OF: Record<string, CrmResource> = { activities: 'activity', tasks: 'task', deals: 'deal', contacts: 'contact', tickets: 'ticket', leads: 'lead' };

/**
 * A `record.updated` event for each row moved to the survivor (or, on undo, back from it): the webhooks,
 * the change feed and the audit trail see a deal's `contactId` change as they would see a PATCH of it.
 */
export function recordLinkChanges(groups: readonly MovedLinks[], survivorId: string, direction: 'merged' | 'restored'): void {
  for (const group of groups) {
    const [before, after] = direction === 'merged' ? [group.from, survivorId] : [survivorId, group.from];
    for (const id of group.ids) {
      recordEvent({ type: 'record.updated', resource: SINGULAR_OF[group.table]!, id, before: { [group.column]: before }, after: { [group.column]: after }, subject: null });
    }
  }
}

/** How many rows moved, by table: what the merge's audit entry and answer show. */
export const movedCounts = (moved: readonly MovedLinks[]): Record<string, number> =>
  moved.reduce<Record<string, number>>((counts, group) => ({ ...counts, [group.table]: (counts[group.table] ?? 0) + group.ids.length }), {});
