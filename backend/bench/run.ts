/**
 * `npm run bench`: seeds a tenant with 1,000,000 leads on a real PostgreSQL (DATABASE_URL's server, or
 * the embedded one the tests use) and measures the API, run as a child process, beside a bare node:http
 * server running the same SQL through pg (bench/baseline-server.ts), in the same run. Prints a table
 * and writes the figures into docs/PERFORMANCE.md. Not a test: nothing here fails a build.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { runtimeCredentials } from '../src/infra/db-roles';
import { PROJECT_ROOT } from '../src/lib/project-root';
import { createMigratedDatabase, dropDatabase, testServer, withClient } from '../test/support/test-database';
import { batchBlock, measureBatchWrites } from './batch-writes';
import { apiEnvironment, cursorAfter, importCsv, leadIds, register, seedLeads } from './fixtures';
import { download, freePort, peakRssMb, send, ServerProcess, startServer } from './processes';
import { Line, loadNow, ratioOf, table, writeDoc } from './report';

const LEADS = Number(process.env.BENCH_LEADS ?? 1_000_000);
const IMPORT_ROWS = Number(process.env.BENCH_IMPORT_ROWS ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 10;
/** Tenants of the "ten tenants" write line: one writer each on average. */
const TENANTS = 10;
const SEARCH = 'Last4242';

/** Where a load goes: a base URL and, per request, the headers of one of its callers (tenants). */
interface Target {
  url: string;
  callers: Record<string, string>[];
}

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  load: number;
}

interface LoadOptions {
  method?: 'GET' | 'POST' | 'PATCH';
  body?: string;
  /** Spread the requests over every caller of the target (round robin) rather than the first one. */
  everyCaller?: boolean;
  /** A fresh path per request (PATCH of a random lead): the given path is then only a label. */
  pathOf?: () => string;
}

async function load(target: Target, path: string, options: LoadOptions = {}): Promise<Measured> {
  let turn = 0;
  const headersOf = () => (options.everyCaller ? target.callers[turn++ % target.callers.length]! : target.callers[0]!);
  // autocannon sends a request's path as it is: the target's own path (/api/v1) goes in front of it.
  const prefix = new URL(target.url).pathname.replace(/\/$/, '');
  const contentType: Record<string, string> = options.body ? { 'content-type': 'application/json' } : {};
  const run = (duration: number) =>
    autocannon({
      url: target.url,
      connections: CONNECTIONS,
      duration,
      requests: [
        {
          method: options.method ?? 'GET',
          path,
          body: options.body,
          setupRequest: (request) => ({ ...request, path: prefix + (options.pathOf ? options.pathOf() : path), headers: { ...headersOf(), ...contentType } }),
        },
      ],
    });
  await run(2);
  const result = await run(SECONDS);
  if (result.non2xx || result.errors) throw new Error(`${target.url}${path}: ${result.non2xx} non-2xx answers (${JSON.stringify(result.statusCodeStats)}) and ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, load: loadNow() };
}

const requestLine = (name: string, api: Measured, baseline: Measured, minRatio: number, maxP99?: number): Line => ({
  name,
  unit: 'req/s',
  api: api.rps,
  baseline: baseline.rps,
  latency: { api: [api.p50, api.p99], baseline: [baseline.p50, baseline.p99] },
  load: Math.max(api.load, baseline.load),
  targets: [
    { text: `>= ${minRatio}x baseline`, met: api.rps / baseline.rps >= minRatio },
    ...(maxP99 === undefined ? [] : [{ text: `p99 <= ${maxP99} ms`, met: api.p99 <= maxP99 }]),
  ],
});

async function main(): Promise<void> {
  // The API runs as in production (npm run start:prod): compiled, not through a TypeScript loader.
  execFileSync(process.execPath, [path.join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
  const server = await testServer();
  const adminUrl = await createMigratedDatabase(server.serverUrl, 'crm_bench');
  const servers: ServerProcess[] = [];
  try {
    const postgres = await withClient(adminUrl, async (client) => {
      // Throughput is measured here, not the plan's request budget or quotas.
      await client.query('update plans set requests_per_hour = 1000000000');
      return (await client.query<{ server_version: string }>('show server_version')).rows[0]!.server_version;
    });

    const apiPort = await freePort();
    const apiEnv = apiEnvironment(adminUrl, apiPort);
    const startApi = async () => {
      const started = await startServer(['--enable-source-maps', 'backend/dist/server.js'], apiEnv, apiPort, '/ready');
      servers.push(started);
      return started;
    };
    let api = await startApi();
    const owners: Awaited<ReturnType<typeof register>>[] = [];
    for (let index = 0; index < TENANTS; index += 1) owners.push(await register(api.url, 'enterprise'));
    const primary = owners[0]!;

    console.log(`seeding ${LEADS.toLocaleString('en-US')} leads...`);
    const seedSeconds = await seedLeads(adminUrl, primary.tenantId, primary.userId, LEADS);
    console.log(`seeded in ${seedSeconds.toFixed(1)} s`);

    const basePort = await freePort();
    const baselineServer = await startServer(
      ['--import', 'tsx', 'backend/bench/baseline-server.ts'],
      {
        BASELINE_DATABASE_URL: runtimeCredentials(adminUrl).url,
        BASELINE_COPY_DATABASE_URL: adminUrl,
        BASELINE_TENANTS: JSON.stringify(owners.map(({ tenantId, userId }) => ({ tenantId, userId }))),
        BASELINE_PORT: String(basePort),
      },
      basePort,
      '/',
    );
    servers.push(baselineServer);
    const apiTarget = (): Target => ({ url: `${api.url}/api/v1`, callers: owners.map((owner) => ({ authorization: `Bearer ${owner.token}` })) });
    const baseline: Target = { url: baselineServer.url, callers: owners.map((_, index) => ({ 'x-bench-tenant': String(index) })) };

    const lines: Line[] = [];
    const cursor = await cursorAfter(adminUrl, primary.tenantId, Math.floor(LEADS / 2) - 1);
    const measurePair = async (label: string, path: string, options: LoadOptions = {}) => {
      console.log(label);
      return { api: await load(apiTarget(), path, options), baseline: await load(baseline, path, options) };
    };
    const first = await measurePair('GET first page', '/leads?limit=50');
    lines.push(requestLine('GET /leads?limit=50 (first page)', first.api, first.baseline, 0.5, 50));
    const deep = await measurePair('GET deep page', `/leads?limit=50&cursor=${cursor}`);
    lines.push(requestLine('GET /leads?limit=50&cursor= (page 10,000)', deep.api, deep.baseline, 0.5));
    const search = await measurePair('GET search', `/leads?limit=50&q=${SEARCH}`);
    lines.push(requestLine(`GET /leads?limit=50&q=${SEARCH}`, search.api, search.baseline, 0.5));

    const body = JSON.stringify({ firstName: 'Posted', lastName: 'Lead', email: 'posted@example.com' });
    const oneTenant = await measurePair('POST one tenant', '/leads', { method: 'POST', body });
    lines.push(requestLine(`POST /leads, ${CONNECTIONS} writers on one tenant`, oneTenant.api, oneTenant.baseline, 0.35));
    const tenTenants = await measurePair('POST ten tenants', '/leads', { method: 'POST', body, everyCaller: true });
    lines.push(requestLine(`POST /leads, ${CONNECTIONS} writers on ${TENANTS} tenants`, tenTenants.api, tenTenants.baseline, 0.35));
    const ids = await leadIds(adminUrl, primary.tenantId);
    const patch = JSON.stringify({ firstName: 'Patched', lastName: 'Lead' });
    const randomLead = () => `/leads/${ids[Math.floor(Math.random() * ids.length)]}`;
    const patched = await measurePair('PATCH', '/leads/:id', { method: 'PATCH', body: patch, pathOf: randomLead });
    lines.push(requestLine('PATCH /leads/:id (a random lead of 10,000)', patched.api, patched.baseline, 0.35));

    // The export is measured on a fresh process, so that its peak memory is the export's own.
    await api.stop();
    servers.splice(servers.indexOf(api), 1);
    api = await startApi();
    const apiHeaders = apiTarget().callers[0]!;
    await send(`${apiTarget().url}/leads?limit=1`, { method: 'GET', headers: apiHeaders });
    console.log('export');
    const apiExport = await download(`${apiTarget().url}/leads/export/csv`, apiHeaders);
    const apiExportRss = peakRssMb(api.pid);
    const baseExport = await download(`${baseline.url}/leads/export/csv`, {});
    const baseExportRss = peakRssMb(baselineServer.pid);
    if (apiExport.status !== 200 || apiExport.rows !== baseExport.rows) throw new Error(`export: ${apiExport.status}, ${apiExport.rows} rows; baseline ${baseExport.status}, ${baseExport.rows} rows`);
    const exportRate = apiExport.rows / apiExport.seconds;
    lines.push({
      name: `export of ${apiExport.rows.toLocaleString('en-US')} leads as CSV`,
      unit: 'rows/s',
      api: exportRate,
      baseline: baseExport.rows / baseExport.seconds,
      load: loadNow(),
      targets: [{ text: '>= 100,000 rows/s', met: exportRate >= 100_000 }],
    });
    lines.push({ name: 'peak RSS of the server process (export)', unit: 'MB', api: apiExportRss, baseline: baseExportRss, load: loadNow(), targets: [{ text: '< 150 MB', met: apiExportRss < 150 }] });

    console.log(`import of ${IMPORT_ROWS.toLocaleString('en-US')} CSV rows`);
    const csvHeaders = { 'content-type': 'text/csv' };
    const apiImport = await send(`${apiTarget().url}/leads/import/bulk`, { method: 'POST', headers: { ...apiHeaders, ...csvHeaders }, body: importCsv(IMPORT_ROWS) });
    if (apiImport.status !== 201) throw new Error(`import: ${apiImport.status} ${apiImport.text.slice(0, 500)}`);
    const importLoad = loadNow();
    const inserted = await send(`${baseline.url}/leads/import/bulk`, { method: 'POST', headers: csvHeaders, body: importCsv(IMPORT_ROWS) });
    const copied = await send(`${baseline.url}/leads/import/copy`, { method: 'POST', headers: csvHeaders, body: importCsv(IMPORT_ROWS) });
    for (const answer of [inserted, copied]) if (answer.status !== 201) throw new Error(`baseline import: ${answer.status} ${answer.text.slice(0, 200)}`);
    const rate = (seconds: number) => IMPORT_ROWS / seconds;
    const importLine = (name: string, baselineSeconds: number, targets: Line['targets']): Line => ({
      name,
      unit: 'rows/s',
      api: rate(apiImport.seconds),
      baseline: rate(baselineSeconds),
      load: importLoad,
      targets,
    });
    lines.push(
      importLine(`bulk import of ${IMPORT_ROWS.toLocaleString('en-US')} CSV rows (${apiImport.seconds.toFixed(1)} s) vs multi-row INSERTs (${inserted.seconds.toFixed(1)} s)`, inserted.seconds, [
        { text: '<= 10 s', met: apiImport.seconds <= 10 && IMPORT_ROWS >= 100_000 },
      ]),
      importLine(`the same import vs a raw COPY of the same rows (${copied.seconds.toFixed(1)} s)`, copied.seconds, [
        { text: '>= 0.5x the COPY rate', met: ratioOf({ api: rate(apiImport.seconds), baseline: rate(copied.seconds) }) >= 0.5 },
      ]),
    );

    const batchLine = await measureBatchWrites(api.url, primary.token);

    const machine = `${os.availableParallelism()} CPUs (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 1024 ** 3)} GB RAM, ${os.type()} ${os.release()}, Node ${process.version}, PostgreSQL ${postgres} (${server.embedded ? 'embedded' : 'DATABASE_URL'}), Redis ${process.env.REDIS_URL ? 'on' : 'off (in-memory rate-limit counters)'}`;
    const met = lines.flatMap((line) => line.targets).filter((target) => target.met).length;
    const generated = [
      `Run of ${new Date().toISOString().slice(0, 10)}: \`npm run bench\` on ${machine}. The load column is the 1-minute load average when the line was measured.`,
      `Seed: ${LEADS.toLocaleString('en-US')} leads in ${seedSeconds.toFixed(0)} s. Load: autocannon, ${CONNECTIONS} connections, ${SECONDS} s after a 2 s warm-up.`,
      `Targets met: ${met} of ${lines.flatMap((line) => line.targets).length}.`,
      '',
      table(lines),
    ].join('\n');
    console.log(`\n${generated}\n`);
    writeDoc(generated);
    writeDoc(batchBlock(batchLine, machine), 'batch');
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
