import { randomSecret, sha256Hex } from '../../lib/crypto';

/** Integrator keys look like `crm_live_<43 chars>`; only their SHA-256 is stored. */
export const API_KEY_PREFIX = 'crm_live_';

export function newApiKey(): { key: string; hash: string; prefix: string } {
  const key = randomSecret(API_KEY_PREFIX);
  return { key, hash: sha256Hex(key), prefix: key.slice(0, API_KEY_PREFIX.length + 6) };
}
