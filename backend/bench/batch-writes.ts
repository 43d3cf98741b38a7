/**
 * The batch-write scenario: records/s of 100-operation POST /leads/batch beside single POST /leads, on the
 * same API process, with the same connections, in the same run (the ratio is what the target is about).
 * `npm run bench` runs it after its other lines; `npm run bench:batch` runs only it, on a fresh database.
 * Both write the `batch` block of docs/PERFORMANCE.md. Not a test: nothing here fails a build.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { PROJECT_ROOT } from '../src/lib/project-root';
import { createMigratedDatabase, dropDatabase, testServer, withClient } from '../test/support/test-database';
import { apiEnvironment, register } from './fixtures';
import { freePort, startServer } from './processes';
import { Line, loadNow, ratioOf, table, writeDoc } from './report';

const OPERATIONS = 100;
const CONNECTIONS = 10;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

/** Requests/s and latency of POSTs of `body` to `path` under CONNECTIONS connections, after a 2 s warm-up. */
async function posts(apiUrl: string, token: string, path: string, body: string): Promise<{ rps: number; p50: number; p99: number }> {
  const run = (duration: number) =>
    autocannon({
      url: `${apiUrl}/api/v1${path}`,
      connections: CONNECTIONS,
      duration,
      method: 'POST',
      body,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    });
  await run(2);
  const result = await run(SECONDS);
  if (result.non2xx || result.errors) throw new Error(`${path}: ${result.non2xx} non-2xx answers (${JSON.stringify(result.statusCodeStats)}) and ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

/** The line: the batch's records/s as the API figure, single POSTs' records/s as the baseline. */
export async function measureBatchWrites(apiUrl: string, token: string): Promise<Line> {
  const record = { firstName: 'Batched', lastName: 'Lead', email: 'batched@example.com' };
  console.log('POST /leads (single records)');
  const single = await posts(apiUrl, token, '/leads', JSON.stringify(record));
  console.log(`POST /leads/batch (${OPERATIONS} creates a request)`);
  const batched = await posts(apiUrl, token, '/leads/batch', JSON.stringify({ operations: Array.from({ length: OPERATIONS }, () => ({ op: 'create', data: record })) }));
  const line: Line = {
    name: `records/s: POST /leads/batch of ${OPERATIONS} creates (API) vs single POST /leads (baseline), ${CONNECTIONS} connections on one tenant`,
    unit: 'records/s',
    api: batched.rps * OPERATIONS,
    baseline: single.rps,
    latency: { api: [batched.p50, batched.p99], baseline: [single.p50, single.p99] },
    load: loadNow(),
    targets: [],
  };
  line.targets.push({ text: '>= 5x single POSTs', met: ratioOf(line) >= 5 });
  return line;
}

/** The block written into docs/PERFORMANCE.md. */
export function batchBlock(line: Line, machine: string): string {
  return [
    `Run of ${new Date().toISOString().slice(0, 10)} on ${machine}. Load: autocannon, ${CONNECTIONS} connections, ${SECONDS} s after a 2 s warm-up, each side in turn on the same API process.`,
    '',
    table([line]),
  ].join('\n');
}

/** `npm run bench:batch`: only this scenario, on a fresh migrated database and a compiled API process. */
async function main(): Promise<void> {
  execFileSync(process.execPath, [path.join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
  const server = await testServer();
  const adminUrl = await createMigratedDatabase(server.serverUrl, 'crm_bench_batch');
  try {
    const postgres = await withClient(adminUrl, async (client) => {
      // Throughput is measured here, not the plan's request budget.
      await client.query('update plans set requests_per_hour = 1000000000');
      return (await client.query<{ server_version: string }>('show server_version')).rows[0]!.server_version;
    });
    const port = await freePort();
    const api = await startServer(['--enable-source-maps', 'backend/dist/server.js'], apiEnvironment(adminUrl, port), port, '/ready');
    try {
      const owner = await register(api.url, 'enterprise');
      const line = await measureBatchWrites(api.url, owner.token);
      const machine = `${os.availableParallelism()} CPUs, Node ${process.version}, PostgreSQL ${postgres}`;
      const block = batchBlock(line, machine);
      console.log(`\n${block}\n`);
      writeDoc(block, 'batch');
    } finally {
      await api.stop();
    }
  } finally {
    await dropDatabase(adminUrl);
    await server.stop();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
