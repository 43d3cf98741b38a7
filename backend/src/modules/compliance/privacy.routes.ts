import { AppDeps } from '../../app-deps';
import { defineRoute, ok, principalOf, RouteDefinition } from '../../http/route';
import { erasureBody, erasureSchema, subjectQuery, subjectReportSchema } from './compliance.schema';
import { subjectAccessReport } from './privacy-access.service';
import { eraseSubject } from './privacy-erasure.service';

export function privacyRoutes(deps: AppDeps): RouteDefinition[] {
  const tags = ['Privacy'];
  return [
    defineRoute({
      method: 'get',
      path: '/privacy/subject',
      permission: 'privacy:manage',
      summary: 'Everything the organization holds about one person (GDPR Art. 15 and 20), as one JSON document',
      description:
        'Matched by `email` (case-insensitive): leads, contacts and users with that email, sessions of such a user, records whose free text names the email or the person’s full name, records linked to their lead or contact, and the audit entries about them (decrypted while not erased), with the purposes, categories, sources, recipients and retention of the processing. Reading it is audited as `privacy.access` without the email. Each section holds at most `SUBJECT_REPORT_MAX_ROWS` (1,000) rows, oldest first; `limits.truncated` names the sections cut there (the organization export holds everything).',
      tags,
      schema: { query: subjectQuery },
      response: { status: 200, description: 'The report', schema: subjectReportSchema },
      handler: async (input) => ok(await subjectAccessReport(input.query.email, deps.config)),
    }),
    defineRoute({
      method: 'post',
      path: '/privacy/erase',
      auditResource: 'data_subject',
      permission: 'privacy:manage',
      // A legal obligation that does not wait for the organization's own purge.
      allowedWhilePendingDeletion: true,
      summary: 'Erase one person (GDPR Art. 17): anonymised everywhere, shredded in the audit trail',
      description:
        'Leads, contacts and users with the email get a stable pseudonym (`erased-<ref>@erased.invalid`), their other personal fields cleared; free text naming the email or full name is scrubbed to `[erased]`; the audit trail’s keys for the person are destroyed, so their values read `[erased]` while the chain still verifies. A user with the email is also disabled and signed out, except the caller or the last active tenant admin (409). Repeating the call answers 200 with zero counts.',
      tags,
      schema: { body: erasureBody },
      response: { status: 200, description: 'What was erased', schema: erasureSchema },
      handler: async (input) => ok(await eraseSubject(principalOf(input), input.body.email)),
    }),
  ];
}
