import knexFactory from 'knex';
import { createAdminKnex } from '../src/infra/db';
import { runtimeCredentials } from '../src/infra/db-roles';
import { migrateDatabase, MIGRATIONS_DIR } from '../src/infra/migrator';
import { adminUrl } from './support/test-app';
import { createMigratedDatabase, dropDatabase, TEST_ENV, withClient } from './support/test-database';

describe('migrations and database roles', () => {
  const serverUrl = () => process.env[TEST_ENV.serverUrl]!;

  it('when migrations run again on a migrated database, then nothing is applied and nothing breaks', async () => {
    expect(await migrateDatabase(adminUrl())).toEqual([]);
  });

  describe('when two databases share one cluster', () => {
    let first: string;
    let second: string;
    beforeAll(async () => {
      [first, second] = await Promise.all([
        createMigratedDatabase(serverUrl(), 'crm_sibling'),
        createMigratedDatabase(serverUrl(), 'crm_sibling'),
      ]);
    });
    afterAll(async () => {
      await Promise.all([first, second].filter(Boolean).map((url) => dropDatabase(url)));
    });

    it('then each gets its own runtime role, and one database role cannot read the other database', async () => {
      const a = runtimeCredentials(first);
      const b = runtimeCredentials(second);
      expect(a.user).not.toBe(b.user);
      expect(a.groupRole).not.toBe(b.groupRole);

      const intruderUrl = new URL(b.url);
      intruderUrl.username = a.user;
      intruderUrl.password = a.password ?? '';
      const intruder = knexFactory({ client: 'pg', connection: intruderUrl.toString(), pool: { min: 0, max: 1 } });
      try {
        await expect(intruder.raw('select count(*) from leads')).rejects.toMatchObject({
          message: expect.stringMatching(/permission denied|not permitted|does not have CONNECT/),
        });
      } finally {
        await intruder.destroy();
      }
    });

    it('then every migration rolls back and re-applies cleanly', async () => {
      const knex = createAdminKnex(first);
      try {
        await knex.migrate.rollback({ directory: MIGRATIONS_DIR, loadExtensions: ['.js'] }, true);
        const { rows } = await knex.raw("select count(*)::int as n from pg_tables where schemaname = 'public' and tablename not like 'knex_%'");
        expect(rows[0].n).toBe(0);
      } finally {
        await knex.destroy();
      }
      expect((await migrateDatabase(first)).length).toBeGreaterThanOrEqual(4);
    });
  });

  it('when APP_DATABASE_URL names a superuser, then migrate refuses rather than run with RLS bypassed', async () => {
    const superuser = await withClient(adminUrl(), async (client) => {
      const { rows } = await client.query('select rolname from pg_roles where rolsuper limit 1');
      return rows[0].rolname as string;
    });
    const appUrl = new URL(adminUrl());
    appUrl.username = superuser;
    await expect(migrateDatabase(adminUrl(), appUrl.toString())).rejects.toThrow(/is a superuser or has BYPASSRLS/);
  });

  it('when APP_DATABASE_URL names a new role, then migrate creates it with the runtime grants', async () => {
    const appUrl = new URL(adminUrl());
    appUrl.username = `${runtimeCredentials(adminUrl()).user.slice(0, 40)}_ops`;
    appUrl.password = 'operator-chosen-password';
    await migrateDatabase(adminUrl(), appUrl.toString());
    await withClient(adminUrl(), async (client) => {
      const { rows } = await client.query(
        `select r.rolsuper, r.rolbypassrls, pg_has_role(r.oid, $2, 'MEMBER') as member
         from pg_roles r where r.rolname = $1`,
        [appUrl.username, runtimeCredentials(adminUrl()).groupRole],
      );
      expect(rows).toEqual([{ rolsuper: false, rolbypassrls: false, member: true }]);
      const role = client.escapeIdentifier(appUrl.username);
      await client.query(`drop owned by ${role}`);
      await client.query(`drop role ${role}`);
    });
  });
});
