import { tenantScope } from '../../infra/tenant-scope';
import { AppConfig } from '../../config/app-config';
import { recordEvent } from '../events/event-context';
import { recordSubject, subjectHash } from '../audit/audit-crypto';
import { AuditLogRow, entriesMatching } from '../audit/audit-entries.repository';
import { presentAuditEntry } from '../audit/audit-entry.presenter';
import { Tenant } from '../tenants/tenant.model';
import { findSubjectRecords, RESOURCE_TYPE, SubjectRecords, visible } from './data-subject';

/** Subject keys of the audit trail that may hold this person's data: their email's, and each of their records'. */
export function subjectsOf(email: string, records: Pick<SubjectRecords, 'leads' | 'contacts' | 'users'>): string[] {
  const own = (['leads', 'contacts', 'users'] as const).flatMap((table) => records[table].map((row) => recordSubject(RESOURCE_TYPE[table]!, row.id)));
  return [email, ...own];
}

/** The audit entries about the person (the oldest `limit` + 1, so a longer trail shows): about one of their records, encrypted under one of their keys, or made by them as a user. */
async function auditEntriesAbout(email: string, records: SubjectRecords, limit: number) {
  const scope = tenantScope();
  const hashes = subjectsOf(email, records).map(subjectHash);
  const resourceIds = [...records.leads, ...records.contacts, ...records.users].map((row) => row.id);
  const userIds = records.users.map((row) => row.id);
  const rows = (await entriesMatching(scope, {})
    .where((any) => {
      any.whereIn('a.resourceId', resourceIds).orWhereIn('a.actorId', userIds);
      any.orWhereRaw(
        'a.subject_key_ids && array(select k.id from data_subject_keys k where k.tenant_id = a.tenant_id and k.subject_hash = any(?::text[]))',
        [hashes],
      );
    })
    .orderBy('a.appendId', 'asc')
    .limit(limit + 1)) as AuditLogRow[];
  return rows.map((row) => presentAuditEntry(row, scope.tenantId));
}

/**
 * GDPR Art. 15 (and Art. 20, machine-readable): every record about the person, with what the controller
 * must say about the processing. Reading it is audited without naming the person.
 */
export async function subjectAccessReport(email: string, config: AppConfig) {
  const { tenantId, trx } = tenantScope();
  const limit = config.compliance.subjectReportMaxRows;
  const records = await findSubjectRecords(email, limit);
  const truncated = [...records.truncated];
  const cut = <T>(section: string, rows: T[]): T[] => {
    if (rows.length <= limit) return rows;
    truncated.push(section);
    return rows.slice(0, limit);
  };
  const organization = await Tenant.query().select('name').first();
  const auditEntries = cut('auditEntries', await auditEntriesAbout(email, records, limit));
  const sessions = cut(
    'records.sessions',
    records.users.length
      ? await trx('sessions').where({ tenantId }).whereIn('userId', records.users.map((row) => row.id)).orderBy('createdAt').limit(limit + 1).select('*')
      : [],
  );
  const sources = [...new Set(records.leads.map((row) => row.source).filter((source): source is string => typeof source === 'string' && source !== ''))];
  const categories = [
    records.leads.length + records.contacts.length + records.users.length > 0 ? 'identification and contact details (name, email, phone, address, company, title)' : null,
    Object.values(records.mentions).some((rows) => rows.length > 0) || Object.values(records.linked).some((rows) => rows.length > 0)
      ? 'communications and business records about the person (activities, tickets, tasks, deals)'
      : null,
    records.users.length > 0 ? 'user account and sign-in data (role, status, sessions with IP address and user agent)' : null,
    auditEntries.length > 0 ? 'audit trail of changes to these records' : null,
  ].filter((category): category is string => category !== null);

  recordEvent({ type: 'privacy.accessed', subjectRef: subjectRef(email), auditEntries: auditEntries.length });
  return {
    subject: { email },
    controller: { organization: organization?.name ?? null },
    generatedAt: new Date().toISOString(),
    processing: {
      purposes: [
        'Managing the organization’s customer relationships: sales, support and communication with the person',
        'Security and accountability: an audit trail of changes to records about the person',
      ],
      categories,
      sources: [
        'Entered by users of the organization, imported by them, or sent by their integrations (API keys)',
        ...sources.map((source) => `Lead source recorded as "${source}"`),
      ],
      recipients: [
        'Users of the organization whose role allows reading these records, and its integrations (API keys)',
        'The CRM service provider as processor; its platform administrators only through audited access',
      ],
      retention: {
        records: 'Kept until the organization deletes them, the person’s data is erased on request, or the organization is deleted',
        auditTrail: `${config.audit.retentionDays} days in the live trail, then in archives; personal values in both are unreadable once erased`,
        sessions: `${config.auth.sessionRetentionDays} days after a session ends`,
        organizationExports: `${config.compliance.exportTtlDays} days after an export is written`,
        afterOrganizationDeletion: `Everything is purged ${config.compliance.deletionGraceDays} days after the organization asks for its deletion`,
      },
      rights: 'Rectification through the record endpoints; erasure through POST /api/v1/privacy/erase; a copy through this endpoint',
    },
    records: {
      leads: records.leads.map(visible),
      contacts: records.contacts.map(visible),
      users: records.users.map(visible),
      sessions: sessions.map(visible),
    },
    mentions: Object.fromEntries(Object.entries(records.mentions).map(([table, rows]) => [table, rows.map(visible)])),
    linked: Object.fromEntries(Object.entries(records.linked).map(([table, rows]) => [table, rows.map(visible)])),
    auditEntries,
    limits: { rowsPerSection: limit, truncated },
  };
}

/** The person named in the trail without personal data: a prefix of the keyed hash of the email. */
export const subjectRef = (email: string): string => subjectHash(email).slice(0, 16);
