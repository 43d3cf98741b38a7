/** What the benchmarks and the profiler set up: tenants through the API, leads straight into PostgreSQL. */
import { randomBytes, randomUUID } from 'node:crypto';
import { encodeCursor } from '../src/lib/pagination';
import { withClient } from '../test/support/test-database';
import { send } from './processes';

const PRECISE = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/** The API's environment in a benchmark: production mode, this run's own Redis keys, long-lived tokens. */
export const apiEnvironment = (adminUrl: string, port: number): Record<string, string | undefined> => ({
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  PORT: String(port),
  DATABASE_URL: adminUrl,
  REDIS_URL: process.env.REDIS_URL,
  // Counters of this run only: sign-up limits of earlier runs must not refuse this one.
  REDIS_KEY_PREFIX: `bench:${randomUUID().slice(0, 8)}:`,
  // `npm run bench` signs up ten tenants from one address: more than the default sign-up budget per IP.
  RATE_LIMIT_SIGNUP_MAX: '50',
  JWT_SECRET: randomBytes(32).toString('hex'),
  ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  ACCESS_TOKEN_TTL_SECONDS: '86400',
  BCRYPT_COST: '10',
  LOG_LEVEL: 'info',
});

export interface Owner {
  tenantId: string;
  userId: string;
  token: string;
}

/** Inserts `count` leads for the tenant in one statement; returns the seconds it took (with VACUUM ANALYZE). */
export async function seedLeads(adminUrl: string, tenantId: string, userId: string, count: number): Promise<number> {
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
      [tenantId, userId, count],
    );
    await client.query('commit');
    await client.query('vacuum analyze leads');
  });
  return (performance.now() - started) / 1000;
}

/** The cursor the API gives out for the page that starts after `offset` leads. */
export async function cursorAfter(adminUrl: string, tenantId: string, offset: number): Promise<string> {
  return withClient(adminUrl, async (client) => {
    await client.query('begin');
    await client.query("select set_config('app.tenant_id', $1, true)", [tenantId]);
    const { rows } = await client.query(
      `select to_char(created_at at time zone 'UTC', ${PRECISE}) as at, id from leads where tenant_id = $2 and deleted_at is null
       order by created_at desc, id desc offset $1 limit 1`,
      [offset, tenantId],
    );
    await client.query('commit');
    return encodeCursor(['-createdAt', rows[0].at, rows[0].id]);
  });
}

/** A CSV of `rows` new leads, with unique e-mails (an import of it inserts every row). */
export function importCsv(rows: number): string {
  const lines = ['firstName,lastName,email,company,source,status,score'];
  for (let i = 1; i <= rows; i += 1) {
    lines.push(`Imported${i},Bulk${i % 1000},imported${i}-${randomUUID().slice(0, 8)}@example.com,Importer ${i % 300},import,contacted,${i % 101}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Signs a new tenant up through the API and returns its owner's ids and access token. */
export async function register(apiUrl: string, plan: string): Promise<Owner> {
  const attempt = () =>
    send(`${apiUrl}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `bench-${randomUUID().slice(0, 8)}@example.com`, password: 'Bench-Passw0rd', firstName: 'Bench', lastName: 'Owner', company: `Bench ${randomUUID().slice(0, 8)}`, plan }),
    });
  let registered = await attempt();
  // Sign-up fails closed (503) until the API's Redis connection is up, which may follow /ready on a busy machine.
  for (let retries = 0; registered.status === 503 && retries < 20; retries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    registered = await attempt();
  }
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${registered.text}`);
  const { user, tenant, tokens } = JSON.parse(registered.text).data;
  return { tenantId: tenant.id, userId: user.id, token: tokens.accessToken };
}

/** Ids of the tenant's newest 10,000 leads, for PATCH: each request updates a random one, so writers rarely wait on one row. */
export async function leadIds(adminUrl: string, tenantId: string): Promise<string[]> {
  return withClient(adminUrl, async (client) => {
    await client.query('begin');
    await client.query("select set_config('app.tenant_id', $1, true)", [tenantId]);
    // adminUrl's role may be a superuser, which row-level security does not stop: filter by tenant as well.
    const { rows } = await client.query<{ id: string }>('select id from leads where tenant_id = $1 and deleted_at is null order by created_at desc limit 10000', [tenantId]);
    await client.query('commit');
    return rows.map((row) => row.id);
  });
}
