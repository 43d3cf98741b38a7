import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Knex } from 'knex';
import request from 'supertest';
import { eventually } from './support/eventually';
import { TestJobRunner } from './support/jobs';
import { withTenant } from '../src/infra/tenant-scope';
import { RouteDefinition } from '../src/http/route';
import { addMember, addRole, bearer, login, PASSWORD, registerTenant, Registered } from './support/api-fixtures';
import { arbitraryFromSchema, InputSources } from './support/joi-arbitrary';
import { isTenantRoute, paramsOf, readingStreamsBriefly, routeName, servedRoutes, urlOf } from './support/route-catalogue';
import { clusterSlowdown } from './support/test-database';
import { buildTestApp, ownerKnex, runtimeKnex, TestApp } from './support/test-app';

/**
 * Property-based cross-tenant sweep. Tenant A (the victim) holds one of everything; tenant B (the
 * prober) calls every tenant route of the declarations, as every role and as an API key, with A's ids
 * in paths, bodies and filters, A's cursors and A's distinctive words in searches. Public routes (no
 * caller, no tenant) and platform routes (an admin token, cross-tenant by design) are not swept here:
 * owasp-top10.test.ts covers them.
 */
const PERSONAS = ['tenant_admin', 'manager', 'sales_user', 'support_user', 'read_only', 'api_key'] as const;
type Persona = (typeof PERSONAS)[number];
/** Runs per route; SWEEP_RUNS=50 sweeps harder (outside CI). */
const RUNS = Number(process.env.SWEEP_RUNS ?? 8);
const RESOURCES = ['leads', 'contacts', 'accounts', 'deals', 'tasks', 'activities', 'tickets'];

interface Probe {
  persona: Persona;
  params: Record<string, string>;
  query: unknown;
  body: unknown;
  claimTenantA: boolean;
}

describe('cross-tenant property sweep over every declared route', () => {
  let t: TestApp;
  let owner: Knex;
  let a: Registered;
  let b: Registered;
  const marker = `Zq${randomUUID().slice(0, 8)}Victim`;
  /** Every id of every row of tenant A, by table, and A's secrets (tokens, key, marker, emails). */
  const aIdsByTable = new Map<string, string[]>();
  let aSecrets: string[] = [];
  const aCursors: string[] = [];
  const bAuth = new Map<Persona, Record<string, string>>();
  const bEmails = new Map<Persona, string>();
  const bOwnIds: string[] = [];
  /** A's ids B itself put in a request path: B's own audit trail records its refused attempts. */
  const sentByB = new Set<string>();
  let snapshotBefore: Record<string, string>;

  // Seeds every table of two tenants through the API: minutes on a busy 2-core machine, not seconds.
  beforeAll(async () => {
    t = buildTestApp();
    routes = servedRoutes(t);
    owner = ownerKnex();
    a = await registerTenant(t.app, { plan: 'enterprise' });
    b = await registerTenant(t.app, { plan: 'enterprise' });
    aSecrets = await seedVictim(t, a, marker);
    // A role that can manage users: a security event of each tenant (security_events).
    await addRole(t.app, a, ['leads:read', 'users:manage']);
    for (const resource of RESOURCES) {
      const page = await request(t.app).get(`/api/v1/${resource}?limit=1`).set(a.auth);
      if (page.body.pagination?.nextCursor) aCursors.push(page.body.pagination.nextCursor);
    }
    const audit = await request(t.app).get('/api/v1/audit-logs?limit=1').set(a.auth);
    if (audit.body.pagination?.nextCursor) aCursors.push(audit.body.pagination.nextCursor);
    expect(aCursors.length).toBeGreaterThanOrEqual(RESOURCES.length);
    for (const table of await tenantTables(owner)) {
      const ids = await withTenant(owner, a.tenantId, async (trx) => {
        const hasId = await trx.schema.hasColumn(table, 'id');
        return hasId ? (await trx(table).where({ [table === 'tenants' ? 'id' : 'tenant_id']: a.tenantId }).pluck('id')).map(String) : [];
      });
      aIdsByTable.set(table, ids);
    }

    bAuth.set('tenant_admin', b.auth);
    bEmails.set('tenant_admin', b.email);
    for (const role of ['manager', 'sales_user', 'support_user', 'read_only'] as const) {
      const member = await addMember(t.app, b, role);
      bAuth.set(role, member.auth);
      bEmails.set(role, member.email);
      bOwnIds.push(member.id);
    }
    await seedVictim(t, b, `Own${randomUUID().slice(0, 8)}`);
    const signedOut = await login(t.app, { email: b.email, password: b.password });
    expect((await request(t.app).post('/api/v1/auth/logout').set(bearer(signedOut.body.data.tokens.accessToken))).status).toBe(204);
    const key = await request(t.app).post('/api/v1/api-keys').set(b.auth).send({ name: 'Prober', role: 'manager' });
    expect(key.status).toBe(201);
    bAuth.set('api_key', bearer(key.body.data.key));
    await addRole(t.app, b, ['leads:read', 'users:manage']);
    for (const resource of ['accounts', 'leads', 'tasks']) {
      const own = await request(t.app).post(`/api/v1/${resource}`).set(b.auth).send(resource === 'tasks' ? { title: 'Own task' } : resource === 'accounts' ? { name: 'Own account' } : { lastName: 'Own' });
      bOwnIds.push(own.body.data.id);
    }
    // B's own support ticket and a message on it: the database-layer probe needs rows of B to move.
    const ticket = await request(t.app).post('/api/v1/support/tickets').set(b.auth).send({ subject: 'Own ticket', description: 'B asks the platform.' });
    expect(ticket.status).toBe(201);
    expect((await request(t.app).post(`/api/v1/support/tickets/${ticket.body.data.id}/messages`).set(b.auth).send({ body: 'More detail.' })).status).toBe(201);
    // A billing history row each (written by Stripe's webhooks in life; seeded here, since no Stripe runs in this file).
    await owner('billing_status_changes').insert(
      [a, b].map((tenant) => ({ tenant_id: tenant.tenantId, plan_before: 'pro', plan_after: 'pro', status_before: 'trialing', status_after: 'active', cause: 'seeded' })),
    );
    snapshotBefore = await tenantSnapshot(owner, a.tenantId);
  }, 180_000);
  afterAll(async () => {
    await t?.close();
    await owner?.destroy();
  });

  const aIds = () => [...new Set([...aIdsByTable.values()].flat().concat(a.tenantId))];
  const aIdsFor = (route: RouteDefinition): string[] => {
    const table = route.path.split('/')[1]!.replace(/-/g, '_');
    const named = aIdsByTable.get(table) ?? [];
    return named.length ? named : aIds();
  };

  /** The request B sends: a persona, A's ids (or unknown ones) in the path, schema-derived query and body. */
  const probeFor = (route: RouteDefinition, persona: fc.Arbitrary<Persona>): fc.Arbitrary<Probe> => {
    const querySources: InputSources = { ids: [...aIds(), ...bOwnIds], words: [marker, ...aSecrets.slice(0, 3), 'own'], cursors: aCursors };
    const bodySources: InputSources = { ids: [...aIds(), ...bOwnIds], words: ['Probe', 'own words', 'x'], cursors: aCursors };
    const params = fc.record(
      Object.fromEntries(paramsOf(route).map((name) => [name, fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...aIdsFor(route)) }, { weight: 1, arbitrary: fc.constantFrom(...aIds()) })])),
    );
    // Half the time no query at all, so that the plain list is reached as often as its filtered forms.
    const query = route.schema?.query ? fc.oneof(fc.constant({}), arbitraryFromSchema(route.schema.query, querySources)) : fc.constant({});
    const body = bodyArbitrary(route, bodySources);
    return fc.record({ persona, params, query, body, claimTenantA: fc.integer({ min: 0, max: 7 }).map((n) => n === 0) });
  };

  const bodyArbitrary = (route: RouteDefinition, sources: InputSources): fc.Arbitrary<unknown> => {
    if (route.bulkBody) {
      const create = routes.find((candidate) => candidate.method === 'post' && candidate.path === route.path.replace('/import/bulk', ''));
      return fc.array(arbitraryFromSchema(create!.schema!.body!, sources), { minLength: 1, maxLength: 3 });
    }
    return route.schema?.body ? arbitraryFromSchema(route.schema.body, sources) : fc.constant(undefined);
  };

  const send = async (route: RouteDefinition, probe: Probe, params: Record<string, string>): Promise<request.Response> => {
    let auth = bAuth.get(probe.persona)!;
    // Signing out ends the session: a fresh one of the same persona is spent on it.
    if (route.path === '/auth/logout' && probe.persona !== 'api_key') {
      const fresh = await login(t.app, { email: bEmails.get(probe.persona)!, password: PASSWORD });
      auth = bearer(fresh.body.data.tokens.accessToken);
    }
    const req = readingStreamsBriefly(request(t.app)[route.method](urlOf(route, params)).set(auth), route);
    if (probe.query && typeof probe.query === 'object') req.query(probe.query as Record<string, string>);
    if (probe.claimTenantA) req.set('X-Tenant-ID', a.tenantId);
    return route.method === 'get' || route.method === 'delete' ? req : req.send(probe.body as object);
  };

  const leaksIn = (route: RouteDefinition, res: request.Response, sent: string): string[] => {
    const text = `${JSON.stringify(res.body)}${res.text ?? ''}${JSON.stringify(res.headers)}`;
    const audit = route.path.startsWith('/audit-logs');
    // A value B wrote into this very request may come back as an echo (the email a subject report is for).
    return [...aIds(), ...aSecrets].filter((secret) => text.includes(secret) && !sent.includes(secret) && !(audit && sentByB.has(secret)));
  };

  let routes: RouteDefinition[] = [];
  const swept = () => routes.filter(isTenantRoute);

  it('covers every tenant route of the declarations, skipping only public and platform routes', () => {
    const skipped = routes.filter((route) => !isTenantRoute(route));
    expect(skipped.every((route) => route.permission === 'public' || route.permission.startsWith('platform:'))).toBe(true);
    expect(swept().length).toBeGreaterThan(80);
  });

  it("when B probes every route as every role with A's ids, cursors and words, then nothing of A shows, foreign ids answer like unknown ones, and nothing fails", async () => {
    const problems: string[] = [];
    // Reads before writes, so that the reads see B's refused writes in its audit log only afterwards.
    const ordered = [...swept()].sort((x, y) => Number(x.method !== 'get') - Number(y.method !== 'get'));
    for (const route of ordered) {
      const name = routeName(route);
      await fc.assert(
        fc.asyncProperty(probeFor(route, fc.constantFrom(...PERSONAS)), async (probe) => {
          const res = await send(route, probe, probe.params);
          Object.values(probe.params).forEach((id) => sentByB.add(id));
          const where = `${name} as ${probe.persona} -> ${res.status} ${res.body?.error?.code ?? ''}`;
          if (res.status >= 500) problems.push(`${where}: server error`);
          for (const leak of leaksIn(route, res, JSON.stringify([probe.query, probe.body]))) problems.push(`${where}: shows A's ${leak}`);
          // Naming tenant A is refused once the caller is read (403); only input refused before that (400) comes first.
          if (probe.claimTenantA && res.status !== 400 && res.body?.error?.code !== 'TENANT_MISMATCH') problems.push(`${where}: naming tenant A must be 403 TENANT_MISMATCH`);
          const foreign = paramsOf(route).length > 0;
          if (foreign && res.status < 300) problems.push(`${where}: a foreign id was served`);
          if (foreign && res.status === 403 && res.body?.error?.code !== 'FORBIDDEN' && res.body?.error?.code !== 'TENANT_MISMATCH') problems.push(`${where}: a foreign id answered 403 ${res.body?.error?.code}`);
          const namesA = (value: unknown) => aIds().some((id) => JSON.stringify(value ?? null).includes(id));
          const bodyNamesA = route.method !== 'get' && !route.bulkBody && namesA(probe.body);
          // A batch answers 200 with a status per operation: what counts is whether an operation naming A's record succeeded.
          const succeeded = route.path.endsWith('/batch') ? batchOperationNamingASucceeded(probe.body, res.body, namesA) : res.status < 300;
          if (bodyNamesA && succeeded && route.path !== '/auth/logout') problems.push(`${where}: a write naming A's record succeeded`);
          if (foreign) {
            // The same request with ids nobody has: the answer must not tell the two apart.
            const unknown = Object.fromEntries(Object.keys(probe.params).map((key) => [key, randomUUID()]));
            const twin = await send(route, probe, unknown);
            if (twin.status !== res.status || twin.body?.error?.code !== res.body?.error?.code) {
              problems.push(`${where}: an unknown id answers ${twin.status} ${twin.body?.error?.code}, so A's id is distinguishable`);
            }
            // A query the route refuses whatever the id (another list's cursor) is a 400 before any lookup.
            const queryRefused = res.status === 400 && (res.body?.error?.details ?? []).every((detail: { field?: string }) => String(detail.field).startsWith('query.'));
            if (probe.persona === 'tenant_admin' && !probe.claimTenantA && route.method !== 'post' && route.method !== 'patch' && res.status !== 404 && !queryRefused) {
              problems.push(`${where}: a foreign id must be 404 for a caller allowed to ask`);
            }
          }
        }),
        { numRuns: RUNS },
      );
    }
    expect(problems).toEqual([]);
  }, 15_000 * RUNS * clusterSlowdown());

  it("when the sweep is over, then not one of A's rows changed, and no row of B refers to A's ids", async () => {
    expect(await tenantSnapshot(owner, a.tenantId)).toEqual(snapshotBefore);
    const aIdSet = aIds();
    const references: string[] = [];
    // B's audit trail records B's own refused attempts, with the ids B sent; nothing else of B may name A.
    for (const table of (await tenantTables(owner)).filter((name) => !['audit_logs', 'idempotency_keys'].includes(name))) {
      const column = table === 'tenants' ? 'id' : 'tenant_id';
      const { rows } = await withTenant(owner, b.tenantId, (trx) => trx.raw(`select t::text as row from ?? t where ${column} = ?`, [table, b.tenantId]));
      for (const { row } of rows as Array<{ row: string }>) for (const id of aIdSet) if (row.includes(id)) references.push(`${table}: ${id}`);
    }
    expect(references).toEqual([]);
  });

  describe('the database layer alone (runtime role, row-level security, no application scoping)', () => {
    let app: Knex;
    beforeAll(() => {
      app = runtimeKnex(1);
    });
    afterAll(() => app.destroy());

    it("when plain SQL runs on every tenant table with B's tenant set, then not one row of A is visible, and A's ids are not found", async () => {
      const tables = await tenantTables(owner);
      expect(tables.length).toBeGreaterThan(20);
      const aIdList = aIds();
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...tables), fc.constantFrom('all', 'by-tenant', 'by-id', 'or-true'), async (table, shape) => {
          const rows = await withTenant(app, b.tenantId, async (trx) => {
            const hasId = await trx.schema.hasColumn(table, 'id');
            const column = table === 'tenants' ? 'id' : 'tenant_id';
            const sql = {
              all: `select ${column}::text as owner_id from ??`,
              'by-tenant': `select ${column}::text as owner_id from ?? where ${column} = ?`,
              'by-id': hasId ? `select ${column}::text as owner_id from ?? where id::text = any(?)` : `select ${column}::text as owner_id from ?? where ${column} = ?`,
              'or-true': `select ${column}::text as owner_id from ?? where ${column} = ? or true`,
            }[shape];
            const bindings = shape === 'all' ? [table] : shape === 'by-id' && hasId ? [table, aIdList] : [table, a.tenantId];
            return (await trx.raw(sql, bindings)).rows as Array<{ owner_id: string }>;
          });
          expect({ table, shape, foreign: rows.filter((row) => row.owner_id !== b.tenantId).length }).toEqual({ table, shape, foreign: 0 });
        }),
        { numRuns: tables.length * 3 },
      );
      // Every table was non-empty for A, so "nothing visible" is not "nothing there".
      const counts = await Promise.all(tables.map(async (table) => [table, (await owner.raw(`select count(*)::int as n from ?? where ${table === 'tenants' ? 'id' : 'tenant_id'} = ?`, [table, a.tenantId])).rows[0].n] as const));
      expect(counts.filter(([, n]) => n > 0).length).toBeGreaterThan(tables.length * 0.7);
    });

    it("when B inserts or updates rows carrying A's tenant id, then the database refuses each, and A's rows are untouched", async () => {
      const tables = (await tenantTables(owner)).filter((table) => table !== 'tenants');
      const refused: string[] = [];
      for (const table of tables) {
        const outcome = await withTenant(app, b.tenantId, async (trx) => {
          const [row] = (await trx.raw('select * from ?? limit 1', [table])).rows as Array<Record<string, unknown>>;
          if (!row) return 'no B row';
          const columns = (
            await trx.raw("select column_name, data_type, is_generated, identity_generation from information_schema.columns where table_name = ?", [table])
          ).rows as Array<{ column_name: string; data_type: string; is_generated: string; identity_generation: string | null }>;
          const generated = new Set(columns.filter((column) => column.is_generated === 'ALWAYS' || column.identity_generation === 'ALWAYS').map((column) => column.column_name));
          const json = new Set(columns.filter((column) => column.data_type.startsWith('json')).map((column) => column.column_name));
          const copy = Object.fromEntries(
            Object.entries({ ...row, tenant_id: a.tenantId, ...('id' in row ? { id: randomUUID() } : {}) })
              .filter(([column]) => !generated.has(column))
              .map(([column, value]) => [column, json.has(column) && value !== null ? JSON.stringify(value) : value]),
          );
          const insert = await trx.raw('savepoint probe').then(() =>
            trx(table).insert(copy).then(
              () => 'inserted',
              async (error: { code?: string }) => {
                await trx.raw('rollback to savepoint probe');
                return error.code;
              },
            ),
          );
          const where = 'id' in row ? { id: row.id } : Object.fromEntries(Object.entries(row).filter(([, value]) => value !== null && typeof value !== 'object').slice(0, 3));
          const update = await trx.raw('savepoint probe2').then(() =>
            trx(table)
              .where(where)
              .update({ tenant_id: a.tenantId })
              .then(
                (count: number) => `updated ${count}`,
                async (error: { code?: string }) => {
                  await trx.raw('rollback to savepoint probe2');
                  return error.code;
                },
              ),
          );
          return `${insert}/${update}`;
        });
        refused.push(`${table}: ${outcome}`);
      }
      // 42501: the row-level security policy (or a missing grant) refuses; P0001: an append-only trigger does;
      // 0A000, on a Citus coordinator only: Citus refuses any change of a distribution column before RLS is asked.
      const accepted = refused.filter((line) => /inserted|updated [1-9]/.test(line));
      expect(accepted).toEqual([]);
      const withRows = refused.filter((line) => !line.endsWith('no B row'));
      expect(withRows.length).toBeGreaterThan(tables.length * 0.75);
      const citus = (await owner.raw("select exists (select 1 from pg_extension where extname = 'citus') as on")).rows[0].on;
      const refusal = citus ? /: 42501\/(42501|P0001|0A000)$/ : /: 42501\/(42501|P0001)$/;
      expect(withRows.filter((line) => !refusal.test(line))).toEqual([]);
      expect(await tenantSnapshot(owner, a.tenantId)).toEqual(snapshotBefore);
    });
  });
});

/** One of everything in tenant A, through the API; answers A's secrets (tokens, key, distinctive values). */
async function seedVictim(t: TestApp, a: Registered, marker: string): Promise<string[]> {
  const make = async (path: string, body: unknown) => {
    const res = await request(t.app).post(`/api/v1${path}`).set(a.auth).send(body as object);
    if (res.status !== 201 && res.status !== 200) throw new Error(`seeding ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.data;
  };
  const email = `${marker.toLowerCase()}@victim.example.com`;
  // The tenant's data model first, so the records below carry custom values and a pipeline of its own.
  await make('/custom-fields', { resource: 'deals', key: 'victim_code', label: `${marker} code`, type: 'text', unique: true, searchable: true });
  const pipeline = await make('/pipelines', { name: `${marker} pipeline`, stages: [{ key: 'victim_open', name: `${marker} open`, probability: 40, kind: 'open' }] });
  await make('/views', { resource: 'deals', name: `${marker} view`, filters: { customFields: { victim_code: marker } }, visibility: 'tenant' });
  // Scheduled, so that its run below leaves a row in report_runs (and a mail of it in notifications).
  const report = await make('/reports', {
    name: `${marker} report`,
    definition: { resource: 'deals', filters: { stage: 'proposal' }, groupBy: ['ownerId'] },
    schedule: { cron: '0 7 * * 1', recipients: [a.userId] },
  });
  // Subscriptions first, so the CRM writes below fill the webhook outbox too.
  const webhook = await make('/webhooks', { url: `http://127.0.0.1:9/${marker}`, events: ['lead.*', 'deal.*'] });
  const slackUrl = `http://127.0.0.1:9/slack/${marker}`;
  await make('/integrations', { type: 'slack_notification', name: `${marker} Slack`, config: { webhookUrl: slackUrl, events: ['deal.won'] } });
  const account = await make('/accounts', { name: `${marker} Holdings`, domain: `${marker.toLowerCase()}.example.com` });
  const contact = await make('/contacts', { firstName: marker, lastName: 'Contact', email, accountId: account.id });
  const lead = await make('/leads', { firstName: marker, lastName: 'Lead', company: `${marker} Lead Co`, email: `lead-${email}` });
  await make('/leads', { firstName: marker, lastName: 'Second' });
  await make(`/leads/${lead.id}/convert`, { account: { name: `${marker} Converted` } });
  const deal = await make('/deals', { name: `${marker} Deal`, accountId: account.id, amount: 4242.42, customFields: { victim_code: marker } });
  await make('/deals', { name: `${marker} Piped`, pipelineId: pipeline.id });
  const patched = await request(t.app).patch(`/api/v1/deals/${deal.id}`).set(a.auth).send({ stage: 'proposal' });
  expect(patched.status).toBe(200);
  await make('/tasks', { title: `${marker} task` });
  await make('/activities', { type: 'note', subject: `${marker} note`, relatedType: 'contact', relatedId: contact.id });
  await make('/tickets', { subject: `${marker} ticket`, contactId: contact.id });
  for (const resource of ['accounts', 'contacts', 'deals', 'tasks', 'activities', 'tickets']) {
    const again = await make(`/${resource}`, {
      accounts: { name: `${marker} Second` },
      contacts: { lastName: `${marker} Second` },
      deals: { name: `${marker} Second`, accountId: account.id },
      tasks: { title: `${marker} Second` },
      activities: { type: 'call', subject: `${marker} Second` },
      tickets: { subject: `${marker} Second` },
    }[resource]);
    expect(again.id).toBeDefined();
  }
  await make('/roles', { name: `${marker} Role`, permissions: ['leads:read'] });
  const member = await make('/users', { email: `member-${email}`, firstName: marker, lastName: 'Member', role: 'manager', password: PASSWORD });
  const key = await make('/api-keys', { name: `${marker} Key`, role: 'read_only' });
  // A notification of the member (user_notifications) and a merge (merges, a merged account's mergedInto).
  await make('/tasks', { title: `${marker} assigned`, assigneeId: member.id });
  const twin = await make('/accounts', { name: `${marker} Holdings Twin` });
  await make(`/accounts/${account.id}/merge`, { duplicateIds: [twin.id] });
  const imported = await request(t.app).post('/api/v1/leads/import/bulk').set(a.auth).send([{ lastName: `${marker} Imported` }]);
  expect(imported.status).toBeLessThan(300);
  const idempotent = await request(t.app).post('/api/v1/tasks').set(a.auth).set('Idempotency-Key', `victim-${marker}`).send({ title: `${marker} idem` });
  expect(idempotent.status).toBe(201);
  const memberLogin = await login(t.app, { email: member.email, password: PASSWORD });
  expect(memberLogin.status).toBe(200);
  const forgot = await request(t.app).post('/api/v1/auth/forgot-password').set('X-Tenant-ID', a.tenantId).send({ email: member.email });
  expect(forgot.status).toBe(202);
  expect((await request(t.app).post('/api/v1/organization/export-data').set(a.auth).send({})).status).toBe(202);
  // Parts ordering, from the built-in supplier simulator (an integration without baseUrl): an order and the inventory cache.
  const supplierKey = `cap-${marker}-key-0123456789`;
  await make('/integrations', { type: 'capricorn_edi', name: `${marker} Capricorn`, config: { apiKey: supplierKey, customerId: marker } });
  await make('/parts/orders', { items: [{ partNumber: 'RYCO-Z411', quantity: 1 }], dealId: deal.id });
  expect((await request(t.app).post('/api/v1/parts/inventory/sync').set(a.auth).send({})).status).toBe(202);
  const jobs = new TestJobRunner(t);
  // The reset code and its mail are made after the 202 (its timing tells nothing): wait for them first.
  await eventually(async () => (await jobs.owner('password_reset_tokens').where({ tenant_id: a.tenantId })).length > 0, 15_000, 'the reset code');
  await jobs.enqueueScheduled('reports.scheduled', new Date(report.nextRunAt as string));
  await jobs.runUntilIdle(a.tenantId);
  await jobs.close();
  return [marker, marker.toLowerCase(), a.email, a.accessToken, a.refreshToken, key.key, member.email, memberLogin.body.data.tokens.refreshToken, webhook.secret, slackUrl, supplierKey];
}

async function tenantTables(owner: Knex): Promise<string[]> {
  const { rows } = await owner.raw(`
    select distinct c.relname from pg_class c join pg_attribute a on a.attrelid = c.oid
    where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and a.attname = 'tenant_id'
      and c.relname <> 'platform_audit_logs'
    union select 'tenants'`);
  return rows.map((row: { relname: string }) => row.relname).sort();
}

/** A digest of every row tenant A has in every table, as the owner sees them. */
/**
 * State the job engine moves on by itself (a delivery attempted, a mail sent, an export written): any test
 * file's job runner may run A's jobs during the sweep, so these rows change without B's doing.
 */
const JOB_OWNED = new Set(['notifications', 'webhook_deliveries', 'webhook_delivery_attempts', 'data_exports', 'data_export_chunks', 'usage_daily']);

async function tenantSnapshot(owner: Knex, tenantId: string): Promise<Record<string, string>> {
  const snapshot: Record<string, string> = {};
  for (const table of (await tenantTables(owner)).filter((name) => !JOB_OWNED.has(name))) {
    const column = table === 'tenants' ? 'id' : 'tenant_id';
    const { rows } = await withTenant(owner, tenantId, (trx) =>
      trx.raw(`select count(*)::int as n, md5(coalesce(string_agg(t::text, ',' order by t::text), '')) as digest from ?? t where ${column} = ?`, [table, tenantId]),
    );
    snapshot[table] = `${rows[0].n}:${rows[0].digest}`;
  }
  return snapshot;
}

/** Whether an operation of a batch that names one of A's records has a success status in the answer. */
function batchOperationNamingASucceeded(body: unknown, answer: { data?: Array<{ index: number; status: number }> } | undefined, namesA: (value: unknown) => boolean): boolean {
  const operations = (body as { operations?: unknown[] } | undefined)?.operations ?? [];
  return (answer?.data ?? []).some((item) => item.status < 300 && namesA(operations[item.index]));
}
