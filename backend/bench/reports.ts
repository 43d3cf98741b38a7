/**
 * `npm run bench:reports`: seeds one tenant with 1,000,000 leads, 200,000 deals, 200,000 activities and
 * 50,000 tickets, then times every built-in report and a two-level builder report through the API (run as
 * a child process, compiled), and shows each one's plan (EXPLAIN ANALYZE of the SQL the report runs).
 * Writes the figures and plans into docs/PERFORMANCE.md. Not a test: nothing here fails a build.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Knex } from 'knex';
import { createAppKnex } from '../src/infra/db';
import { runtimeCredentials } from '../src/infra/db-roles';
import { withTenant } from '../src/infra/tenant-scope';
import { PROJECT_ROOT } from '../src/lib/project-root';
import { TenantPrincipal } from '../src/modules/auth/principal';
import { BUILTIN_REPORTS, BuiltinReportName } from '../src/modules/reports/builtin-reports';
import { compactLeadRollups } from '../src/modules/reports/lead-rollup-compaction.job';
import { ReportDefinition, runReport } from '../src/modules/reports/report-builder';
import { createMigratedDatabase, dropDatabase, testServer, withClient } from '../test/support/test-database';
import { apiEnvironment, register, seedLeads } from './fixtures';
import { freePort, send, ServerProcess, startServer } from './processes';
import { loadNow, writeDoc } from './report';

const LEADS = Number(process.env.BENCH_LEADS ?? 1_000_000);
const DEALS = Number(process.env.BENCH_DEALS ?? 200_000);
const ACTIVITIES = Number(process.env.BENCH_ACTIVITIES ?? 200_000);
const TICKETS = Number(process.env.BENCH_TICKETS ?? 50_000);
const RUNS = 5;
const TARGET_MS = 500;
const RANGE = 'from=2025-12-01&to=2026-11-30';

/** Deals, activities and tickets over the last two years; one lead in ten converted to a contact and a deal. */
async function seedRest(adminUrl: string, tenantId: string, userId: string): Promise<void> {
  await withClient(adminUrl, async (client) => {
    await client.query('begin');
    await client.query("select set_config('app.tenant_id', $1, true)", [tenantId]);
    await client.query(
      `insert into deals (tenant_id, name, amount, stage, probability, owner_id, expected_close_date, created_at, closed_at, created_by, updated_by)
       select $1, 'Deal ' || i, (i % 1000) * 100,
              (array['qualification', 'needs_analysis', 'proposal', 'negotiation', 'closed_won', 'closed_lost'])[1 + i % 6],
              case when i % 3 = 0 then null else i % 101 end, $2, current_date + i % 180,
              now() - make_interval(days => i % 720),
              case when i % 6 >= 4 then now() - make_interval(days => i % 720) + make_interval(days => i % 60) end, $2, $2
       from generate_series(1, $3::int) as i`,
      [tenantId, userId, DEALS],
    );
    await client.query(
      `insert into activities (tenant_id, type, subject, owner_id, occurred_at, created_by, updated_by)
       select $1, (array['call', 'email', 'meeting', 'note'])[1 + i % 4], 'Activity ' || i, $2, now() - make_interval(mins => i * 5), $2, $2
       from generate_series(1, $3::int) as i`,
      [tenantId, userId, ACTIVITIES],
    );
    await client.query(
      `insert into tickets (tenant_id, number, subject, priority, assignee_id, created_at, first_response_at, resolved_at, created_by, updated_by)
       select $1, i, 'Ticket ' || i, (array['low', 'medium', 'high', 'urgent'])[1 + i % 4], $2, now() - make_interval(hours => i),
              now() - make_interval(hours => i) + make_interval(mins => i % 600),
              case when i % 3 > 0 then now() - make_interval(hours => i) + make_interval(hours => i % 100) end, $2, $2
       from generate_series(1, $3::int) as i`,
      [tenantId, userId, TICKETS],
    );
    const contact = await client.query<{ id: string }>(`insert into contacts (tenant_id, last_name) values ($1, 'Converted') returning id`, [tenantId]);
    const deal = await client.query<{ id: string }>(`select id from deals where tenant_id = $1 and stage = 'closed_won' limit 1`, [tenantId]);
    await client.query(
      `update leads set status = 'converted', converted_contact_id = $2, converted_deal_id = $3, converted_at = created_at + make_interval(hours => score)
       where tenant_id = $1 and score % 10 = 0`,
      [tenantId, contact.rows[0]!.id, deal.rows[0]!.id],
    );
    await client.query('commit');
    for (const table of ['leads', 'deals', 'activities', 'tickets']) await client.query(`vacuum analyze ${table}`);
  });
}

/** The API's answer time of one GET or POST, in ms, checked to be a 200. */
async function timed(url: string, headers: Record<string, string>, body?: unknown): Promise<number> {
  const started = performance.now();
  const answer = await send(url, body === undefined ? { method: 'GET', headers } : { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (answer.status !== 200) throw new Error(`${url}: ${answer.status} ${answer.text.slice(0, 300)}`);
  return performance.now() - started;
}

/** The plans of the statements a report runs, captured from the pool and explained on the same tenant-bound connection. */
async function plansOf(knex: Knex, tenantId: string, run: () => Promise<unknown>): Promise<string[]> {
  const statements: Array<{ sql: string; bindings: readonly unknown[] }> = [];
  const capture = (query: { sql: string; bindings?: readonly unknown[] }) => {
    if (/^\s*(with|select)\b/i.test(query.sql) && !query.sql.includes('set_config')) statements.push({ sql: query.sql, bindings: query.bindings ?? [] });
  };
  knex.on('query', capture);
  await withTenant(knex, tenantId, run);
  knex.off('query', capture);
  const plans: string[] = [];
  for (const statement of statements) {
    await withTenant(knex, tenantId, async (trx) => {
      // The event carries PostgreSQL's numbered placeholders, in order: back to knex's own for raw().
      const sql = statement.sql.replace(/\$\d+/g, '?');
      const { rows } = await trx.raw<{ rows: Array<{ 'QUERY PLAN': string }> }>(`explain (analyze, buffers, costs off) ${sql}`, statement.bindings as Knex.RawBinding[]);
      plans.push(rows.map((row) => row['QUERY PLAN']).join('\n'));
    });
  }
  return plans;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  execFileSync(process.execPath, [path.join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
  const server = await testServer();
  const adminUrl = await createMigratedDatabase(server.serverUrl, 'crm_bench_reports');
  const servers: ServerProcess[] = [];
  const knex = createAppKnex(runtimeCredentials(adminUrl).url, { poolMax: 2, statementTimeoutMs: 60_000, connectTimeoutMs: 5_000 });
  try {
    const port = await freePort();
    const api = await startServer(['--enable-source-maps', 'backend/dist/server.js'], apiEnvironment(adminUrl, port), port, '/ready');
    servers.push(api);
    const owner = await register(api.url, 'enterprise');
    console.log(`seeding ${LEADS.toLocaleString('en-US')} leads, ${DEALS.toLocaleString('en-US')} deals, ${ACTIVITIES.toLocaleString('en-US')} activities, ${TICKETS.toLocaleString('en-US')} tickets...`);
    const started = performance.now();
    await seedLeads(adminUrl, owner.tenantId, owner.userId, LEADS);
    await seedRest(adminUrl, owner.tenantId, owner.userId);
    const seedSeconds = (performance.now() - started) / 1000;
    // The seed's deltas (its inserts, then the conversions' moves) as the compaction job leaves them within 5 minutes.
    const rollupRows = () => withTenant(knex, owner.tenantId, async (trx) => Number((await trx('lead_rollups').count<Array<{ count: string }>>({ count: '*' }))[0]!.count));
    const deltaRows = await rollupRows();
    const compactStarted = performance.now();
    await withTenant(knex, owner.tenantId, (trx) => compactLeadRollups(trx, owner.tenantId));
    const compactSeconds = (performance.now() - compactStarted) / 1000;
    await withClient(adminUrl, (client) => client.query('vacuum analyze lead_rollups'));
    const rollup = `lead_rollups: ${deltaRows.toLocaleString('en-US')} rows after the seed, ${(await rollupRows()).toLocaleString('en-US')} once compacted (${compactSeconds.toFixed(1)} s).`;

    const headers = { authorization: `Bearer ${owner.token}` };
    const twoLevel: ReportDefinition = {
      resource: 'leads',
      filters: {},
      groupBy: ['source', { field: 'createdAt', interval: 'month' }],
      measures: [{ fn: 'count' }, { fn: 'avg', field: 'score' }],
      limit: 1000,
      timeZone: 'UTC',
    };
    const principal = { kind: 'api_key', tenantId: owner.tenantId, apiKeyId: owner.userId, permissions: new Set(['leads:read', 'deals:read', 'activities:read', 'tickets:read']) } as unknown as TenantPrincipal;
    const parameters = { from: '2025-12-01', to: '2026-11-30', timeZone: 'UTC' };
    const cases: Array<{ name: string; time: () => Promise<number>; run: () => Promise<unknown> }> = [
      ...(Object.keys(BUILTIN_REPORTS) as BuiltinReportName[]).map((name) => ({
        name: `GET /reports/${name}${name === 'pipeline' ? '' : `?${RANGE}`}`,
        time: () => timed(`${api.url}/api/v1/reports/${name}${name === 'pipeline' ? '' : `?${RANGE}`}`, headers),
        run: () => BUILTIN_REPORTS[name](principal, name === 'pipeline' ? { timeZone: 'UTC' } : parameters, 60_000),
      })),
      {
        name: 'POST /reports/run (leads by source and month: count, avg score)',
        time: () => timed(`${api.url}/api/v1/reports/run`, headers, twoLevel),
        run: () => runReport(principal, twoLevel, 60_000),
      },
    ];

    const lines = ['| report | median ms | slowest ms | target | load |', '|---|---|---|---|---|'];
    const plans: string[] = [];
    for (const { name, time, run } of cases) {
      console.log(name);
      await time();
      const times: number[] = [];
      for (let index = 0; index < RUNS; index += 1) times.push(await time());
      const slowest = Math.max(...times);
      lines.push(`| ${name} | ${median(times).toFixed(0)} | ${slowest.toFixed(0)} | < ${TARGET_MS} ms: ${slowest < TARGET_MS ? 'met' : 'missed'} | ${loadNow().toFixed(2)} |`);
      plans.push(`${name}:\n\n\`\`\`\n${(await plansOf(knex, owner.tenantId, run)).join('\n\n')}\n\`\`\``);
    }

    const machine = `${os.availableParallelism()} CPUs (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 1024 ** 3)} GB RAM, Node ${process.version}`;
    const generated = [
      `Run of ${new Date().toISOString().slice(0, 10)}: \`npm run bench:reports\` on ${machine}. Seed: ${LEADS.toLocaleString('en-US')} leads, ${DEALS.toLocaleString('en-US')} deals, ${ACTIVITIES.toLocaleString('en-US')} activities, ${TICKETS.toLocaleString('en-US')} tickets in one tenant, in ${seedSeconds.toFixed(0)} s. ${rollup} Each report: one warm-up, then ${RUNS} requests one after another through the API.`,
      '',
      ...lines,
      '',
      '<details><summary>Plans (EXPLAIN ANALYZE of the statements each report runs)</summary>',
      '',
      ...plans,
      '',
      '</details>',
    ].join('\n');
    console.log(`\n${generated}\n`);
    writeDoc(generated, 'reports');
  } finally {
    await knex.destroy();
    for (const running of servers) await running.stop();
    await dropDatabase(adminUrl);
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
