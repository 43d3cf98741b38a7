/**
 * `npm run bench:rollup-cost`: what the lead_rollups triggers (migration 20261203001000) cost writers, on
 * one machine state: each write runs twice in turn, inside a transaction rolled back, with the rollup
 * triggers on and then disabled, (BENCH_ROWS, 100,000, for the bulk writes) on a tenant holding BENCH_LEADS leads (300,000). Prints the figures and
 * the triggers' own times from EXPLAIN ANALYZE (docs/PERFORMANCE.md, "What the rollup costs writers").
 * Not a test: nothing here fails a build.
 */
import os from 'node:os';
import pg from 'pg';
import { createMigratedDatabase, dropDatabase, testServer, withClient } from '../test/support/test-database';

const LEADS = Number(process.env.BENCH_LEADS ?? 300_000);
const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const SINGLE = 2_000;
const TURNS = 5;
const ROLLUP_TRIGGERS = ['leads_rollup_insert', 'leads_rollup_update', 'leads_rollup_delete'];

const insertMany = (rows: number) => `insert into leads (tenant_id, first_name, last_name, email, company, source, status, score, created_at, updated_at)
  select $1, 'Imported' || i, 'Bulk' || (i % 1000), 'imported' || i || '-' || $2 || '@example.com', 'Importer ' || (i % 300), 'import', 'contacted', i % 101, now(), now()
  from generate_series(1, ${rows}) as i`;
/** Moves the rows of one insertMany (by the tag in their e-mails) to another source and no owner. */
const MOVE_SOURCES = `update leads set owner_id = null, source = 'moved' where tenant_id = $1 and email like $2`;
const ONE_BY_ONE = `do $$ begin for i in 1..${SINGLE} loop
  insert into leads (tenant_id, last_name, source, created_at) values (current_setting('app.tenant_id')::uuid, 'One' || i, 'web', now());
end loop; end $$`;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const load = () => os.loadavg()[0]!.toFixed(2);
const ms = (value: number) => `${value.toLocaleString('en-US', { maximumFractionDigits: 0 })} ms`;

/** Runs `work` in a transaction of the tenant, the rollup triggers on or off, and rolls it back. */
async function inTurn<T>(client: pg.Client, tenantId: string, triggers: boolean, work: () => Promise<T>): Promise<T> {
  await client.query('begin');
  try {
    await client.query("select set_config('app.tenant_id', $1, true)", [tenantId]);
    if (!triggers) for (const name of ROLLUP_TRIGGERS) await client.query(`alter table leads disable trigger ${name}`);
    return await work();
  } finally {
    await client.query('rollback');
  }
}

/** Execution time and the rollup trigger's line of an EXPLAIN ANALYZE. */
async function explained(client: pg.Client, sql: string, bindings: unknown[]): Promise<{ ms: number; trigger: string }> {
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(`explain (analyze, costs off) ${sql}`, bindings);
  const lines = rows.map((row) => row['QUERY PLAN']);
  const ms = Number(/Execution Time: ([\d.]+)/.exec(lines.join('\n'))?.[1]);
  return { ms, trigger: lines.find((line) => line.includes('rollup')) ?? '-' };
}

async function main(): Promise<void> {
  const server = await testServer();
  const adminUrl = await createMigratedDatabase(server.serverUrl, 'crm_bench_rollup');
  try {
    await withClient(adminUrl, async (client) => {
      const tenantId = (await client.query<{ id: string }>(`insert into tenants (name, subdomain) values ('Rollup cost', 'rollup-cost') returning id`)).rows[0]!.id;
      console.log(`seeding ${LEADS.toLocaleString('en-US')} leads...`);
      await client.query('begin');
      await client.query("select set_config('app.tenant_id', $1, true)", [tenantId]);
      await client.query(insertMany(LEADS), [tenantId, 'seed']);
      await client.query('commit');
      await client.query('vacuum analyze leads');
      await client.query('vacuum analyze lead_rollups');

      const lines = ['| write | with the rollup triggers | without | the trigger | load |', '|---|---|---|---|---|'];
      for (const [name, sql] of [[`${ROWS.toLocaleString('en-US')}-row INSERT ... SELECT`, insertMany(ROWS)], [`the same rows' UPDATE of source and owner`, MOVE_SOURCES]] as const) {
        console.log(name);
        const turns = [];
        for (const triggers of [true, false]) {
          turns.push(
            await inTurn(client, tenantId, triggers, async () => {
              if (sql === MOVE_SOURCES) await client.query(insertMany(ROWS), [tenantId, `u${triggers}`]);
              return explained(client, sql, sql === MOVE_SOURCES ? [tenantId, `%-u${triggers}@example.com`] : [tenantId, `i${triggers}`]);
            }),
          );
        }
        lines.push(`| ${name} | ${ms(turns[0]!.ms)} | ${ms(turns[1]!.ms)} | \`${turns[0]!.trigger.trim()}\` | ${load()} |`);
      }
      console.log(`${SINGLE.toLocaleString('en-US')} single-row inserts`);
      const times: Record<string, number[]> = { on: [], off: [] };
      for (let turn = 0; turn < TURNS; turn += 1) {
        for (const triggers of [true, false]) {
          await inTurn(client, tenantId, triggers, async () => {
            const started = performance.now();
            await client.query(ONE_BY_ONE);
            times[triggers ? 'on' : 'off']!.push(performance.now() - started);
          });
        }
      }
      lines.push(`| ${SINGLE.toLocaleString('en-US')} single-row INSERTs, one statement each (median of ${TURNS} turns) | ${ms(median(times.on!))} | ${ms(median(times.off!))} | ${((median(times.on!) - median(times.off!)) / SINGLE).toFixed(2)} ms a statement | ${load()} |`);
      console.log(`\nOn a tenant holding ${LEADS.toLocaleString('en-US')} leads, ${os.availableParallelism()} CPUs, Node ${process.version}:\n\n${lines.join('\n')}\n`);
    });
  } finally {
    await dropDatabase(adminUrl);
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
