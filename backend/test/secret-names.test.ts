import { Knex } from 'knex';
import { isSecretName } from '../src/lib/secret-names';
import { exportedTables } from '../src/modules/compliance/tenant-tables';
import { ownerKnex } from './support/test-app';

/**
 * One rule says which names hold secrets (migrations/support/secret-names.json). Checked here against every
 * column of every table: the platform role's grants, the organization export, logs and the audit trail all
 * follow it, so a new column such as `access_token` is hidden everywhere at once.
 */
describe('secret names: one rule, every table', () => {
  let owner: Knex;

  beforeAll(() => {
    owner = ownerKnex();
  });

  afterAll(async () => {
    await owner.destroy();
  });

  it('when a name is a credential, a hash of one, key material or a signing secret in any case style, then it is secret; a timestamp about one is not', () => {
    for (const name of ['password_hash', 'newPassword', 'access_token', 'accessToken', 'x-api-key', 'apiKey', 'authorization', 'set-cookie', 'key_material', 'secret_encrypted', 'mfaSecretEncrypted', 'message_encrypted', 'code_hash', 'STRIPE_SECRET_KEY']) {
      expect([name, isSecretName(name)]).toEqual([name, true]);
    }
    for (const name of ['password_changed_at', 'previousSecretExpiresAt', 'mfa_enabled_at', 'key', 'hash', 'prev_hash', 'email', 'subject', 'reencrypted', 'tenants']) {
      expect([name, isSecretName(name)]).toEqual([name, false]);
    }
  });

  it('when every column of every table is read, then the secret ones are the credentials and keys, and the platform role reads exactly the others', async () => {
    const { rows: columns } = await owner.raw<{ rows: Array<{ table: string; column: string }> }>(
      `select table_name as table, column_name as column from information_schema.columns
        where table_schema = current_schema() order by table_name, column_name`,
    );
    const secret = columns.filter((row) => isSecretName(row.column)).map((row) => `${row.table}.${row.column}`);
    expect(secret).toEqual(
      expect.arrayContaining([
        'api_keys.key_hash',
        'data_subject_keys.key_material',
        'integrations.secrets_encrypted',
        'notifications.message_encrypted',
        'password_reset_tokens.token_hash',
        'platform_admins.password_hash',
        'refresh_tokens.token_hash',
        'users.invite_token_hash',
        'users.mfa_secret_encrypted',
        'users.password_hash',
        'webhook_subscriptions.previous_secret_encrypted',
        'webhook_subscriptions.secret_encrypted',
      ]),
    );
    expect(secret.filter((name) => /(^|\.)(hash|prev_hash|key)$|_at$/.test(name))).toEqual([]);

    const { rows: grants } = await owner.raw<{ rows: Array<{ table: string; column: string; readable: boolean }> }>(
      `select c.table_name as table, c.column_name as column,
              has_column_privilege(p.roles[1]::text, format('%I', c.table_name), c.column_name, 'SELECT') as readable
         from pg_policies p
         join information_schema.columns c on c.table_schema = p.schemaname and c.table_name = p.tablename
        where p.schemaname = current_schema() and p.policyname = 'platform_read'`,
    );
    expect(grants.length).toBeGreaterThan(100);
    const wrong = grants.filter((row) => row.readable === isSecretName(row.column)).map((row) => `${row.table}.${row.column}`);
    expect(wrong).toEqual([]);
  });

  it('when the organization export lists what it writes, then no secret column is in it', async () => {
    const tables = await exportedTables(owner);
    expect(tables.map((table) => table.name)).toEqual(expect.arrayContaining(['users', 'api_keys', 'webhook_subscriptions', 'integrations']));
    expect(tables.flatMap((table) => table.columns.filter(isSecretName).map((column) => `${table.name}.${column}`))).toEqual([]);
  });
});
