/**
 * `npm run bench:analytics`: the platform analytics routes on 10,000 generated tenants (issue 16: "fast on
 * 10,000 tenants"). Each tenant gets a role, three users, 90 days of usage, and some of them support tickets,
 * a failed payment or a billing history. Every analytics route is timed over sequential calls (a dashboard
 * asks one at a time) beside GET /admin/auth/verify, the same chain with no analytics work, in the same run.
 * Writes its table into docs/PERFORMANCE.md (the `analytics` block). Not a test: nothing here fails a build.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { hashPassword } from '../src/modules/auth/passwords';
import { PROJECT_ROOT } from '../src/lib/project-root';
import { createMigratedDatabase, dropDatabase, testServer, withClient } from '../test/support/test-database';
import { apiEnvironment } from './fixtures';
import { freePort, send, ServerProcess, startServer } from './processes';
import { Line, loadNow, table, writeDoc } from './report';

const TENANTS = Number(process.env.BENCH_TENANTS ?? 10_000);
const CALLS = Number(process.env.BENCH_ANALYTICS_CALLS ?? 20);
const DAYS = 90;
const PASSWORD = 'Bench-Passw0rd-1';

/** One plpgsql loop: each tenant's rows go in with the tenant set, as forced row-level security wants. */
async function seedTenants(adminUrl: string): Promise<number> {
  const started = performance.now();
  await withClient(adminUrl, (client) =>
    client.query(
      `do $$
       declare
         t uuid; r uuid; u uuid; i int;
       begin
         for i in 1..${TENANTS} loop
           insert into tenants (name, subdomain, plan, billing_status, trial_ends_at, created_at)
             values ('Tenant ' || i, 'bench-' || i, (array['free', 'pro', 'enterprise'])[1 + i % 3],
                     (array['active', 'active', 'past_due', 'trialing', 'canceled'])[1 + i % 5],
                     case when i % 5 = 3 then now() + interval '7 days' end,
                     now() - make_interval(days => i % 730))
             returning id into t;
           perform set_config('app.tenant_id', t::text, true);
           insert into roles (tenant_id, name, key, permissions) values (t, 'Admin', 'tenant_admin', '{}') returning id into r;
           for u_index in 1..3 loop
             insert into users (tenant_id, email, role_id, first_name, last_name, last_login_at, created_at)
               values (t, 'user' || u_index || '@tenant' || i || '.example.com', r, 'First', 'Last',
                       case when (i + u_index) % 4 = 0 then null else now() - make_interval(days => (i * u_index) % 60) end,
                       now() - make_interval(days => i % 700))
               returning id into u;
           end loop;
           insert into usage_daily (tenant_id, day, api_calls)
             select t, current_date - d, (i * 7 + d * 13) % 500 from generate_series(0, ${DAYS - 1}) as d;
           if i % 10 = 0 then
             insert into support_tickets (tenant_id, subject, description, requester_id, sla_due_at)
               values (t, 'Help', 'Something is slow', u, now() + interval '1 day');
           end if;
           if i % 7 = 0 then
             insert into billing_status_changes (tenant_id, plan_before, plan_after, status_before, status_after, cause, created_at)
               values (t, 'pro', 'pro', 'trialing', (array['active', 'trial_expired'])[1 + i % 2], 'bench', now() - make_interval(days => i % 30));
           end if;
         end loop;
       end $$`,
    ),
  );
  await withClient(adminUrl, (client) => client.query('vacuum analyze'));
  return (performance.now() - started) / 1000;
}

/** A super admin made in the database, signed in through the API. */
async function staffToken(adminUrl: string, apiUrl: string): Promise<string> {
  const email = 'bench-analyst@example.com';
  const hash = await hashPassword(PASSWORD, 4);
  await withClient(adminUrl, (client) => client.query("insert into platform_admins (email, password_hash, role) values ($1, $2, 'super_admin')", [email, hash]));
  const res = await send(`${apiUrl}/api/v1/admin/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  if (res.status !== 200) throw new Error(`staff login: ${res.status} ${res.text.slice(0, 300)}`);
  return JSON.parse(res.text).data.tokens.accessToken as string;
}

/** Sequential calls after two warm-up calls: p50 and p99 in ms. */
async function timed(url: string, token: string): Promise<{ p50: number; p99: number }> {
  const headers = { authorization: `Bearer ${token}` };
  const samples: number[] = [];
  for (let call = 0; call < CALLS + 2; call += 1) {
    const res = await send(url, { method: 'GET', headers });
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${res.text.slice(0, 300)}`);
    if (call >= 2) samples.push(res.seconds * 1000);
  }
  samples.sort((a, b) => a - b);
  const at = (share: number) => samples[Math.min(samples.length - 1, Math.floor(share * samples.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

async function main(): Promise<void> {
  execFileSync(process.execPath, [path.join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
  const server = await testServer();
  const adminUrl = await createMigratedDatabase(server.serverUrl, 'crm_bench_analytics');
  const servers: ServerProcess[] = [];
  try {
    console.log(`seeding ${TENANTS.toLocaleString('en-US')} tenants...`);
    const seedSeconds = await seedTenants(adminUrl);
    console.log(`seeded in ${seedSeconds.toFixed(1)} s`);
    const port = await freePort();
    const api = await startServer(['--enable-source-maps', 'backend/dist/server.js'], { ...apiEnvironment(adminUrl, port), ADMIN_MFA_REQUIRED: 'false' }, port, '/ready');
    servers.push(api);
    const token = await staffToken(adminUrl, api.url);
    const base = `${api.url}/api/v1/admin`;
    const baseline = await timed(`${base}/auth/verify`, token);
    const someTenant = await withClient(adminUrl, async (client) => (await client.query<{ id: string }>('select id from tenants order by created_at limit 1')).rows[0]!.id);
    const routes = [
      ['GET /admin/analytics/overview (30 days)', '/analytics/overview'],
      ['GET /admin/analytics/churn-risk?limit=100', '/analytics/churn-risk?limit=100'],
      ['GET /admin/analytics/cohorts?months=24', '/analytics/cohorts?months=24'],
      ['GET /admin/analytics/tenants/:id', `/analytics/tenants/${someTenant}`],
    ] as const;
    const lines: Line[] = [];
    for (const [name, route] of routes) {
      console.log(name);
      const measured = await timed(`${base}${route}`, token);
      lines.push({
        name: `${name}, ${TENANTS.toLocaleString('en-US')} tenants`,
        unit: 'req/s',
        api: 1000 / measured.p50,
        baseline: 1000 / baseline.p50,
        latency: { api: [measured.p50, measured.p99], baseline: [baseline.p50, baseline.p99] },
        load: loadNow(),
        targets: [{ text: 'p50 <= 500 ms', met: measured.p50 <= 500 }],
      });
    }
    const generated = [
      `Run of ${new Date().toISOString().slice(0, 10)}: \`npm run bench:analytics\`. ${TENANTS.toLocaleString('en-US')} tenants (3 users each, ${DAYS} days of usage: ${(TENANTS * DAYS).toLocaleString('en-US')} usage rows) seeded in ${seedSeconds.toFixed(0)} s.`,
      `Each route: ${CALLS} sequential calls after 2 warm-up calls; req/s is 1000 / p50. Baseline: GET /admin/auth/verify (the same chain, no analytics) in the same run.`,
      '',
      table(lines),
    ].join('\n');
    console.log(`\n${generated}\n`);
    writeDoc(generated, 'analytics');
  } finally {
    for (const running of servers) await running.stop();
    await dropDatabase(adminUrl);
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
