import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import request from 'supertest';
import { withTenant } from '../../src/infra/tenant-scope';
import { Role } from '../../src/modules/roles/role.model';
import { provisionTenant } from '../../src/modules/tenants/tenants.service';
import { createUser } from '../../src/modules/users/users.service';
import { bearer, login } from './api-fixtures';
import { buildTestApp, ownerKnex, TestApp } from './test-app';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export type CrmResource = 'leads' | 'contacts' | 'accounts' | 'deals' | 'tasks' | 'activities' | 'tickets';

/**
 * Who acts in a CRM tenant. `sales` and `teammate` share a team, `outsider` is a sales user in another
 * team; `reader` holds a custom role with every CRM `:read` permission and nothing else.
 */
export type Persona = 'admin' | 'manager' | 'sales' | 'teammate' | 'outsider' | 'support' | 'readOnly' | 'reader';
const ROLE_OF: Record<Persona, string> = {
  admin: 'tenant_admin',
  manager: 'manager',
  sales: 'sales_user',
  teammate: 'sales_user',
  outsider: 'sales_user',
  support: 'support_user',
  readOnly: 'read_only',
  reader: 'read_only',
};
const ALL_PERSONAS = Object.keys(ROLE_OF) as Persona[];

/** The contract's role matrix, per resource: r read, w write, d delete. */
export const ROLE_MATRIX: Record<CrmResource, Record<'manager' | 'sales' | 'support' | 'readOnly' | 'reader', string>> = {
  leads: { manager: 'rwd', sales: 'rwd', support: '', readOnly: 'r', reader: 'r' },
  contacts: { manager: 'rwd', sales: 'rwd', support: 'r', readOnly: 'r', reader: 'r' },
  accounts: { manager: 'rwd', sales: 'rwd', support: 'r', readOnly: 'r', reader: 'r' },
  deals: { manager: 'rwd', sales: 'rwd', support: '', readOnly: 'r', reader: 'r' },
  tasks: { manager: 'rwd', sales: 'rwd', support: '', readOnly: '', reader: 'r' },
  activities: { manager: 'rwd', sales: 'rwd', support: 'rw', readOnly: '', reader: 'r' },
  tickets: { manager: 'rwd', sales: '', support: 'rw', readOnly: '', reader: 'r' },
};
const CRM_RESOURCES = Object.keys(ROLE_MATRIX) as CrmResource[];

export interface CrmUser {
  id: string;
  email: string;
  auth: { Authorization: string };
}

export interface CrmTenant {
  tenantId: string;
  teamId: string;
  users: Record<Persona, CrmUser>;
}

const PASSWORD = 'Crm-Fixture-Passw0rd';

/**
 * A tenant on `plan` with one signed-in user per persona, made through the service layer with a cheap
 * bcrypt cost (creation is not what these tests are about), then signed in through the API.
 */
export async function createCrmTenant(t: TestApp, personas: Persona[] = ALL_PERSONAS, plan = 'pro'): Promise<CrmTenant> {
  const tenantId = randomUUID();
  const subdomain = `crm-${tenantId.slice(0, 8)}`;
  const made = await withTenant(t.deps.knex, tenantId, async (trx) => {
    await provisionTenant({ name: `CRM ${subdomain}`, subdomain, plan });
    const [team, otherTeam] = (await trx('teams')
      .insert([{ tenantId, name: 'Sales East' }, { tenantId, name: 'Sales West' }])
      .returning('id')) as Array<{ id: string }>;
    const reader = await Role.query().insert({
      name: 'CRM Reader',
      isSystem: false,
      permissions: CRM_RESOURCES.map((resource) => `${resource}:read`),
    });
    const users: Array<[Persona, string, string]> = [];
    for (const persona of personas) {
      const email = `${persona.toLowerCase()}.${subdomain}@example.com`;
      const user = await createUser({ email, password: PASSWORD, firstName: persona, lastName: 'Fixture', roleKey: ROLE_OF[persona] }, 4);
      const teamId = persona === 'sales' || persona === 'teammate' ? team!.id : persona === 'outsider' ? otherTeam!.id : null;
      await trx('users')
        .where({ id: user.id })
        .update({ teamId, ...(persona === 'reader' ? { roleId: reader.id } : {}) });
      users.push([persona, user.id, email]);
    }
    return { teamId: team!.id, users };
  });
  const users = {} as Record<Persona, CrmUser>;
  for (const [persona, id, email] of made.users) {
    const res = await login(t.app, { email, password: PASSWORD });
    if (res.status !== 200) throw new Error(`login of ${persona} failed: ${res.status} ${JSON.stringify(res.body)}`);
    users[persona] = { id, email, auth: bearer(res.body.data.tokens.accessToken) };
  }
  return { tenantId, teamId: made.teamId, users };
}

export interface CrmWorld {
  t: TestApp;
  /** The schema owner; tenant tables need `inTenant` (row-level security is forced). */
  owner: Knex;
  /** Tenant A, with every persona. */
  a: CrmTenant;
  /** Tenant B, the foreign one: its admin only. */
  b: CrmTenant;
  api(): ReturnType<typeof request>;
}

/** The app, the owner connection and two tenants, set up once per test file. */
export function crmWorld(): CrmWorld {
  const world = { api: () => request(world.t.app) } as CrmWorld;
  beforeAll(async () => {
    world.t = buildTestApp();
    world.owner = ownerKnex();
    world.a = await createCrmTenant(world.t);
    world.b = await createCrmTenant(world.t, ['admin']);
  });
  afterAll(async () => {
    await world.t?.close();
    await world.owner?.destroy();
  });
  return world;
}

/**
 * The owner connection bound to a tenant, so that forced row-level security lets it through. A superuser
 * owner bypasses row-level security altogether, so queries here name the tenant as well.
 */
export const inTenant = <T>(owner: Knex, tenantId: string, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> =>
  withTenant(owner, tenantId, fn);

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const toColumns = (row: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(row).map(([key, value]) => [snake(key), value !== null && typeof value === 'object' && !(value instanceof Date) ? JSON.stringify(value) : value]));

/** Inserts rows (camelCase keys) straight into a tenant table, in bulk; answers their ids in order. */
export async function insertRows(owner: Knex, tenantId: string, table: string, rows: Array<Record<string, unknown>>): Promise<string[]> {
  const ids: string[] = [];
  await inTenant(owner, tenantId, async (trx) => {
    for (let start = 0; start < rows.length; start += 500) {
      const chunk = rows.slice(start, start + 500).map((row) => ({ tenant_id: tenantId, ...toColumns(row) }));
      ids.push(...((await trx(snake(table)).insert(chunk).returning('id')) as Array<{ id: string }>).map((row) => row.id));
    }
  });
  return ids;
}

/** One row of a tenant table as stored, camelCase keys, or undefined. */
export async function storedRow(owner: Knex, tenantId: string, table: string, id: string): Promise<Record<string, unknown> | undefined> {
  const row = await inTenant(owner, tenantId, (trx) => trx(snake(table)).where({ tenant_id: tenantId, id }).first());
  return row && Object.fromEntries(Object.entries(row as Record<string, unknown>).map(([key, value]) => [camel(key), value]));
}

/** How many rows a tenant table holds (soft-deleted ones included). */
export async function countRows(owner: Knex, tenantId: string, table: string): Promise<number> {
  const [row] = await inTenant(owner, tenantId, (trx) => trx(snake(table)).where({ tenant_id: tenantId }).count<Array<{ count: string }>>({ count: '*' }));
  return Number(row!.count);
}

/** The ids of a tenant's live rows in the order `orderBy` (SQL) gives: the oracle lists are compared with. */
export async function orderedIds(
  owner: Knex,
  tenantId: string,
  table: string,
  orderBy: string,
  filter: (query: Knex.QueryBuilder) => void = () => undefined,
): Promise<string[]> {
  const rows = await inTenant(owner, tenantId, (trx) => trx(snake(table)).where({ tenant_id: tenantId }).whereNull('deleted_at').where(filter).orderByRaw(orderBy).select('id'));
  return rows.map((row: { id: string }) => row.id);
}

/** The fields a 400 names, deduplicated and sorted. */
export const errorFields = (res: request.Response): string[] =>
  [...new Set<string>((res.body.error?.details ?? []).map((detail: { field: string }) => detail.field))].sort();

/** The API's shape of a record: camelCase keys, UUID id, ISO timestamps, nothing internal. */
export function expectApiRecord(record: Record<string, unknown>): void {
  expect(record.id).toMatch(UUID);
  expect(record.createdAt).toMatch(ISO_TIMESTAMP);
  expect(record.updatedAt).toMatch(ISO_TIMESTAMP);
  expect(Object.keys(record).filter((key) => !/^[a-z][A-Za-z0-9]*$/.test(key))).toEqual([]);
  expect(record).not.toHaveProperty('tenantId');
  expect(record).not.toHaveProperty('search');
}

export interface Walk {
  ids: string[];
  pages: number;
}

/**
 * Follows nextCursor from the first page to the last, checking each page's pagination block;
 * `betweenPages` runs after every page but the last (to insert rows meanwhile).
 */
export async function walkList(
  world: CrmWorld,
  auth: { Authorization: string },
  resource: CrmResource,
  query: Record<string, string | number>,
  betweenPages?: (page: number) => Promise<void>,
): Promise<Walk> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res: request.Response = await world
      .api()
      .get(`/api/v1/${resource}`)
      .query({ ...query, ...(cursor ? { cursor } : {}) })
      .set(auth);
    expect(res.status).toBe(200);
    const limit = Number(query.limit ?? 50);
    expect(res.body.pagination.limit).toBe(limit);
    expect(res.body.data.length).toBeLessThanOrEqual(limit);
    expect(res.body.pagination.hasMore).toBe(res.body.pagination.nextCursor !== null);
    if (res.body.pagination.hasMore) expect(res.body.data).toHaveLength(limit);
    ids.push(...res.body.data.map((record: { id: string }) => record.id));
    cursor = res.body.pagination.nextCursor;
    pages += 1;
    if (cursor && betweenPages) await betweenPages(pages);
  } while (cursor && pages < 100);
  return { ids, pages };
}

/** An audit entry appended (unsealed) as the audit writer would, so timelines can be checked on their own. */
export async function insertAuditEntry(owner: Knex, tenantId: string, entry: { resourceType: string; resourceId: string; action: string; occurredAt: Date; actorId: string }) {
  const [row] = await inTenant(owner, tenantId, (trx) =>
    trx('audit_logs')
      .insert({
        tenant_id: tenantId,
        occurred_at: entry.occurredAt,
        actor_type: 'user',
        actor_id: entry.actorId,
        action: entry.action,
        resource_type: entry.resourceType,
        resource_id: entry.resourceId,
      })
      .returning('id'),
  );
  return (row as { id: string }).id;
}
