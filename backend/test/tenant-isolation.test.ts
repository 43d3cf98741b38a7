import { Knex } from 'knex';
import { runtimeCredentials } from '../src/infra/db-roles';
import { tenantScope, withTenant } from '../src/infra/tenant-scope';
import { Tenant } from '../src/modules/tenants/tenant.model';
import { User } from '../src/modules/users/user.model';
import { adminUrl, createTenantFixture, ownerKnex, runtimeKnex, TenantFixture } from './support/test-app';

describe('tenant isolation in the database (row-level security)', () => {
  let app: Knex;
  let owner: Knex;
  let a: TenantFixture;
  let b: TenantFixture;

  beforeAll(async () => {
    app = runtimeKnex(1);
    owner = ownerKnex();
    a = await createTenantFixture(app, ['tenant_admin', 'sales_user']);
    b = await createTenantFixture(app, ['tenant_admin']);
    for (const [fixture, count] of [
      [a, 3],
      [b, 2],
    ] as const) {
      await withTenant(app, fixture.tenantId, (trx) =>
        trx('leads').insert(
          Array.from({ length: count }, (_, i) => ({ tenantId: fixture.tenantId, firstName: `Lead ${i}`, lastName: 'X' })),
        ),
      );
    }
  });

  afterAll(async () => {
    await app.destroy();
    await owner.destroy();
  });

  it('when a raw query without WHERE runs as the runtime role in tenant A, then it sees only A rows', async () => {
    const rows = await withTenant(app, a.tenantId, (trx) => trx.raw('select tenant_id from leads'));
    expect(rows.rows).toHaveLength(3);
    expect(new Set(rows.rows.map((row: { tenant_id: string }) => row.tenant_id))).toEqual(new Set([a.tenantId]));

    const users = await withTenant(app, b.tenantId, (trx) => trx.raw('select email from users'));
    expect(users.rows.map((row: { email: string }) => row.email)).toEqual([b.users.tenant_admin!.email]);
  });

  it('when no tenant is set, then every tenant table reads as empty', async () => {
    const tables = await tenantTables(owner);
    expect(tables.length).toBeGreaterThan(20);
    for (const table of tables) {
      const { rows } = await app.raw('select count(*)::int as n from ??', [table]);
      expect({ table, n: rows[0].n }).toEqual({ table, n: 0 });
    }
  });

  it('when a scoped transaction ends, then the same pooled connection no longer carries the tenant', async () => {
    await withTenant(app, a.tenantId, (trx) => trx.raw('select 1'));
    const { rows } = await app.raw("select current_setting('app.tenant_id', true) as setting, count(*)::int as n from leads");
    expect(rows[0].n).toBe(0);
    expect(rows[0].setting ?? '').toBe('');
  });

  it('when tenant A writes a row naming tenant B, then the database refuses it', async () => {
    await expect(
      withTenant(app, a.tenantId, (trx) => trx('leads').insert({ tenantId: b.tenantId, firstName: 'Sneaky', lastName: 'X' })),
    ).rejects.toMatchObject({ code: '42501' });
  });

  it('when tenant A updates or deletes without WHERE, then B rows are untouched', async () => {
    const updated = await withTenant(app, a.tenantId, (trx) => trx('leads').update({ notes: 'touched' }));
    expect(updated).toBe(3);
    const deleted = await withTenant(app, a.tenantId, (trx) =>
      trx('leads').whereNot('notes', 'touched').orWhereNull('notes').delete(),
    );
    expect(deleted).toBe(0);
    const untouched = await owner.raw("select count(*)::int as n from leads where tenant_id = ? and notes is null", [b.tenantId]);
    expect(untouched.rows[0].n).toBe(2);
  });

  it('when the app layer queries through a model, then it is bound to the scope and filtered by tenant', async () => {
    const emails = await withTenant(app, a.tenantId, async () => (await User.query().orderBy('email')).map((u) => u.email));
    expect(emails).toEqual([a.users.sales_user!.email, a.users.tenant_admin!.email].sort());
    const tenant = await withTenant(app, a.tenantId, async () => Tenant.query().findById(b.tenantId));
    expect(tenant).toBeUndefined();
    expect(() => User.query()).toThrow(/outside a tenant scope/);
  });

  it('when a model query builds SQL, then it carries the tenant filter itself (not only RLS)', async () => {
    const sql = await withTenant(app, a.tenantId, async () => User.query().where('email', 'x').toKnexQuery().toSQL().sql);
    expect(sql).toMatch(/"users"\."tenant_id" = \?/);
    expect(await withTenant(app, a.tenantId, async () => tenantScope().tenantId)).toBe(a.tenantId);
  });

  it('every table with a tenant_id has RLS enabled and forced with a policy on app.tenant_id', async () => {
    const { rows } = await owner.raw(`
      select c.relname, c.relrowsecurity, c.relforcerowsecurity,
             (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies
      from pg_class c
      where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
        and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id')
        and c.relname <> 'platform_audit_logs'`);
    expect(rows.length).toBeGreaterThan(20);
    for (const row of rows) {
      expect(row).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true });
      expect(row.policies).toBeGreaterThanOrEqual(1);
    }
  });

  it('when migrations ran as a superuser, then the full-text match is leakproof, so RLS lets search use its index', async () => {
    const { rows } = await owner.raw("select proleakproof from pg_proc where oid = 'pg_catalog.ts_match_vq(tsvector, tsquery)'::regprocedure");
    expect(rows).toEqual([{ proleakproof: true }]);
  });

  it('the runtime role is not a superuser, cannot bypass RLS and owns nothing', async () => {
    const { user } = runtimeCredentials(adminUrl());
    const role = await owner.raw('select rolsuper, rolbypassrls, rolcreaterole, rolcreatedb from pg_roles where rolname = ?', [user]);
    expect(role.rows).toEqual([{ rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false }]);
    const owned = await owner.raw(
      "select count(*)::int as n from pg_class where relowner = (select oid from pg_roles where rolname = ?)",
      [user],
    );
    expect(owned.rows[0].n).toBe(0);
    await expect(app.raw('create table intruder (id int)')).rejects.toMatchObject({ code: '42501' });
  });
});

async function tenantTables(owner: Knex): Promise<string[]> {
  const { rows } = await owner.raw(`
    select distinct c.relname from pg_class c join pg_attribute a on a.attrelid = c.oid
    where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and a.attname in ('tenant_id')
      and c.relname <> 'platform_audit_logs'
    union select 'tenants'`);
  return rows.map((row: { relname: string }) => row.relname).sort();
}
