import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { RecordData } from '../crm/resource-definition';

/** The resources that have duplicates and merges. */
export const MERGEABLE = ['leads', 'contacts', 'accounts'] as const;
export type MergeableName = (typeof MERGEABLE)[number];
export const isMergeable = (name: string): name is MergeableName => (MERGEABLE as readonly string[]).includes(name);

/**
 * The generated columns the search compares (20261202000250_merges.js): plain columns, so that their
 * indexes serve the search under row-level security. Their values follow the same rules as the functions
 * below: `dup_email` is normalizeEmail's, `dup_phone_tail` the last 8 digits of the phone.
 */
const EMAIL = 'dup_email';
const EMAIL_DOMAIN = 'dup_email_domain';
const PHONE_TAIL = 'dup_phone_tail';
const DOMAIN = 'dup_domain';
const NAME = 'dup_name';

export type Reason = 'email' | 'phone' | 'domain' | 'name';

/** How much each reason alone says; several combine as independent evidence, 1 - Π(1 - weight). */
const WEIGHTS = { email: 0.9, phone: 0.8, accountDomain: 0.8, personDomain: 0.3, name: 0.7 } as const;
/** A name is similar from this trigram similarity on (pg_trgm's `%` finds candidates from 0.3). */
export const NAME_SIMILARITY = 0.5;
/** Candidates scoring less are not listed. */
export const MIN_SCORE = 0.4;

/**
 * Shared mailbox providers: two people with addresses there are no more alike than any two strangers,
 * so their domain is no reason.
 */
const FREE_MAIL = new Set([
  'gmail.com', 'googlemail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'live.com', 'msn.com', 'icloud.com', 'me.com',
  'aol.com', 'gmx.de', 'gmx.net', 'web.de', 'proton.me', 'protonmail.com', 'mail.com', 'yandex.ru', 'zoho.com',
]);

/** Lowercase, trimmed, `+tag` dropped: `Ann+crm@Example.com` is `ann@example.com`. */
export function normalizeEmail(email: unknown): string | null {
  if (typeof email !== 'string' || !email.includes('@')) return null;
  return email.trim().toLowerCase().replace(/\+[^@]*@/, '@');
}

/** A phone in E.164 (`+4930123456`), when it is written internationally (`+49 ...` or `0049 ...`) and valid. */
export function phoneE164(phone: unknown): string | null {
  if (typeof phone !== 'string') return null;
  const international = phone.trim().replace(/^00/, '+');
  const parsed = parsePhoneNumberFromString(international);
  return parsed?.isValid() ? parsed.number : null;
}

const personName = (data: RecordData): string | null => {
  const name = [data.firstName, data.lastName].filter((part) => typeof part === 'string' && part.trim()).join(' ').trim().toLowerCase();
  return name || null;
};

/** What a record is compared by. */
export interface Probe {
  email: string | null;
  emailDomain: string | null;
  phone: string | null;
  domain: string | null;
  name: string | null;
}

export function probeOf(resource: MergeableName, data: RecordData): Probe {
  const email = resource === 'accounts' ? null : normalizeEmail(data.email);
  const emailDomain = email ? email.split('@')[1]! : null;
  const domain = resource === 'accounts' && typeof data.domain === 'string' && data.domain.trim() ? data.domain.trim().toLowerCase() : null;
  const name = resource === 'accounts' ? (typeof data.name === 'string' && data.name.trim() ? data.name.trim().toLowerCase() : null) : personName(data);
  return { email, emailDomain: emailDomain && !FREE_MAIL.has(emailDomain) ? emailDomain : null, phone: phoneE164(data.phone), domain, name };
}

/** A WHERE part and its bindings: the rows sharing any of the probe's values (an index each). */
export function candidateConditions(probe: Probe): Array<{ sql: string; bindings: string[] }> {
  const conditions: Array<{ sql: string; bindings: string[] }> = [];
  if (probe.email) conditions.push({ sql: `${EMAIL} = ?`, bindings: [probe.email] });
  if (probe.emailDomain) conditions.push({ sql: `${EMAIL_DOMAIN} = ?`, bindings: [probe.emailDomain] });
  if (probe.phone) conditions.push({ sql: `${PHONE_TAIL} = ?`, bindings: [probe.phone.replace(/\D/g, '').slice(-8)] });
  if (probe.domain) conditions.push({ sql: `${DOMAIN} = ?`, bindings: [probe.domain] });
  if (probe.name) conditions.push({ sql: `${NAME} % ?`, bindings: [probe.name] });
  return conditions;
}

/** The trigram similarity of a candidate's name to the probe's, as SQL. */
export const NAME_SIMILARITY_SQL = `similarity(coalesce(${NAME}, ''), ?)`;

export interface DuplicateReason {
  reason: Reason;
  /** The value both records share (normalized), or the candidate's name for a similar one. */
  value: string;
  /** For `name`: the trigram similarity, 0..1. */
  similarity?: number;
}

/** The reasons a candidate is a duplicate of the probe, and the score they make (0..1, two decimals). */
export function scoreCandidate(resource: MergeableName, probe: Probe, candidate: RecordData, nameSimilarity: number): { score: number; reasons: DuplicateReason[] } {
  const reasons: Array<DuplicateReason & { weight: number }> = [];
  const other = probeOf(resource, candidate);
  if (probe.email && probe.email === other.email) reasons.push({ reason: 'email', value: probe.email, weight: WEIGHTS.email });
  if (probe.phone && probe.phone === other.phone) reasons.push({ reason: 'phone', value: probe.phone, weight: WEIGHTS.phone });
  if (probe.domain && probe.domain === other.domain) reasons.push({ reason: 'domain', value: probe.domain, weight: WEIGHTS.accountDomain });
  if (probe.emailDomain && probe.emailDomain === other.emailDomain) reasons.push({ reason: 'domain', value: probe.emailDomain, weight: WEIGHTS.personDomain });
  if (probe.name && other.name && nameSimilarity >= NAME_SIMILARITY) {
    const similarity = Math.round(nameSimilarity * 100) / 100;
    reasons.push({ reason: 'name', value: other.name, similarity, weight: WEIGHTS.name * Math.min(1, nameSimilarity) });
  }
  const score = 1 - reasons.reduce((unlikely, { weight }) => unlikely * (1 - weight), 1);
  return { score: Math.round(score * 100) / 100, reasons: reasons.map(({ weight: _weight, ...reason }) => reason) };
}
