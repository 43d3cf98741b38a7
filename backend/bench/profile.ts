/**
 * `npm run bench:profile -- <workload>`: where the API's CPU time goes under one load. The compiled API
 * runs with `node --cpu-prof`, autocannon drives one workload at 10 connections, and the profile taken
 * until a clean SIGTERM stop is summed by self time: per package (ours per folder, node's core, each
 * dependency) and per function. The .cpuprofile stays in the printed folder (Chrome DevTools, speedscope).
 * Not a test: a measuring tool, like `npm run bench`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { PROJECT_ROOT } from '../src/lib/project-root';
import { createMigratedDatabase, dropDatabase, testServer, withClient } from '../test/support/test-database';
import { apiEnvironment, leadIds, register, seedLeads } from './fixtures';
import { freePort, startServer } from './processes';

const LEADS = Number(process.env.BENCH_LEADS ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);

interface Workload {
  method: 'GET' | 'POST' | 'PATCH';
  path: (ids: string[]) => string;
  body?: string;
}

const WORKLOADS: Record<string, Workload> = {
  list: { method: 'GET', path: () => '/leads?limit=50' },
  search: { method: 'GET', path: () => '/leads?limit=50&q=Last4242' },
  create: { method: 'POST', path: () => '/leads', body: JSON.stringify({ firstName: 'Posted', lastName: 'Lead', email: 'posted@example.com' }) },
  patch: { method: 'PATCH', path: (ids) => `/leads/${ids[Math.floor(Math.random() * ids.length)]}`, body: JSON.stringify({ firstName: 'Patched' }) },
};

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Where a sampled frame belongs: ours (by folder), node's core, a dependency, or V8's own buckets. */
function bucketOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : `(native) ${functionName}`;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0] === 'internal' ? url.slice(5).split('/').slice(1, 2).join('/') : url.slice(5)}`;
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency) return dependency[1]!;
  const ours = /backend\/dist\/(.*)\/[^/]+$/.exec(url);
  return ours ? `ours: ${ours[1]}` : url;
}

/** The monotonic clock in microseconds: V8 stamps profile samples with the same clock (CLOCK_MONOTONIC on Linux). */
const nowMicros = () => Number(process.hrtime.bigint() / 1000n);

/** Sums the samples taken during the load (`window`, in monotonic microseconds): start-up and sign-up stay out. */
function summarise(file: string, window: [number, number]): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const hits = new Map<ProfileNode, number>();
  let at = profile.startTime;
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, index) => {
    at += profile.timeDeltas[index]!;
    if (at < window[0] || at > window[1]) return;
    const node = byId.get(id)!;
    total += 1;
    if (node.callFrame.functionName === '(idle)') idle += 1;
    else hits.set(node, (hits.get(node) ?? 0) + 1);
  });
  const busy = total - idle;
  const sum = (key: (node: ProfileNode) => string) => {
    const totals = new Map<string, number>();
    for (const [node, count] of hits) totals.set(key(node), (totals.get(key(node)) ?? 0) + count);
    return [...totals.entries()].sort((a, b) => b[1] - a[1]);
  };
  const percent = (count: number) => `${((100 * count) / busy).toFixed(1)}%`;
  console.log(`\n${file}\nbusy ${((100 * busy) / Math.max(total, 1)).toFixed(0)}% of the ${((window[1] - window[0]) / 1e6).toFixed(1)} s under load\n`);
  console.log('| self time, by where the code lives | share of busy time |\n|---|---|');
  for (const [bucket, count] of sum((node) => bucketOf(node.callFrame)).slice(0, 20)) console.log(`| ${bucket} | ${percent(count)} |`);
  console.log('\n| self time, by function | share of busy time |\n|---|---|');
  for (const [name, count] of sum((node) => `${node.callFrame.functionName || '(anonymous)'} (${bucketOf(node.callFrame)})`).slice(0, 25)) console.log(`| ${name} | ${percent(count)} |`);
}

async function main(): Promise<void> {
  const name = process.argv[2] ?? 'list';
  const workload = WORKLOADS[name];
  if (!workload) throw new Error(`unknown workload "${name}": one of ${Object.keys(WORKLOADS).join(', ')}`);
  execFileSync(process.execPath, [path.join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
  const server = await testServer();
  const adminUrl = await createMigratedDatabase(server.serverUrl, 'crm_profile');
  const profiles = mkdtempSync(path.join(os.tmpdir(), 'crm-profile-'));
  let window: [number, number] | undefined;
  try {
    await withClient(adminUrl, (client) => client.query('update plans set requests_per_hour = 1000000000'));
    const port = await freePort();
    const api = await startServer(['--cpu-prof', '--cpu-prof-dir', profiles, '--enable-source-maps', 'backend/dist/server.js'], apiEnvironment(adminUrl, port), port, '/ready');
    try {
      const owner = await register(api.url, 'enterprise');
      await seedLeads(adminUrl, owner.tenantId, owner.userId, LEADS);
      const ids = await leadIds(adminUrl, owner.tenantId);
      const headers = { authorization: `Bearer ${owner.token}`, ...(workload.body ? { 'content-type': 'application/json' } : {}) };
      const started = nowMicros();
      const result = await autocannon({
        url: `${api.url}/api/v1`,
        connections: 10,
        duration: SECONDS,
        requests: [{ method: workload.method, body: workload.body, setupRequest: (request) => ({ ...request, path: `/api/v1${workload.path(ids)}`, headers }) }],
      });
      window = [started, nowMicros()];
      console.log(`${name}: ${result.requests.average} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ${result.non2xx} non-2xx`);
    } finally {
      await api.stop();
    }
    for (const file of readdirSync(profiles)) summarise(path.join(profiles, file), window ?? [0, Number.MAX_SAFE_INTEGER]);
  } finally {
    await dropDatabase(adminUrl);
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
