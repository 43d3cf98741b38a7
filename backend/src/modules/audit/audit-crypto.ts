import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { tenantScope } from '../../infra/tenant-scope';
import { cachedSubjectKey, cacheSubjectKey, forgetSubjectKeys, forgetTenantSubjectKeys } from './subject-key-cache';

/**
 * Fields whose values are about a person, so they are stored encrypted under that person's key.
 * `name` is personal only on resources that are people (an account's or a role's name is not).
 */
export const PERSONAL_FIELDS = {
  anyResource: ['firstName', 'lastName', 'email', 'phone', 'notes', 'description', 'body', 'address'] as readonly string[],
  byResource: {
    users: ['name'],
    user: ['name'],
    contacts: ['name'],
    contact: ['name'],
    leads: ['name'],
    lead: ['name'],
    tickets: ['subject', 'resolution'],
    ticket: ['subject', 'resolution'],
  } as Readonly<Record<string, readonly string[]>>,
} as const;

/** What readers see once a subject's key is destroyed; also what is stored about an already erased subject. */
export const ERASED = '[erased]';

const CIPHER = 'aes-256-gcm';
const ENCRYPTED_VALUE = /^enc:v1:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):([\w-]+):([\w-]*):([\w-]+)$/;

let keyEncryptionKey: Buffer | undefined;

/** Set once at startup from config.encryptionKey; the audit writer and readers cannot work without it. */
export function useAuditEncryptionKey(key: Buffer): void {
  if (key.length !== 32) throw new Error('The audit key-encryption key must be 32 bytes (AES-256)');
  keyEncryptionKey = key;
}

function kek(): Buffer {
  if (!keyEncryptionKey) throw new Error('The audit key-encryption key is not set (useAuditEncryptionKey)');
  return keyEncryptionKey;
}

export function isPersonalField(resourceType: string | null | undefined, field: string): boolean {
  return (
    PERSONAL_FIELDS.anyResource.includes(field) || (resourceType ? (PERSONAL_FIELDS.byResource[resourceType]?.includes(field) ?? false) : false)
  );
}

/** Emails differ in case and stray spaces only by accident; they name the same person. */
export const normalizeSubject = (subject: string): string => subject.trim().toLowerCase();

/** Keyed, so the table never reveals which emails it holds keys for. */
export const subjectHash = (subject: string): string => createHmac('sha256', kek()).update(normalizeSubject(subject)).digest('hex');

/** The subject of a record audited without an email: erasing that record destroys this key. */
export const recordSubject = (resourceType: string, resourceId: string): string => `${resourceType}:${resourceId}`;

/** A subject's key as the writer uses it; `key` is null once destroyed. */
export interface SubjectKey {
  id: string;
  key: Buffer | null;
}

/**
 * The subject's key in the current tenant, created on first use: from this process's cache, else in
 * one statement that finds the key or creates it. `fresh` skips the cache (the writer's retry after
 * its insert found a cached key gone).
 */
export async function subjectKeyFor(subject: string, { fresh = false } = {}): Promise<SubjectKey> {
  const { tenantId, trx } = tenantScope();
  const hash = subjectHash(subject);
  const cached = fresh ? undefined : cachedSubjectKey(tenantId, hash);
  if (cached) return cached;
  const id = randomUUID();
  // A raw result's rows keep the database's column names.
  const found = await trx.raw<{ rows: Array<{ id: string; key_material: Buffer | null }> }>(
    `with found as (select id, key_material from data_subject_keys where tenant_id = :tenantId and subject_hash = :hash),
     created as (
       insert into data_subject_keys (tenant_id, id, subject_hash, key_material)
       select :tenantId, :id, :hash, :material where not exists (select 1 from found)
       on conflict (tenant_id, subject_hash) do nothing
       returning id, key_material)
     select id, key_material from found union all select id, key_material from created`,
    { tenantId, hash, id, material: wrapKey(randomBytes(32), tenantId, id) },
  );
  // Empty only when a concurrent writer created the same subject's key first: then its key is the one to use.
  const created = found.rows[0];
  const row = created
    ? { id: created.id, keyMaterial: created.key_material }
    : await trx('dataSubjectKeys').where({ tenantId, subjectHash: hash }).first<{ id: string; keyMaterial: Buffer | null } | undefined>('id', 'keyMaterial');
  if (!row) throw new Error('The data subject key vanished while it was being created');
  const key = { id: row.id, key: row.keyMaterial ? unwrapKey(row.keyMaterial, tenantId, row.id) : null };
  cacheSubjectKey(tenantId, hash, key);
  return key;
}

/** Drops subjects' keys from this process's cache (the writer's insert found one of them gone). */
export const forgetCachedSubjectKeys = (subjects: readonly string[]): void => forgetSubjectKeys(tenantScope().tenantId, subjects.map(subjectHash));

/**
 * Crypto-shredding: the subject's personal data in the audit trail becomes unreadable for good, and
 * whatever is audited about them later is stored as `[erased]`. No audit row changes. `subject` is an
 * email, or `<resourceType>:<resourceId>` for records audited without one.
 */
export async function destroySubjectKey(subject: string): Promise<void> {
  const { tenantId, trx } = tenantScope();
  forgetTenantSubjectKeys(tenantId);
  await trx('dataSubjectKeys')
    .insert({ tenantId, id: randomUUID(), subjectHash: subjectHash(subject), keyMaterial: null, destroyedAt: trx.fn.now() })
    .onConflict(['tenantId', 'subjectHash'])
    // excluded's (the statement's now()), not now() itself: Citus refuses a volatile function in DO UPDATE SET.
    .merge({ keyMaterial: null, destroyedAt: trx.raw('coalesce(data_subject_keys.destroyed_at, excluded.destroyed_at)') });
}

/** Crypto-shredding of keys found by id (keys of entries about a record, whatever subject they were made for). */
export async function destroySubjectKeysById(ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const { tenantId, trx } = tenantScope();
  forgetTenantSubjectKeys(tenantId);
  await trx('dataSubjectKeys').where({ tenantId }).whereIn('id', ids).update({ keyMaterial: null, destroyedAt: trx.raw('coalesce(destroyed_at, now())') });
}

/** `enc:v1:<keyId>:<iv>:<ciphertext>:<tag>` (base64url), of the value's JSON, so any type survives. */
export function encryptValue(value: unknown, subjectKey: SubjectKey): string {
  if (!subjectKey.key) return ERASED;
  const iv = randomBytes(12);
  const cipher = createCipheriv(CIPHER, subjectKey.key, iv).setAAD(Buffer.from(subjectKey.id));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return ['enc', 'v1', subjectKey.id, iv, ciphertext, cipher.getAuthTag()].map((part) => (Buffer.isBuffer(part) ? part.toString('base64url') : part)).join(':');
}

/**
 * Replaces every encrypted value of an entry's changes by its plaintext, or by `[erased]` when the
 * key is gone. `wrappedKeys` are the entry's own keys (id -> base64 wrapped key, null once destroyed);
 * a string that merely looks encrypted but names no key of the entry is left as it is. The tenant is
 * passed, not read from the scope: a streamed export reads rows outside the scope's async context.
 */
export function revealChanges(changes: unknown, wrappedKeys: Record<string, string | null> | null, tenantId: string): unknown {
  if (!changes || !wrappedKeys) return changes;
  const keys = new Map<string, Buffer | null>();
  const keyFor = (id: string): Buffer | null => {
    if (!keys.has(id)) {
      const wrapped = wrappedKeys[id];
      keys.set(id, wrapped ? unwrapKey(Buffer.from(wrapped, 'base64'), tenantId, id) : null);
    }
    return keys.get(id) ?? null;
  };
  const reveal = (value: unknown): unknown => {
    if (typeof value === 'string') {
      const [, keyId, iv, ciphertext, tag] = ENCRYPTED_VALUE.exec(value) ?? [];
      if (!keyId || !iv || ciphertext === undefined || !tag || !(keyId in wrappedKeys)) return value;
      return decryptValue({ keyId, iv, ciphertext, tag }, keyFor(keyId));
    }
    if (Array.isArray(value)) return value.map(reveal);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([field, inner]) => [field, reveal(inner)]));
    return value;
  };
  return reveal(changes);
}

function decryptValue(
  { keyId, iv, ciphertext, tag }: { keyId: string; iv: string; ciphertext: string; tag: string },
  key: Buffer | null,
): unknown {
  if (!key) return ERASED;
  try {
    const decipher = createDecipheriv(CIPHER, key, Buffer.from(iv, 'base64url')).setAAD(Buffer.from(keyId)).setAuthTag(Buffer.from(tag, 'base64url'));
    const plaintext = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
    return JSON.parse(plaintext.toString('utf8'));
  } catch {
    // A value that does not authenticate under its key is no more readable than a shredded one.
    return ERASED;
  }
}

/** Key material at rest is wrapped under the key-encryption key and bound to its tenant and row. */
function wrapKey(key: Buffer, tenantId: string, keyId: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv(CIPHER, kek(), iv).setAAD(Buffer.from(`${tenantId}:${keyId}`));
  const ciphertext = Buffer.concat([cipher.update(key), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]);
}

function unwrapKey(wrapped: Buffer, tenantId: string, keyId: string): Buffer {
  const decipher = createDecipheriv(CIPHER, kek(), wrapped.subarray(0, 12))
    .setAAD(Buffer.from(`${tenantId}:${keyId}`))
    .setAuthTag(wrapped.subarray(12, 28));
  return Buffer.concat([decipher.update(wrapped.subarray(28)), decipher.final()]);
}
