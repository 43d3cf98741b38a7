import { Knex } from 'knex';
import { withTenant } from '../../infra/tenant-scope';
import { tenantIds } from '../../jobs/tenant-sweep';
import { CREDENTIAL_COLUMNS, CredentialKey, decryptCredential, encryptCredential, GLOBAL_CREDENTIAL_COLUMNS, rowContext } from './credential-crypto';

/** Rows re-encrypted per transaction: a rotation never holds many row locks at once. */
const BATCH = 500;

/**
 * Re-encrypts every stored credential that is not under the current key (CREDENTIALS_KEYS' first),
 * tenant by tenant on the runtime pool, under row-level security like any request (staff secrets on the
 * platform pool). Idempotent: a rerun
 * finds nothing left, so an interrupted rotation is finished by running it again. Old keys can leave
 * CREDENTIALS_KEYS once it reports zero remaining. `only` limits it to some tenants (and leaves the
 * platform staff's secrets for a full run).
 */
export async function rotateCredentials(
  knex: Knex,
  platformKnex: Knex,
  keys: readonly CredentialKey[],
  only?: readonly string[],
): Promise<{ tenants: number; reencrypted: number }> {
  const current = keys[0]!.id;
  const tenants = (await tenantIds(platformKnex)).filter((id) => !only || only.includes(id));
  let reencrypted = 0;
  for (const tenantId of tenants) {
    for (const { table, column } of CREDENTIAL_COLUMNS) {
      for (;;) {
        const done = await withTenant(knex, tenantId, async (trx) => {
          const rows = (await trx.raw(`select id, ?? as envelope from ?? where ?? is not null and ?? not like ? order by id limit ? for update`, [
            column,
            table,
            column,
            column,
            `cred1.${current}.%`,
            BATCH,
          ])) as { rows: Array<{ id: string; envelope: string }> };
          for (const row of rows.rows) {
            const context = rowContext(table, tenantId, row.id);
            const rewrapped = encryptCredential(keys, decryptCredential(keys, row.envelope, context), context);
            await trx.raw('update ?? set ?? = ? where id = ?', [table, column, rewrapped, row.id]);
          }
          reencrypted += rows.rows.length;
          return rows.rows.length < BATCH;
        });
        if (done) break;
      }
    }
  }
  if (!only) reencrypted += await rotateGlobalCredentials(platformKnex, keys);
  return { tenants: tenants.length, reencrypted };
}

/** Staff's TOTP secrets: few rows, global, in one transaction on the platform pool (which holds the staff tables). */
export async function rotateGlobalCredentials(knex: Knex, keys: readonly CredentialKey[]): Promise<number> {
  const current = keys[0]!.id;
  return knex.transaction(async (trx) => {
    let count = 0;
    for (const { table, column } of GLOBAL_CREDENTIAL_COLUMNS) {
      const rows = (await trx.raw('select id, ?? as envelope from ?? where ?? is not null and ?? not like ? for update', [column, table, column, column, `cred1.${current}.%`])) as {
        rows: Array<{ id: string; envelope: string }>;
      };
      for (const row of rows.rows) {
        const context = rowContext(table, 'platform', row.id);
        await trx.raw('update ?? set ?? = ? where id = ?', [table, column, encryptCredential(keys, decryptCredential(keys, row.envelope, context), context), row.id]);
      }
      count += rows.rows.length;
    }
    return count;
  });
}
