/**
 * The benchmark's baseline: a bare node:http server that runs the same SQL as the API for each measured
 * endpoint, through pg directly, as the same runtime role in a transaction bound to the tenant (row-level
 * security applies alike) — and nothing else: no framework, authentication, validation, audit or logging.
 * What the API costs beyond this is the price of everything it does around the query.
 */
import http from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import QueryStream from 'pg-query-stream';

const { BASELINE_DATABASE_URL, BASELINE_COPY_DATABASE_URL, BASELINE_TENANTS, BASELINE_PORT } = process.env;
/** The tenants the API measures with, in the same order: `X-Bench-Tenant: <index>` picks one (0 by default). */
const tenants = JSON.parse(BASELINE_TENANTS!) as { tenantId: string; userId: string }[];
const pool = new pg.Pool({ connectionString: BASELINE_DATABASE_URL, max: 10 });

const PRECISE = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const LEAD_COLUMNS = [
  ...['id', 'first_name', 'last_name', 'email', 'phone', 'company', 'title', 'source', 'status', 'score', 'owner_id', 'notes', 'attributes'],
  ...['created_by', 'updated_by', 'created_at', 'updated_at', 'converted_at', 'converted_account_id', 'converted_contact_id', 'converted_deal_id'],
];

async function inTenant<T>(tenantId: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query("select set_config('app.tenant_id', $1, true)", [tenantId]);
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback');
    throw error;
  } finally {
    client.release();
  }
}

async function list({ tenantId }: Caller, url: URL): Promise<unknown> {
  const limit = Number(url.searchParams.get('limit') ?? 50);
  const params: unknown[] = [tenantId];
  let where = 'leads.deleted_at is null and leads.tenant_id = $1';
  const q = url.searchParams.get('q');
  if (q) {
    params.push(q);
    where += ` and leads.search @@ websearch_to_tsquery('simple', $${params.length})`;
  }
  const cursor = url.searchParams.get('cursor');
  if (cursor) {
    const [, at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as string[];
    params.push(at, id);
    where += ` and (leads.created_at, leads.id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`;
  }
  params.push(limit + 1);
  const { rows } = await inTenant(tenantId, (client) =>
    client.query(
      `select leads.*, to_char(leads.created_at at time zone 'UTC', ${PRECISE}) as cursor_value_0 from leads
       where ${where} order by leads.created_at desc, leads.id desc limit $${params.length}`,
      params,
    ),
  );
  const page = rows.slice(0, limit).map(({ tenant_id: _tenant, search: _search, cursor_value_0: _cursor, ...row }) => row);
  const last = rows[limit - 1];
  const nextCursor = rows.length > limit && last ? Buffer.from(JSON.stringify(['-createdAt', last.cursor_value_0, last.id])).toString('base64url') : null;
  return { data: page, pagination: { limit, nextCursor, hasMore: nextCursor !== null } };
}

async function create({ tenantId, userId }: Caller, body: Record<string, string>): Promise<unknown> {
  const { rows } = await inTenant(tenantId, (client) =>
    client.query(
      `insert into leads (tenant_id, first_name, last_name, email, owner_id, created_by, updated_by) values ($1, $2, $3, $4, $5, $5, $5) returning *`,
      [tenantId, body.firstName, body.lastName, body.email, userId],
    ),
  );
  const { tenant_id: _tenant, search: _search, ...row } = rows[0];
  return { data: row };
}

async function update({ tenantId, userId }: Caller, id: string, body: Record<string, string>): Promise<unknown> {
  const { rows } = await inTenant(tenantId, (client) =>
    client.query(
      `update leads set first_name = $3, last_name = $4, updated_by = $5 where tenant_id = $1 and id = $2 and deleted_at is null returning *`,
      [tenantId, id, body.firstName, body.lastName, userId],
    ),
  );
  if (!rows[0]) return null;
  const { tenant_id: _tenant, search: _search, ...row } = rows[0];
  return { data: row };
}

/** CSV rows as they arrive, into multi-row INSERTs of 1,000 rows. */
async function importCsv({ tenantId, userId }: Caller, req: http.IncomingMessage): Promise<unknown> {
  return inTenant(tenantId, async (client) => {
    let header: string[] | undefined;
    let batch: string[][] = [];
    let created = 0;
    const flush = async () => {
      const columns = header!.map((name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
      const values: unknown[] = [];
      const tuples = batch.map((row) => {
        const start = values.length;
        values.push(tenantId, userId, userId, ...row);
        return `(${values.slice(start).map((_, index) => `$${start + index + 1}`).join(', ')})`;
      });
      await client.query(`insert into leads (tenant_id, created_by, updated_by, ${columns.join(', ')}) values ${tuples.join(', ')}`, values);
      created += batch.length;
      batch = [];
    };
    for await (const record of req.pipe(parse()) as AsyncIterable<string[]>) {
      if (!header) header = record;
      else batch.push(record);
      if (batch.length === 1000) await flush();
    }
    if (batch.length) await flush();
    return { data: { created } };
  });
}

/**
 * The floor of what an import can cost: the CSV's bytes straight into COPY, each line prefixed with the
 * columns the API stamps (tenant and author). No parsing, no checks, no undo: the rate a table takes rows.
 */
async function copyCsv({ tenantId, userId }: Caller, req: http.IncomingMessage): Promise<unknown> {
  // PostgreSQL refuses COPY FROM into a table whose row-level security applies to the role ("COPY FROM not
  // supported with row-level security"), so the floor runs as the bench's admin role, which RLS does not stop.
  const client = new pg.Client({ connectionString: BASELINE_COPY_DATABASE_URL });
  await client.connect();
  try {
    let header: string | undefined;
    let pending = '';
    let created = 0;
    const stamp = `${tenantId},${userId},${userId},`;
    const prefixLines = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        const lines = (pending + chunk.toString('utf8')).split('\n');
        pending = lines.pop()!;
        if (header === undefined) header = lines.shift();
        created += lines.length;
        callback(null, lines.map((line) => `${stamp}${line}\n`).join(''));
      },
      flush(callback) {
        if (pending) created += 1;
        callback(null, pending ? `${stamp}${pending}\n` : '');
      },
    });
    const first = await new Promise<Buffer>((resolve) => req.once('readable', () => resolve(req.read() as Buffer)));
    const columns = first.toString('utf8').split('\n')[0]!.split(',').map((name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
    req.unshift(first);
    await pipeline(req, prefixLines, client.query(copyFrom(`copy leads (tenant_id, created_by, updated_by, ${columns.join(', ')}) from stdin with (format csv)`)));
    return { data: { created } };
  } finally {
    await client.end();
  }
}

async function exportCsv({ tenantId }: Caller, res: http.ServerResponse): Promise<void> {
  await inTenant(tenantId, async (client) => {
    const rows = client.query(
      new QueryStream(`select ${LEAD_COLUMNS.join(', ')} from leads where leads.deleted_at is null and leads.tenant_id = $1 order by leads.created_at desc, leads.id desc`, [tenantId], {
        batchSize: 1000,
        highWaterMark: 1000,
      }),
    );
    const toCells = new Transform({
      objectMode: true,
      transform(row: Record<string, unknown>, _encoding, callback) {
        callback(null, Object.values(row).map((value) => (value instanceof Date ? value.toISOString() : value)));
      },
    });
    const csv = stringify({ record_delimiter: 'windows', cast: { object: (value) => JSON.stringify(value) } });
    csv.write(LEAD_COLUMNS);
    res.writeHead(200, { 'content-type': 'text/csv', 'content-disposition': 'attachment; filename="leads.csv"' });
    await pipeline(rows, toCells, csv, res);
  });
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, string>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, string>;
}

const send = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

interface Caller {
  tenantId: string;
  userId: string;
}

const LEAD_PATH = /^\/leads\/([0-9a-f-]{36})$/;

function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://baseline');
  const caller = tenants[Number(req.headers['x-bench-tenant'] ?? 0)]!;
  const path = `${req.method} ${url.pathname}`;
  const leadId = LEAD_PATH.exec(url.pathname)?.[1];
  if (path === 'GET /leads') return list(caller, url).then((body) => send(res, 200, body));
  if (path === 'POST /leads') return readJson(req).then((body) => create(caller, body)).then((body) => send(res, 201, body));
  if (req.method === 'PATCH' && leadId) return readJson(req).then((body) => update(caller, leadId, body)).then((body) => send(res, body ? 200 : 404, body));
  if (path === 'POST /leads/import/bulk') return importCsv(caller, req).then((body) => send(res, 201, body));
  if (path === 'POST /leads/import/copy') return copyCsv(caller, req).then((body) => send(res, 201, body));
  if (path === 'GET /leads/export/csv') return exportCsv(caller, res);
  send(res, 404, { error: 'not found' });
  return Promise.resolve();
}

http
  .createServer((req, res) => {
    const work = route(req, res);
    work.catch((error: Error) => (res.headersSent ? res.destroy(error) : send(res, 500, { error: error.message })));
  })
  .listen(Number(BASELINE_PORT), '127.0.0.1');
