import { createHash, randomBytes } from 'node:crypto';
import { jwtSecretKeys } from '../lib/jwt-keys';
import { AppConfig } from './app-config';
import { Env, readTable } from './declaration';
import { envSchema, variables } from './variables';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Validates the environment once; every part of the app reads the returned object, never process.env. */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const { value, error } = envSchema.validate(present, { abortEarly: false, allowUnknown: true, convert: true });
  if (error) throw new ConfigError(error.details.map((d) => d.message));

  const declared = readTable(variables, value as Env);
  const jwtSecret = declared.jwt.secret ?? randomBytes(48).toString('base64url');
  const encryptionKey =
    declared.encryptionKey ??
    // Derived (development only) from the oldest JWT key, so putting a new key first does not change it.
    createHash('sha256').update(`encryption-key:${jwtSecretKeys(jwtSecret).at(-1)!}`).digest();
  return {
    ...declared,
    jwt: { ...declared.jwt, secret: jwtSecret, secretGenerated: declared.jwt.secret === undefined },
    encryptionKey,
    encryptionKeyDerived: declared.encryptionKey === undefined,
    credentialKeys: credentialKeys(declared.credentialKeys, encryptionKey),
  };
}

/**
 * CREDENTIALS_KEYS, or one key derived from the encryption key (ENCRYPTION_KEY is itself required in
 * production), so a deployment works before it ever rotates.
 */
function credentialKeys(given: Array<{ id: string; key: Buffer }> | undefined, encryptionKey: Buffer): Array<{ id: string; key: Buffer }> {
  if (!given) return [{ id: 'k0', key: createHash('sha256').update('credentials:').update(encryptionKey).digest() }];
  if (new Set(given.map((key) => key.id)).size !== given.length) throw new ConfigError(['"CREDENTIALS_KEYS" names a key id twice']);
  return given;
}

/** For entry points: a bad environment stops the process with a message naming each variable. */
export function loadConfigOrExit(env: Record<string, string | undefined>): AppConfig {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
