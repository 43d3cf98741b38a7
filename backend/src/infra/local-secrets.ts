import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface LocalSecrets {
  postgresPassword: string;
  jwtSecret: string;
  /** base64, 32 bytes. */
  encryptionKey: string;
}

/**
 * Secrets of the embedded default, made once and kept beside its data (mode 0600), so that tokens and
 * the database password survive restarts without anyone having to configure them.
 */
export function loadLocalSecrets(dataDir: string): LocalSecrets {
  const file = path.join(dataDir, 'secrets.json');
  const existing = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LocalSecrets>) : {};
  const secrets: LocalSecrets = {
    postgresPassword: existing.postgresPassword ?? randomBytes(24).toString('base64url'),
    jwtSecret: existing.jwtSecret ?? randomBytes(48).toString('base64url'),
    encryptionKey: existing.encryptionKey ?? randomBytes(32).toString('base64'),
  };
  if (Object.keys(existing).length !== Object.keys(secrets).length) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  return secrets;
}
