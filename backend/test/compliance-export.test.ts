import { promisify } from 'node:util';
import request from 'supertest';
import yauzl from 'yauzl';
import { tenantTableNames } from '../src/modules/compliance/tenant-tables';
import { addMember, Member, registerTenant, Registered } from './support/api-fixtures';
import { TestJobRunner } from './support/jobs';
import { buildTestApp, TestApp } from './support/test-app';

const fromBuffer = promisify(yauzl.fromBuffer) as (buffer: Buffer, options: yauzl.Options) => Promise<yauzl.ZipFile>;

/** Every entry of a zip, by name, as text. */
async function unzip(buffer: Buffer): Promise<Record<string, string>> {
  const zip = await fromBuffer(buffer, { lazyEntries: true });
  const files: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', () => resolve());
    zip.on('entry', (entry: yauzl.Entry) => {
      zip.openReadStream(entry, (error, stream) => {
        if (error || !stream) return reject(error);
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          files[entry.fileName] = Buffer.concat(chunks).toString('utf8');
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
  return files;
}

const binary = (res: request.Response, done: (error: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => done(null, Buffer.concat(chunks)));
};

/** The export's own content, and staff's notes on support tickets (the platform's, never the tenant's). */
const NOT_EXPORTED = ['data_export_chunks', 'lead_rollups', 'support_ticket_notes'];

describe('organization export', () => {
  let t: TestApp;
  let jobs: TestJobRunner;
  let admin: Registered;
  let other: Registered;
  let sales: Member;
  let apiKey: string;
  let jsonExportId: string;

  const api = (caller: { auth: Record<string, string> }) => ({
    get: (path: string) => request(t.app).get(`/api/v1${path}`).set(caller.auth),
    post: (path: string, body?: object) => request(t.app).post(`/api/v1${path}`).set(caller.auth).send(body),
  });

  /** Lets the tenant export again, as if its last request were two hours old. */
  const forgetLastExport = (tenantId: string) =>
    jobs.owner('data_exports').where({ tenant_id: tenantId }).update({ created_at: jobs.owner.raw("now() - interval '2 hours'") });

  beforeAll(async () => {
    t = buildTestApp();
    jobs = new TestJobRunner(t);
    admin = await registerTenant(t.app);
    other = await registerTenant(t.app);
    sales = await addMember(t.app, admin, 'sales_user');
    await api(admin).post('/leads', { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', notes: '=HYPERLINK("http://evil.example")' }).expect(201);
    // With an Idempotency-Key the creation answer (holding the key, shown once) is stored: it must not leak into the export.
    const key = await request(t.app).post('/api/v1/api-keys').set(admin.auth).set('Idempotency-Key', 'export-key-1').send({ name: 'integration', role: 'read_only' });
    expect(key.status).toBe(201);
    apiKey = key.body.data.key;
    await api(admin).post('/users', { email: 'invited@example.com', firstName: 'Ivy', lastName: 'Invited', role: 'read_only' }).expect(201);
  });
  afterAll(async () => {
    await jobs.close();
    await t.close();
  });

  it('when an admin asks for an export, then it is accepted (202) as pending and listed', async () => {
    const res = await api(admin).post('/organization/export-data');
    expect(res.status).toBe(202);
    expect(res.body.data).toEqual({ exportId: expect.any(String), status: 'pending' });
    jsonExportId = res.body.data.exportId;
    const list = await api(admin).get('/organization/export-data');
    expect(list.status).toBe(200);
    expect(list.body.data).toEqual([expect.objectContaining({ id: jsonExportId, format: 'json', status: 'pending', requestedBy: admin.userId, sizeBytes: null })]);
    expect(list.body.pagination).toEqual({ limit: 50, nextCursor: null, hasMore: false });
  });

  it('when a second export is asked within the hour, then 429 RATE_LIMITED with Retry-After', async () => {
    const res = await api(admin).post('/organization/export-data', { format: 'csv' });
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('RATE_LIMITED');
    const retryAfter = Number(res.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(3500);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    // Another tenant has its own allowance.
    expect((await api(other).post('/organization/export-data')).status).toBe(202);
  });

  it('when the export is not written yet, then its download is 409', async () => {
    const res = await api(admin).get(`/organization/export-data/${jsonExportId}/download`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('CONFLICT');
  });

  it('when the job has run, then the JSON holds every tenant table and no credential of the tenant', async () => {
    await jobs.runUntilIdle(admin.tenantId);
    const list = await api(admin).get('/organization/export-data');
    const listed = list.body.data[0];
    expect(listed).toMatchObject({ status: 'completed', completedAt: expect.any(String), expiresAt: expect.any(String) });
    expect(new Date(listed.expiresAt).getTime() - new Date(listed.completedAt).getTime()).toBeCloseTo(7 * 86_400_000, -4);

    const res = await api(admin).get(`/organization/export-data/${jsonExportId}/download`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="organization-export-\d{4}-\d{2}-\d{2}\.json"$/);
    expect(Number(res.headers['content-length'] ?? res.text.length)).toBeGreaterThan(0);
    expect(Buffer.byteLength(res.text)).toBe(listed.sizeBytes);
    const document = JSON.parse(res.text);
    expect(document).toMatchObject({ format: 'crm-organization-export', version: 1, organization: { id: admin.tenantId } });

    const expectedTables = (await tenantTableNames(jobs.owner)).filter((table) => !NOT_EXPORTED.includes(table));
    expect(Object.keys(document.tables).sort()).toEqual(expectedTables.sort());
    expect(document.tables.leads).toEqual([expect.objectContaining({ first_name: 'Ada', email: 'ada@example.com', tenant_id: admin.tenantId })]);
    expect(document.tables.users.map((user: { email: string }) => user.email).sort()).toEqual([admin.email, sales.email, 'invited@example.com'].sort());
    for (const user of document.tables.users) expect(Object.keys(user).filter((column) => /hash|secret|token/.test(column))).toEqual([]);
    expect(document.tables.audit_logs.length).toBeGreaterThan(0);
    for (const rows of Object.values(document.tables) as Array<Array<{ tenant_id: string }>>) {
      for (const row of rows) expect(row.tenant_id).toBe(admin.tenantId);
    }

    // Every credential the database holds for this tenant, searched for in the whole file.
    const secrets = [
      ...(await jobs.owner('users').where({ tenant_id: admin.tenantId }).whereNotNull('password_hash').pluck('password_hash')),
      ...(await jobs.owner('users').where({ tenant_id: admin.tenantId }).whereNotNull('invite_token_hash').pluck('invite_token_hash')),
      ...(await jobs.owner('refresh_tokens').where({ tenant_id: admin.tenantId }).pluck('token_hash')),
      ...(await jobs.owner('api_keys').where({ tenant_id: admin.tenantId }).pluck('key_hash')),
      apiKey,
    ];
    expect(secrets.length).toBeGreaterThanOrEqual(7);
    for (const secret of secrets) expect(res.text).not.toContain(secret);
    expect(res.text).not.toContain('key_material');
    expect(res.text).not.toContain('"response_body"');
  });

  it('when a CSV export is written, then the zip holds one CSV per table, formulas defused, no credentials', async () => {
    await forgetLastExport(admin.tenantId);
    const accepted = await request(t.app).post('/api/v1/organization/export-data?format=csv').set(admin.auth);
    expect(accepted.status).toBe(202);
    await jobs.runUntilIdle(admin.tenantId);
    const res = await api(admin).get(`/organization/export-data/${accepted.body.data.exportId}/download`).buffer(true).parse(binary);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/zip');
    const files = await unzip(res.body as Buffer);
    const expectedTables = (await tenantTableNames(jobs.owner)).filter((table) => !NOT_EXPORTED.includes(table));
    expect(Object.keys(files).sort()).toEqual(['organization.csv', ...expectedTables.map((table) => `${table}.csv`)].sort());
    const [header, ...rows] = files['users.csv']!.trim().split('\n');
    expect(header).toContain('email');
    expect(header).not.toMatch(/hash|secret|token/);
    expect(rows).toHaveLength(3);
    expect(files['leads.csv']).toContain(`"'=HYPERLINK(""http://evil.example"")"`);
    expect(files['organization.csv']).toContain(admin.tenantId);
    const everything = Object.values(files).join('\n');
    const hashes = await jobs.owner('users').where({ tenant_id: admin.tenantId }).whereNotNull('password_hash').pluck('password_hash');
    for (const secret of [...hashes, apiKey]) expect(everything).not.toContain(secret);
  });

  it('when exports are requested and downloaded, then both are audited', async () => {
    const requested = await api(admin).get('/audit-logs?action=organization.export_request');
    expect(requested.body.data).toHaveLength(2);
    expect(requested.body.data[0]).toMatchObject({ resourceType: 'data_export', changes: { format: { before: null, after: 'csv' } } });
    const downloaded = await api(admin).get('/audit-logs?action=organization.export_download');
    expect(downloaded.body.data.map((entry: { resourceId: string }) => entry.resourceId)).toContain(jsonExportId);
  });

  it('when an export expires, then the job deletes its content and the download is 404', async () => {
    const chunks = async () => Number((await jobs.owner('data_export_chunks').where({ tenant_id: admin.tenantId, export_id: jsonExportId }).count('* as n').first())?.n);
    expect(await chunks()).toBeGreaterThan(0);
    await jobs.owner('data_exports').where({ tenant_id: admin.tenantId, id: jsonExportId }).update({ expires_at: jobs.owner.raw("now() - interval '1 minute'") });
    expect((await api(admin).get(`/organization/export-data/${jsonExportId}/download`)).status).toBe(404);
    await jobs.enqueueScheduled('organization.export_expiry');
    await jobs.runUntilIdle();
    const list = await api(admin).get('/organization/export-data');
    expect(list.body.data.find((row: { id: string }) => row.id === jsonExportId).status).toBe('expired');
    expect(await chunks()).toBe(0);
    expect((await api(admin).get(`/organization/export-data/${jsonExportId}/download`)).status).toBe(404);
  });

  it('when an organization already has exports, then a new request keeps only the newest 3 (the pending one included) and their content', async () => {
    const keeper = await registerTenant(t.app);
    const inTenant = <T>(fn: (trx: typeof jobs.owner) => Promise<T>) =>
      jobs.owner.transaction(async (trx) => {
        await trx.raw("select set_config('app.tenant_id', ?, true)", [keeper.tenantId]);
        return fn(trx as unknown as typeof jobs.owner);
      });
    const old = await inTenant(async (trx) => {
      const ids: string[] = [];
      for (let hoursAgo = 5; hoursAgo >= 2; hoursAgo--) {
        const [row] = await trx('data_exports')
          .insert({ tenant_id: keeper.tenantId, format: 'json', status: 'completed', created_at: trx.raw(`now() - interval '${hoursAgo} hours'`) })
          .returning('id');
        await trx('data_export_chunks').insert({ tenant_id: keeper.tenantId, export_id: (row as { id: string }).id, seq: 0, content: Buffer.from('{}') });
        ids.push((row as { id: string }).id);
      }
      return ids;
    });
    const res = await api(keeper).post('/organization/export-data');
    expect(res.status).toBe(202);
    const listed = (await api(keeper).get('/organization/export-data')).body.data as Array<{ id: string }>;
    expect(listed.map((row) => row.id)).toEqual([old[2], old[3], res.body.data.exportId]);
    const chunks = await inTenant((trx) => trx('data_export_chunks').where({ tenant_id: keeper.tenantId }).pluck('export_id'));
    expect(chunks.sort()).toEqual([old[2], old[3]].sort());
  });

  it('when another tenant asks for the export, then it is 404 and not listed', async () => {
    expect((await api(other).get(`/organization/export-data/${jsonExportId}/download`)).status).toBe(404);
    const list = await api(other).get('/organization/export-data');
    expect(list.body.data.map((row: { id: string }) => row.id)).not.toContain(jsonExportId);
  });

  it('when the request is malformed, unauthenticated or not an admin, then 400, 401, 403', async () => {
    expect((await request(t.app).post('/api/v1/organization/export-data?format=xml').set(admin.auth)).status).toBe(400);
    expect((await api(admin).post('/organization/export-data', { format: 'json', extra: 1 })).status).toBe(400);
    expect((await api(admin).get('/organization/export-data/not-a-uuid/download')).status).toBe(400);
    expect((await api(admin).get('/organization/export-data?cursor=nope')).status).toBe(400);
    expect((await request(t.app).get('/api/v1/organization/export-data')).status).toBe(401);
    expect((await request(t.app).post('/api/v1/organization/export-data')).status).toBe(401);
    const forbidden = await api(sales).post('/organization/export-data');
    expect(forbidden.status).toBe(403);
    expect((await api(sales).get('/organization/export-data')).status).toBe(403);
    expect((await api(sales).get(`/organization/export-data/${jsonExportId}/download`)).status).toBe(403);
  });
});
