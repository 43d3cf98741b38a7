/**
 * Upgrades as operators run them: several API containers starting together each run the migrations (the
 * advisory lock lets one apply them while the others wait and find nothing to do), and the last release's
 * migrations roll back to exactly the schema of the release before, then apply again.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Knex } from 'knex';
import { createAdminKnex } from '../src/infra/db';
import { MIGRATION_LOCK_KEY, migrateDatabase, MIGRATIONS_DIR, rollbackLastBatch } from '../src/infra/migrator';
import { databaseUrl, dropDatabase, TEST_ENV, uniqueDatabaseName, withClient } from './support/test-database';

const serverUrl = () => process.env[TEST_ENV.serverUrl]!;

async function freshDatabase(): Promise<string> {
  const name = uniqueDatabaseName('crm_upgrade');
  await withClient(serverUrl(), (client) => client.query(`create database ${client.escapeIdentifier(name)}`));
  return databaseUrl(serverUrl(), name);
}

/** What a migration can change in the public schema: columns, constraints, indexes, policies, triggers. */
async function schemaShape(knex: Knex): Promise<Record<string, string[]>> {
  const lines = async (sql: string) => ((await knex.raw<{ rows: Array<{ line: string }> }>(sql)).rows).map((row) => row.line).sort();
  return {
    columns: await lines(
      "select table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') as line from information_schema.columns where table_schema = 'public'",
    ),
    constraints: await lines("select conrelid::regclass || ' ' || pg_get_constraintdef(oid) as line from pg_constraint where connamespace = 'public'::regnamespace"),
    indexes: await lines("select indexdef as line from pg_indexes where schemaname = 'public'"),
    policies: await lines("select tablename || ' ' || policyname || ' ' || coalesce(qual, '') || ' ' || coalesce(with_check, '') as line from pg_policies where schemaname = 'public'"),
    triggers: await lines("select tgrelid::regclass || ' ' || tgname as line from pg_trigger where not tgisinternal"),
  };
}

describe('migrations across upgrades', () => {
  const databases: string[] = [];
  afterAll(async () => {
    await Promise.all(databases.map((url) => dropDatabase(url)));
  });

  it('when two migrators start at once on a new database, then both succeed and the migrations are applied exactly once', async () => {
    const url = await freshDatabase();
    databases.push(url);
    const all = readdirSync(MIGRATIONS_DIR).filter((file) => file.endsWith('.js')).sort();
    const [first, second] = await Promise.all([migrateDatabase(url), migrateDatabase(url)]);
    // One applied everything; the other waited on the lock, then found nothing left to do.
    expect([first, second].map((applied) => applied.length).sort((a, b) => a - b)).toEqual([0, all.length]);
    const knex = createAdminKnex(url);
    try {
      const { rows } = await knex.raw<{ rows: Array<{ name: string; n: number }> }>('select name, count(*)::int as n from knex_migrations group by name');
      expect(rows).toHaveLength(all.length);
      expect(rows.every((row) => row.n === 1)).toBe(true);
      // The lock went with the migrators (a bigint key shows as objid with objsubid 1).
      const held = await knex.raw<{ rows: unknown[] }>(
        "select 1 from pg_locks l join pg_database d on d.oid = l.database where d.datname = current_database() and l.locktype = 'advisory' and l.objid = ? and l.objsubid = 1",
        [MIGRATION_LOCK_KEY],
      );
      expect(held.rows).toHaveLength(0);
    } finally {
      await knex.destroy();
    }
  });

  it("when the last release's migrations are rolled back, then the schema is the previous release's, and they apply again", async () => {
    const url = await freshDatabase();
    databases.push(url);
    const all = readdirSync(MIGRATIONS_DIR).filter((file) => file.endsWith('.js')).sort();
    // The last release: the newest day's migrations; the release before: everything older.
    const lastDay = all[all.length - 1]!.slice(0, 8);
    const previous = all.filter((file) => !file.startsWith(lastDay));
    const released = all.filter((file) => file.startsWith(lastDay));
    const knex = createAdminKnex(url);
    try {
      await knex.migrate.latest({
        migrationSource: {
          getMigrations: async () => previous,
          getMigrationName: (file: string) => file,
          // Migrations are CommonJS files, loaded as knex's own directory source loads them.
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          getMigration: async (file: string) => require(path.join(MIGRATIONS_DIR, file)) as Knex.Migration,
        },
      });
      const before = await schemaShape(knex);

      expect(await migrateDatabase(url)).toEqual(released);
      expect(await schemaShape(knex)).not.toEqual(before);

      expect((await rollbackLastBatch(url)).sort()).toEqual(released);
      expect(await schemaShape(knex)).toEqual(before);

      expect(await migrateDatabase(url)).toEqual(released);
    } finally {
      await knex.destroy();
    }
  });
});
