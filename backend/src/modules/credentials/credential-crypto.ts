import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** A credential key: `id` is stored next to every ciphertext, so old keys keep decrypting until rotation. */
export interface CredentialKey {
  id: string;
  key: Buffer;
}

const CIPHER = 'aes-256-gcm';
const ENVELOPE = /^cred1\.([A-Za-z0-9_-]{1,32})\.([\w-]{16})\.([\w-]*)\.([\w-]{22})$/;

/**
 * `cred1.<keyId>.<nonce>.<ciphertext>.<tag>` (base64url) under the current (first) key. `context` is
 * authenticated, not stored: it binds the ciphertext to its row (tenant, table, id), so a ciphertext
 * copied onto another row does not decrypt there.
 */
export function encryptCredential(keys: readonly CredentialKey[], plaintext: string, context: string): string {
  const current = keys[0];
  if (!current) throw new Error('No credential key is configured');
  const nonce = randomBytes(12);
  const cipher = createCipheriv(CIPHER, current.key, nonce).setAAD(Buffer.from(context));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['cred1', current.id, nonce.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

export function decryptCredential(keys: readonly CredentialKey[], envelope: string, context: string): string {
  const [, keyId, nonce, ciphertext, tag] = ENVELOPE.exec(envelope) ?? [];
  if (!keyId || !nonce || ciphertext === undefined || !tag) throw new Error('Not a credential envelope');
  const key = keys.find((candidate) => candidate.id === keyId);
  if (!key) throw new Error(`Credential key "${keyId}" is not configured (CREDENTIALS_KEYS)`);
  const decipher = createDecipheriv(CIPHER, key.key, Buffer.from(nonce, 'base64url'))
    .setAAD(Buffer.from(context))
    .setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}

/** The authenticated context of a credential stored in `table`'s row `id` of `tenantId`. */
export const rowContext = (table: string, tenantId: string, id: string): string => `${table}:${tenantId}:${id}`;

/** Every column that holds a credential envelope: what `npm run credentials:rotate` re-encrypts. */
export const CREDENTIAL_COLUMNS = [
  { table: 'webhook_subscriptions', column: 'secret_encrypted' },
  { table: 'webhook_subscriptions', column: 'previous_secret_encrypted' },
  { table: 'integrations', column: 'secrets_encrypted' },
  { table: 'notifications', column: 'message_encrypted' },
  { table: 'users', column: 'mfa_secret_encrypted' },
  { table: 'users', column: 'mfa_pending_secret_encrypted' },
] as const;

/** Credentials of global rows (platform staff's TOTP secrets), bound to `rowContext(table, 'platform', id)`. */
export const GLOBAL_CREDENTIAL_COLUMNS = [
  { table: 'platform_admins', column: 'mfa_secret_encrypted' },
  { table: 'platform_admins', column: 'mfa_pending_secret_encrypted' },
] as const;
