import { Knex } from 'knex';
import { setLocal } from './local-settings';

/** The transaction-local settings the credential lookup policies match (migrations/..._credential_lookups.js). */
export type LookupKey = 'email' | 'token' | 'subdomain';

/**
 * Finds rows by a credential before any tenant is bound: within this transaction, only rows whose
 * email / token hash / subdomain equals `value` are visible, across tenants, and only for reading.
 */
export async function withCredentialLookup<T>(
  knex: Knex,
  key: LookupKey,
  value: string,
  fn: (trx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  return knex.transaction(async (trx) => {
    await enableCredentialLookup(trx, key, value);
    return fn(trx);
  });
}

/** The same, inside a transaction that is already open (a sign-up inside its new tenant's scope). */
export async function enableCredentialLookup(trx: Knex.Transaction, key: LookupKey, value: string): Promise<void> {
  await setLocal(trx, `app.lookup_${key}`, value);
}
