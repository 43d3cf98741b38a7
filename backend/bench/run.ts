/**
 * `npm run bench`: seeds a tenant with 1,000,000 leads on a real PostgreSQL (DATABASE_URL's server, or
 * the embedded one the tests use) and measures the API, run as a child process, beside a bare node:http
 * server running the same SQL through pg (bench/baseline-server.ts), in the same run. Prints a table
 * and writes the figures into docs/PERFORMANCE.md. Not a test: nothing here fails a build.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { runtimeCredentials } from '../src/infra/db-roles';
import { encodeCursor } from '../src/lib/pagination';
import { PROJECT_ROOT } from '../src/lib/project-root';
import { createMigratedDatabase, dropDatabase, testServer, withClient } from '../test/support/test-database';
import { download, freePort, peakRssMb, send, ServerProcess, startServer } from './processes';
import { Line, table, Verdict, verdicts, writeDoc } from './report';

const LEADS = Number(process.env.BENCH_LEADS ?? 1_000_000);
const IMPORT_ROWS = Number(process.env.BENCH_IMPORT_ROWS ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 10;
const SEARCH = 'Last4242';
const PRECISE = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

interface Target {
  url: string;
  headers: Record<string, string>;
}

interface Measured {
  rps: number;
  p50: number;
  p99: number;
}

async function load(target: Target, path: string, options: { method?: 'GET' | 'POST'; body?: string } = {}): Promise<Measured> {
  const run = (duration: number) =>
    autocannon({
      url: `${target.url}${path}`,
      connections: CONNECTIONS,
      duration,
      method: options.method ?? 'GET',
      headers: { ...target.headers, ...(options.body ? { 'content-type': 'application/json' } : {}) },
      body: options.body,
    });
  await run(2);
  const result = await run(SECONDS);
  if (result.non2xx || result.errors) throw new Error(`${path}: ${result.non2xx} non-2xx answers and ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

const requestLine = (name: string, api: Measured, baseline: Measured): Line => ({
  name,
  unit: 'req/s',
  api: api.rps,
  baseline: baseline.rps,
  latency: { api: [api.p50, api.p99], baseline: [baseline.p50, baseline.p99] },
});

async function seed(adminUrl: string, tenantId: string, userId: string): Promise<number> {
  const started = performance.now();
  await withClient(adminUrl, async (client) => {
    await client.query('begin');
    // Row-level security is forced even for the owner: the rows go in with the tenant set.
    await client.query("select set_config('app.tenant_id', $1, true)", [tenantId]);
    await client.query(
      `insert into leads (tenant_id, first_name, last_name, email, company, title, source, status, score, owner_id,
                          created_by, updated_by, created_at, updated_at)
       select $1, 'First' || i, 'Last' || (i % 10000), 'lead' || i || '@example.com', 'Company ' || (i % 5000),
              'Title ' || (i % 50), (array['web', 'referral', 'event', 'ads'])[1 + i % 4],
              (array['new', 'contacted', 'qualified', 'unqualified', 'lost'])[1 + i % 5], i % 101, $2, $2, $2,
              now() - make_interval(secs => i), now() - make_interval(secs => i)
       from generate_series(1, $3::int) as i`,
      [tenantId, userId, LEADS],
    );
    await client.query('commit');
    await client.query('vacuum analyze leads');
  });
  return (performance.now() - started) / 1000;
}

/** The cursor the API gives out for the page that starts half-way through the leads (page 10,000 at 50 a page). */
async function deepCursor(adminUrl: string, tenantId: string): Promise<string> {
  return withClient(adminUrl, async (client) => {
    await client.query('begin');
    await client.query("select set_config('app.tenant_id', $1, true)", [tenantId]);
    const { rows } = await client.query(
      `select to_char(created_at at time zone 'UTC', ${PRECISE}) as at, id from leads where deleted_at is null
       order by created_at desc, id desc offset $1 limit 1`,
      [Math.floor(LEADS / 2) - 1],
    );
    await client.query('commit');
    return encodeCursor(['-createdAt', rows[0].at, rows[0].id]);
  });
}

function importCsv(): string {
  const lines = ['firstName,lastName,email,company,source,status,score'];
  for (let i = 1; i <= IMPORT_ROWS; i += 1) {
    lines.push(`Imported${i},Bulk${i % 1000},imported${i}-${randomUUID().slice(0, 8)}@example.com,Importer ${i % 300},import,contacted,${i % 101}`);
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  // The API runs as in production (npm run start:prod): compiled, not through a TypeScript loader.
  execFileSync(process.execPath, [path.join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
  const server = await testServer();
  const adminUrl = await createMigratedDatabase(server.serverUrl, 'crm_bench');
  const servers: ServerProcess[] = [];
  try {
    const postgres = await withClient(adminUrl, async (client) => {
      // Throughput is measured here, not the plan's request budget.
      await client.query('update plans set requests_per_hour = 1000000000');
      return (await client.query<{ server_version: string }>('show server_version')).rows[0]!.server_version;
    });

    const apiPort = await freePort();
    const apiEnv = {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(apiPort),
      DATABASE_URL: adminUrl,
      REDIS_URL: process.env.REDIS_URL,
      // Counters of this run only: sign-up limits of earlier runs must not refuse this one.
      REDIS_KEY_PREFIX: `bench:${randomUUID().slice(0, 8)}:`,
      JWT_SECRET: randomBytes(32).toString('hex'),
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      ACCESS_TOKEN_TTL_SECONDS: '86400',
      BCRYPT_COST: '10',
      LOG_LEVEL: 'info',
    };
    const startApi = async () => {
      const started = await startServer(['--enable-source-maps', 'backend/dist/server.js'], apiEnv, apiPort, '/ready');
      servers.push(started);
      return started;
    };
    let api = await startApi();
    const registered = await send(`${api.url}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `bench-${randomUUID().slice(0, 8)}@example.com`, password: 'Bench-Passw0rd', firstName: 'Bench', lastName: 'Owner', company: 'Bench', plan: 'enterprise' }),
    });
    if (registered.status !== 201) throw new Error(`register: ${registered.status} ${registered.text}`);
    const { user, tenant, tokens } = JSON.parse(registered.text).data;

    console.log(`seeding ${LEADS.toLocaleString('en-US')} leads...`);
    const seedSeconds = await seed(adminUrl, tenant.id, user.id);
    console.log(`seeded in ${seedSeconds.toFixed(1)} s`);

    const basePort = await freePort();
    const baselineServer = await startServer(
      ['--import', 'tsx', 'backend/bench/baseline-server.ts'],
      { BASELINE_DATABASE_URL: runtimeCredentials(adminUrl).url, BASELINE_TENANT_ID: tenant.id, BASELINE_USER_ID: user.id, BASELINE_PORT: String(basePort) },
      basePort,
      '/',
    );
    servers.push(baselineServer);
    const apiTarget = (): Target => ({ url: `${api.url}/api/v1`, headers: { authorization: `Bearer ${tokens.accessToken}` } });
    const baseline: Target = { url: baselineServer.url, headers: {} };

    const lines: Line[] = [];
    const cursor = await deepCursor(adminUrl, tenant.id);
    const listPaths = {
      first: '/leads?limit=50',
      deep: `/leads?limit=50&cursor=${cursor}`,
      search: `/leads?limit=50&q=${SEARCH}`,
    };
    const measured: Record<string, { api: Measured; baseline: Measured }> = {};
    for (const [name, path] of Object.entries(listPaths)) {
      console.log(`GET ${path.slice(0, 60)}`);
      measured[name] = { api: await load(apiTarget(), path), baseline: await load(baseline, path) };
    }
    lines.push(requestLine('GET /leads?limit=50 (first page)', measured.first!.api, measured.first!.baseline));
    lines.push(requestLine('GET /leads?limit=50&cursor= (page 10,000)', measured.deep!.api, measured.deep!.baseline));
    lines.push(requestLine(`GET /leads?limit=50&q=${SEARCH}`, measured.search!.api, measured.search!.baseline));

    // The export is measured on a fresh process, so that its peak memory is the export's own.
    await api.stop();
    servers.splice(servers.indexOf(api), 1);
    api = await startApi();
    await send(`${apiTarget().url}/leads?limit=1`, { method: 'GET', headers: apiTarget().headers });
    console.log('export');
    const apiExport = await download(`${apiTarget().url}/leads/export/csv`, apiTarget().headers);
    const apiExportRss = peakRssMb(api.pid);
    const baseExport = await download(`${baseline.url}/leads/export/csv`, {});
    const baseExportRss = peakRssMb(baselineServer.pid);
    if (apiExport.status !== 200 || apiExport.rows !== baseExport.rows) throw new Error(`export: ${apiExport.status}, ${apiExport.rows} rows; baseline ${baseExport.status}, ${baseExport.rows} rows`);
    lines.push({ name: `export of ${apiExport.rows.toLocaleString('en-US')} leads as CSV`, unit: 'rows/s', api: apiExport.rows / apiExport.seconds, baseline: baseExport.rows / baseExport.seconds });
    lines.push({ name: 'peak RSS of the server process (export)', unit: 'MB', api: apiExportRss, baseline: baseExportRss });

    console.log('POST /leads');
    const body = JSON.stringify({ firstName: 'Posted', lastName: 'Lead', email: 'posted@example.com' });
    lines.push(requestLine('POST /leads', await load(apiTarget(), '/leads', { method: 'POST', body }), await load(baseline, '/leads', { method: 'POST', body })));

    console.log(`import of ${IMPORT_ROWS.toLocaleString('en-US')} CSV rows`);
    const csvHeaders = { 'content-type': 'text/csv' };
    const apiImport = await send(`${apiTarget().url}/leads/import/bulk`, { method: 'POST', headers: { ...apiTarget().headers, ...csvHeaders }, body: importCsv() });
    if (apiImport.status !== 201) throw new Error(`import: ${apiImport.status} ${apiImport.text.slice(0, 500)}`);
    const baseImport = await send(`${baseline.url}/leads/import/bulk`, { method: 'POST', headers: csvHeaders, body: importCsv() });
    lines.push({ name: `bulk import of ${IMPORT_ROWS.toLocaleString('en-US')} CSV rows`, unit: 's', api: apiImport.seconds, baseline: baseImport.seconds });

    const ms = (value: number) => `${value.toFixed(1)} ms`;
    const targets: Verdict[] = [
      ...(['first', 'deep'] as const).map((name) => {
        const ratioOf = measured[name]!.api.rps / measured[name]!.baseline.rps;
        return { target: `list (${name === 'first' ? 'first page' : 'page 10,000'}) >= 0.5x baseline req/s`, measured: `${ratioOf.toFixed(2)}x`, met: ratioOf >= 0.5 };
      }),
      { target: 'import of 100,000 rows <= 10 s', measured: `${apiImport.seconds.toFixed(1)} s`, met: apiImport.seconds <= 10 && IMPORT_ROWS >= 100_000 },
      {
        target: 'export >= 100,000 rows/s',
        measured: `${Math.round(apiExport.rows / apiExport.seconds).toLocaleString('en-US')} rows/s`,
        met: apiExport.rows / apiExport.seconds >= 100_000,
      },
      { target: 'export peak RSS < 150 MB', measured: `${apiExportRss} MB`, met: apiExportRss < 150 },
      {
        target: 'deep page p50 within 1.5x of the first page',
        measured: `${ms(measured.deep!.api.p50)} vs ${ms(measured.first!.api.p50)} (req/s ${Math.round(measured.deep!.api.rps)} vs ${Math.round(measured.first!.api.rps)})`,
        met: measured.deep!.api.p50 <= 1.5 * Math.max(measured.first!.api.p50, 1),
      },
    ];

    const machine = `${os.availableParallelism()} CPUs (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 1024 ** 3)} GB RAM, ${os.type()} ${os.release()}, Node ${process.version}, PostgreSQL ${postgres} (${server.embedded ? 'embedded' : 'DATABASE_URL'}), Redis ${process.env.REDIS_URL ? 'on' : 'off (in-memory rate-limit counters)'}`;
    // Other work on the machine shifts every figure: the load says how busy it was besides the benchmark.
    const loadAverage = os.loadavg().map((value) => value.toFixed(1)).join(' / ');
    const generated = [
      `Run of ${new Date().toISOString().slice(0, 10)}: \`npm run bench\` on ${machine}; load average at the end ${loadAverage} (1 / 5 / 15 min).`,
      `Seed: ${LEADS.toLocaleString('en-US')} leads in ${seedSeconds.toFixed(0)} s. Load: autocannon, ${CONNECTIONS} connections, ${SECONDS} s after a 2 s warm-up.`,
      '',
      table(lines),
      '',
      verdicts(targets),
    ].join('\n');
    console.log(`\n${generated}\n`);
    writeDoc(generated);
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
