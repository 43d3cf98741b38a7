import { Knex } from 'knex';
import { tenantScope } from '../../infra/tenant-scope';
import { isSecretName } from '../../lib/secret-names';

type Row = Record<string, unknown> & { id: string };

/** Free text that may name a person, per table: scanned for the person's email and full names. */
export const FREE_TEXT: Readonly<Record<string, readonly string[]>> = {
  leads: ['notes'],
  activities: ['subject', 'body'],
  tickets: ['subject', 'description'],
  tasks: ['title', 'description'],
  deals: ['name'],
};

/** The audit trail's name for a record of each table (resourceType, as records.service writes it). */
export const RESOURCE_TYPE: Readonly<Record<string, string>> = {
  leads: 'lead',
  contacts: 'contact',
  users: 'user',
  activities: 'activity',
  tickets: 'ticket',
  tasks: 'task',
  deals: 'deal',
};

/** What a reader of a row never gets: the search vector and secrets. */
export const visible = (row: Row): Row => Object.fromEntries(Object.entries(row).filter(([field]) => field !== 'search' && !isSecretName(field))) as Row;

export interface SubjectRecords {
  /** Records that are the person: their lead, contact and user rows. */
  leads: Row[];
  contacts: Row[];
  users: Row[];
  /** Records that mention the person in free text, by table. */
  mentions: Record<string, Row[]>;
  /** Records linked to the person's contact or lead (a deal's contact, an activity about the lead), by table. */
  linked: Record<string, Row[]>;
  /** The person's full names as the records spell them ("Ada Lovelace"). */
  names: string[];
  /** Sections cut at the row limit (`records.leads`, `mentions.activities`, ...): empty without a limit. */
  truncated: string[];
}

/** A regex (PostgreSQL ARE) matching any of the strings literally. */
export const literalPattern = (values: string[]): string => values.map((value) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');

/**
 * Everything of the current tenant that is about the person with this email: rows that are them
 * (soft-deleted ones too), rows that mention their email or full name, and rows linked to their records.
 * With `limit` (a report), each section holds its oldest `limit` rows and a longer one is named in
 * `truncated`, so one request never loads a tenant's whole history; erasure passes none and sees all.
 */
export async function findSubjectRecords(email: string, limit?: number): Promise<SubjectRecords> {
  const { tenantId, trx } = tenantScope();
  const truncated: string[] = [];
  const rowsOf = async (section: string, query: Knex.QueryBuilder): Promise<Row[]> => {
    if (limit === undefined) return query.select<Row[]>('*');
    const rows = await query.limit(limit + 1).select<Row[]>('*');
    if (rows.length <= limit) return rows;
    truncated.push(section);
    return rows.slice(0, limit);
  };
  const byEmail = (table: string) => rowsOf(`records.${table}`, trx(table).where({ tenantId, email }).orderBy('createdAt'));
  // One after another: they share the transaction's connection.
  const leads = await byEmail('leads');
  const contacts = await byEmail('contacts');
  const users = await byEmail('users');
  const names = [
    ...new Set(
      [...leads, ...contacts, ...users]
        .map((row) => [row.firstName, row.lastName].filter((part) => typeof part === 'string' && part.trim()).join(' ').trim())
        .filter((name) => name.includes(' ')),
    ),
  ];
  const pattern = literalPattern([email, ...names]);
  const mentions: Record<string, Row[]> = {};
  for (const [table, columns] of Object.entries(FREE_TEXT)) {
    mentions[table] = await rowsOf(
      `mentions.${table}`,
      trx(table)
        .where({ tenantId })
        .where((any) => {
          for (const column of columns) any.orWhereRaw('?? ~* ?', [column, pattern]);
        })
        .orderBy('createdAt'),
    );
  }
  const leadIds = leads.map((row) => row.id);
  const contactIds = contacts.map((row) => row.id);
  const relatedTo = (query: Knex.QueryBuilder) =>
    query.where((any) => {
      any.where((lead) => lead.where('relatedType', 'lead').whereIn('relatedId', leadIds));
      any.orWhere((contact) => contact.where('relatedType', 'contact').whereIn('relatedId', contactIds));
    });
  const linked: Record<string, Row[]> = {
    deals: await rowsOf('linked.deals', trx('deals').where({ tenantId }).whereIn('contactId', contactIds).orderBy('createdAt')),
    tickets: await rowsOf('linked.tickets', trx('tickets').where({ tenantId }).whereIn('contactId', contactIds).orderBy('createdAt')),
    activities: await rowsOf('linked.activities', relatedTo(trx('activities').where({ tenantId })).orderBy('createdAt')),
    tasks: await rowsOf('linked.tasks', relatedTo(trx('tasks').where({ tenantId })).orderBy('createdAt')),
  };
  return { leads, contacts, users, mentions, linked, names, truncated };
}
