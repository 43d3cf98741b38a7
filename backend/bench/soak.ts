/**
 * `npm run bench:soak`: a sustained mixed workload (lists, reads, searches, creates, updates, imports,
 * exports) against the API, built and run as production runs it in a child process, for 10 minutes by
 * default (`SOAK_SECONDS` or `--seconds=N` for a shorter run). Reports 5xx answers, latency p50/p99 per
 * operation, and the server's memory (RSS from /proc, V8 heap from /metrics) after warm-up against the
 * end, and writes the figures into docs/PERFORMANCE.md. Not a test: nothing here fails a build.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/lib/project-root';
import { createMigratedDatabase, dropDatabase, testServer, withClient } from '../test/support/test-database';
import { download, freePort, send, startServer } from './processes';
import { writeDoc } from './report';

const argSeconds = process.argv.find((arg) => arg.startsWith('--seconds='))?.split('=')[1];
const SECONDS = Number(argSeconds ?? process.env.SOAK_SECONDS ?? 600);
const WORKERS = Number(process.env.SOAK_WORKERS ?? 8);
const SEED_LEADS = Number(process.env.SOAK_SEED_LEADS ?? 20_000);
/** Memory is compared from the end of the warm-up (a fifth of the run, at least 10 s) to the end. */
const WARM_UP_SECONDS = Math.max(10, Math.round(SECONDS / 5));

type Operation = 'list' | 'read' | 'search' | 'create' | 'update' | 'import' | 'export';
/** The mix, by weight: mostly reads, as a CRM's traffic is. */
const MIX: Array<[Operation, number]> = [
  ['list', 30],
  ['read', 20],
  ['search', 10],
  ['create', 20],
  ['update', 12],
  ['import', 4],
  ['export', 4],
];

interface Sample {
  rssMb: number;
  heapMb: number;
  at: number;
}

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0);

function pick(): Operation {
  let roll = Math.random() * MIX.reduce((sum, [, weight]) => sum + weight, 0);
  for (const [operation, weight] of MIX) {
    roll -= weight;
    if (roll < 0) return operation;
  }
  return 'list';
}

const rssMbOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

async function heapMbOf(url: string): Promise<number> {
  const metrics = await send(`${url}/metrics`, { method: 'GET' });
  return Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics.text)?.[1] ?? 0) / 1024 ** 2;
}

/** Least-squares slope of y over x (MB per minute here). */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  const num = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0);
  const den = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
  return den ? num / den : 0;
}

async function main(): Promise<void> {
  execFileSync(process.execPath, [path.join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
  const server = await testServer();
  const adminUrl = await createMigratedDatabase(server.serverUrl, 'crm_soak');
  const port = await freePort();
  const api = await startServer(
    ['--enable-source-maps', 'backend/dist/server.js'],
    {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: adminUrl,
      REDIS_URL: process.env.REDIS_URL,
      REDIS_KEY_PREFIX: `soak:${randomUUID().slice(0, 8)}:`,
      JWT_SECRET: randomBytes(32).toString('hex'),
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      ACCESS_TOKEN_TTL_SECONDS: '86400',
      BCRYPT_COST: '10',
      LOG_LEVEL: 'warn',
    },
    port,
    '/ready',
  );
  try {
    await withClient(adminUrl, (client) => client.query('update plans set requests_per_hour = 1000000000'));
    const registered = await send(`${api.url}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `soak-${randomUUID().slice(0, 8)}@example.com`, password: 'Soak-Passw0rd', firstName: 'Soak', lastName: 'Owner', company: 'Soak', plan: 'enterprise' }),
    });
    if (registered.status !== 201) throw new Error(`register: ${registered.status} ${registered.text}`);
    const { tenant, user, tokens } = JSON.parse(registered.text).data;
    await withClient(adminUrl, async (client) => {
      await client.query('begin');
      await client.query("select set_config('app.tenant_id', $1, true)", [tenant.id]);
      await client.query(
        `insert into leads (tenant_id, first_name, last_name, email, company, status, score, owner_id, created_by, updated_by, created_at, updated_at)
         select $1, 'First' || i, 'Last' || (i % 1000), 'soak' || i || '@example.com', 'Company ' || (i % 300),
                (array['new', 'contacted', 'qualified'])[1 + i % 3], i % 101, $2, $2, $2, now() - make_interval(secs => i), now() - make_interval(secs => i)
         from generate_series(1, $3::int) as i`,
        [tenant.id, user.id, SEED_LEADS],
      );
      await client.query('commit');
      await client.query('vacuum analyze leads');
    });

    const base = `${api.url}/api/v1`;
    const auth = { authorization: `Bearer ${tokens.accessToken}` };
    const json = { ...auth, 'content-type': 'application/json' };
    const ids: string[] = [];
    const latencies = new Map<Operation, number[]>(MIX.map(([operation]) => [operation, []]));
    const statuses = new Map<string, number>();
    let fiveHundreds = 0;
    let transportErrors = 0;
    const started = Date.now();
    const deadline = started + SECONDS * 1000;

    const once = async (operation: Operation): Promise<number> => {
      const id = ids.length ? ids[Math.floor(Math.random() * ids.length)] : undefined;
      switch (operation) {
        case 'list':
          return (await send(`${base}/leads?limit=50&sort=${Math.random() < 0.5 ? '-createdAt' : 'name'}`, { method: 'GET', headers: auth })).status;
        case 'read':
          return id ? (await send(`${base}/leads/${id}`, { method: 'GET', headers: auth })).status : 200;
        case 'search':
          return (await send(`${base}/leads?limit=20&q=Last${Math.floor(Math.random() * 1000)}`, { method: 'GET', headers: auth })).status;
        case 'create': {
          const res = await send(`${base}/leads`, { method: 'POST', headers: json, body: JSON.stringify({ firstName: 'Soak', lastName: `Created ${randomUUID().slice(0, 6)}`, score: 42 }) });
          if (res.status === 201) ids.push(JSON.parse(res.text).data.id);
          return res.status;
        }
        case 'update':
          return id ? (await send(`${base}/leads/${id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ status: 'contacted', score: Math.floor(Math.random() * 100) }) })).status : 200;
        case 'import': {
          const rows = Array.from({ length: 200 }, (_, i) => ({ firstName: 'Imported', lastName: `Soak ${i}`, email: `imp-${randomUUID().slice(0, 8)}@example.com` }));
          return (await send(`${base}/leads/import/bulk?mode=valid-only`, { method: 'POST', headers: json, body: JSON.stringify(rows) })).status;
        }
        case 'export':
          return (await download(`${base}/leads/export/csv?status=qualified`, auth)).status;
      }
    };

    const worker = async () => {
      while (Date.now() < deadline) {
        const operation = pick();
        const at = performance.now();
        try {
          const status = await once(operation);
          latencies.get(operation)!.push(performance.now() - at);
          statuses.set(String(status), (statuses.get(String(status)) ?? 0) + 1);
          if (status >= 500) fiveHundreds += 1;
        } catch {
          transportErrors += 1;
        }
      }
    };

    const samples: Sample[] = [];
    const sampler = setInterval(() => {
      void heapMbOf(api.url)
        .then((heapMb) => samples.push({ rssMb: rssMbOf(api.pid), heapMb, at: (Date.now() - started) / 1000 }))
        .catch(() => undefined);
    }, 2_000);
    const progress = setInterval(() => console.log(`${Math.round((Date.now() - started) / 1000)} s: ${[...latencies.values()].reduce((sum, list) => sum + list.length, 0)} requests, ${fiveHundreds} 5xx`), 30_000);
    console.log(`soak: ${SECONDS} s, ${WORKERS} workers, ${SEED_LEADS} seeded leads`);
    await Promise.all(Array.from({ length: WORKERS }, worker));
    clearInterval(sampler);
    clearInterval(progress);

    // Memory is read in windows of a tenth of the run (at least 5 samples), so one GC does not decide it:
    // RSS by its median, the heap by its low-water mark (what survives collection).
    const afterWarmUp = samples.filter((sample) => sample.at >= WARM_UP_SECONDS);
    const window = Math.max(5, Math.floor(afterWarmUp.length / 10));
    const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0;
    const [head, tail] = [afterWarmUp.slice(0, window), afterWarmUp.slice(-window)];
    const memory = {
      rss: [median(head.map((s) => s.rssMb)), median(tail.map((s) => s.rssMb))],
      heap: [Math.min(...head.map((s) => s.heapMb)), Math.min(...tail.map((s) => s.heapMb))],
      minutes: ((tail.at(-1)?.at ?? 0) - (head[0]?.at ?? 0)) / 60,
    };
    const all = [...latencies.values()].flat().sort((x, y) => x - y);
    const total = all.length;
    const ms = (value: number) => `${Math.round(value).toLocaleString('en-US')}`;
    const rows = MIX.map(([operation]) => {
      const sorted = latencies.get(operation)!.sort((x, y) => x - y);
      return `| ${operation} | ${sorted.length.toLocaleString('en-US')} | ${ms(percentile(sorted, 50))} | ${ms(percentile(sorted, 99))} |`;
    });
    const generated = [
      `Run of ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: \`npm run bench:soak -- --seconds=${SECONDS}\` (**${SECONDS} s**, ${WORKERS} concurrent clients, ${SEED_LEADS.toLocaleString('en-US')} seeded leads) on ${os.availableParallelism()} CPUs, Node ${process.version}, ${server.embedded ? 'embedded PostgreSQL' : 'DATABASE_URL PostgreSQL'}, Redis ${process.env.REDIS_URL ? 'on' : 'off'}; load average at the end ${os.loadavg().map((value) => value.toFixed(1)).join(' / ')}.`,
      '',
      `Requests: ${total.toLocaleString('en-US')} (${(total / SECONDS).toFixed(1)} req/s); **5xx: ${fiveHundreds}**; transport errors: ${transportErrors}; statuses: ${[...statuses].map(([status, count]) => `${status} x ${count}`).join(', ')}. All requests: p50 ${ms(percentile(all, 50))} ms, p99 ${ms(percentile(all, 99))} ms.`,
      '',
      '| operation | requests | p50 ms | p99 ms |',
      '|---|---|---|---|',
      ...rows,
      '',
      `Server memory, first window after the ${WARM_UP_SECONDS} s warm-up -> last window (${memory.minutes.toFixed(1)} min apart, windows of ${window} samples 2 s apart): ` +
        `RSS median ${memory.rss[0]!.toFixed(0)} -> ${memory.rss[1]!.toFixed(0)} MB (trend over all samples after warm-up ${slope(afterWarmUp.map((s) => [s.at / 60, s.rssMb])).toFixed(2)} MB/min); ` +
        `V8 heap used, low-water mark ${memory.heap[0]!.toFixed(0)} -> ${memory.heap[1]!.toFixed(0)} MB; peak RSS ${Math.max(...samples.map((s) => s.rssMb)).toFixed(0)} MB.`,
    ].join('\n');
    console.log(`\n${generated}\n`);
    writeDoc(generated, 'soak');
  } finally {
    await api.stop();
    await dropDatabase(adminUrl);
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
