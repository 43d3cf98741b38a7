import { randomUUID } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import request from 'supertest';
import { addMember, Member, Registered, registerTenant } from './support/api-fixtures';
import { buildTestApp, TestApp } from './support/test-app';

describe('CRM bulk import and CSV export', () => {
  let t: TestApp;
  let a: Registered;
  let b: Registered;
  let salesA: Member;
  let readOnlyA: Member;

  beforeAll(async () => {
    t = buildTestApp();
    a = await registerTenant(t.app);
    b = await registerTenant(t.app);
    salesA = await addMember(t.app, a, 'sales_user');
    readOnlyA = await addMember(t.app, a, 'read_only');
  });
  afterAll(async () => {
    await t.close();
  });

  const api = () => request(t.app);
  type Auth = { Authorization: string };
  const importCsv = (auth: Auth, resource: string, csv: string, query: Record<string, unknown> = {}) =>
    api().post(`/api/v1/${resource}/import/bulk`).query(query).set(auth).set('Content-Type', 'text/csv').send(csv);
  const importJson = (auth: Auth, resource: string, rows: unknown, query: Record<string, unknown> = {}) =>
    api().post(`/api/v1/${resource}/import/bulk`).query(query).set(auth).send(rows as object);
  const exportCsv = (auth: Auth, resource: string, query: Record<string, unknown> = {}) =>
    api().get(`/api/v1/${resource}/export/csv`).query(query).set(auth);
  const create = async (auth: Auth, resource: string, body: Record<string, unknown>) => {
    const res = await api().post(`/api/v1/${resource}`).set(auth).send(body);
    expect(res.status).toBe(201);
    return res.body.data as Record<string, unknown> & { id: string };
  };
  const read = (auth: Auth, resource: string, id: string) => api().get(`/api/v1/${resource}/${id}`).set(auth);
  const list = async (auth: Auth, resource: string, query: Record<string, unknown>) => {
    const res = await api().get(`/api/v1/${resource}`).query({ limit: 500, ...query }).set(auth);
    expect(res.status).toBe(200);
    return res.body.data as Array<Record<string, unknown>>;
  };
  const records = (text: string) => parse(text, { columns: true }) as Array<Record<string, string>>;
  /** A marker unique to one test, so that each test reads back only its own rows. */
  const tag = () => `t${randomUUID().slice(0, 8)}`;

  describe('POST /:resource/import/bulk', () => {
    it('when a CSV of leads is imported, then every row is created with its values, owner and author', async () => {
      const source = tag();
      const csv = [
        'firstName,lastName,email,status,score,source,attributes',
        `Ada,Lovelace,ada.${source}@example.com,qualified,90,${source},"{""tier"":""gold""}"`,
        `Alan,Turing,ALAN.${source}@Example.com,,,${source},`,
      ].join('\n');
      const res = await importCsv(a.auth, 'leads', csv);

      expect(res.status).toBe(201);
      expect(res.body.data).toEqual({ importId: expect.any(String), dryRun: false, created: 2, updated: 0, failed: 0, errors: [] });
      const leads = await list(a.auth, 'leads', { source, sort: 'name' });
      expect(leads).toEqual([
        expect.objectContaining({ firstName: 'Ada', email: `ada.${source}@example.com`, status: 'qualified', score: 90, attributes: { tier: 'gold' } }),
        // Empty cells leave the field out: the column's default applies.
        expect.objectContaining({ firstName: 'Alan', email: `alan.${source}@example.com`, status: 'new', score: null, attributes: {} }),
      ]);
      for (const lead of leads) expect(lead).toMatchObject({ ownerId: a.userId, createdBy: a.userId, updatedBy: a.userId });
    });

    it('when a JSON array of contacts naming an account of the tenant is imported, then they are linked to it', async () => {
      const account = await create(a.auth, 'accounts', { name: `Acme ${tag()}` });
      const res = await importJson(a.auth, 'contacts', [
        { firstName: 'Grace', email: `grace.${tag()}@example.com`, accountId: account.id, address: { city: 'Arlington', country: 'us' } },
        { firstName: 'Edsger', accountId: account.id },
      ]);

      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ created: 2, updated: 0, failed: 0 });
      const contacts = await list(a.auth, 'contacts', { accountId: account.id });
      expect(contacts.map((contact) => contact.firstName).sort()).toEqual(['Edsger', 'Grace']);
      expect(contacts.find((contact) => contact.firstName === 'Grace')).toMatchObject({ address: { city: 'Arlington', country: 'US' } });
    });

    it('when a JSON body is larger than the 1 MB limit of other routes, then the import still takes it', async () => {
      const source = tag();
      const rows = Array.from({ length: 3000 }, (_, index) => ({ firstName: `Bulk ${index}`, source, notes: 'x'.repeat(400) }));
      expect(JSON.stringify(rows).length).toBeGreaterThan(1024 * 1024);

      const res = await importJson(a.auth, 'leads', rows);
      expect(res.status).toBe(201);
      expect(res.body.data.created).toBe(3000);
      const tooLarge = await api().post('/api/v1/leads').set(a.auth).send({ firstName: 'Big', notes: 'x'.repeat(1024 * 1024) });
      expect(tooLarge.status).toBe(413);
      expect(tooLarge.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    });

    it('when it is a dry run, then the report comes back and nothing is stored', async () => {
      const source = tag();
      const existing = await create(a.auth, 'leads', { firstName: 'Kept', email: `kept.${source}@example.com`, source });
      const csv = `firstName,email,source\nNew,new.${source}@example.com,${source}\nChanged,kept.${source}@example.com,${source}\n`;

      const res = await importCsv(a.auth, 'leads', csv, { dryRun: true, upsertBy: 'email' });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ importId: null, dryRun: true, created: 1, updated: 1, failed: 0, errors: [] });
      expect(await list(a.auth, 'leads', { source })).toEqual([expect.objectContaining({ id: existing.id, firstName: 'Kept' })]);
    });

    it('when rows are invalid in all-or-nothing mode, then the answer is a 400 naming each row and field, and nothing is stored', async () => {
      const source = tag();
      const csv = [
        'firstName,email,status,score,source',
        `Valid,valid.${source}@example.com,new,10,${source}`,
        `Bad Email,not-an-email,new,10,${source}`,
        `Bad Status,status.${source}@example.com,unheard_of,101,${source}`,
      ].join('\n');
      const res = await importCsv(a.auth, 'leads', csv);

      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(res.body.error.details.map((d: { row: number; field: string }) => [d.row, d.field])).toEqual([
        [2, 'email'],
        [3, 'status'],
        [3, 'score'],
      ]);
      expect(await list(a.auth, 'leads', { source })).toEqual([]);
    });

    it('when rows are invalid in valid-only mode, then the valid rows are stored and the others reported', async () => {
      const source = tag();
      const rows = [
        { firstName: 'One', source },
        { firstName: 'Two', source, email: 'nope' },
        { firstName: 'Three', source, notes: '<script>alert(1)</script>' },
        'not an object',
        { firstName: 'Five', source },
      ];
      const res = await importJson(a.auth, 'leads', rows, { mode: 'valid-only' });

      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ created: 2, updated: 0, failed: 3 });
      expect(res.body.data.errors).toEqual([
        { row: 2, field: 'email', message: expect.stringContaining('valid email') },
        { row: 3, field: 'notes', message: expect.stringContaining('markup') },
        { row: 4, message: expect.any(String) },
      ]);
      expect((await list(a.auth, 'leads', { source, sort: 'createdAt' })).map((lead) => lead.firstName).sort()).toEqual(['Five', 'One']);
    });

    it('when a column is not a field, then the whole import is a 400 naming it', async () => {
      const res = await importCsv(a.auth, 'leads', 'firstName,fullName,tenantId\nAda,Ada Lovelace,x\n');
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toEqual(['fullName', 'tenantId']);
      const json = await importJson(a.auth, 'leads', [{ firstName: 'Ada' }, { id: randomUUID() }]);
      expect(json.status).toBe(400);
      expect(json.body.error.details).toEqual([{ field: 'id', message: 'is not a field of leads' }]);
    });

    it('when the CSV is malformed or empty, then the answer is a 400', async () => {
      expect((await importCsv(a.auth, 'leads', 'firstName,lastName\n"unclosed,Lovelace\n')).status).toBe(400);
      expect((await importCsv(a.auth, 'leads', 'firstName,lastName\nAda\n')).status).toBe(400);
      expect((await importCsv(a.auth, 'leads', 'firstName,firstName\nAda,Ada\n')).status).toBe(400);
      expect((await importCsv(a.auth, 'leads', 'firstName\n')).status).toBe(400);
      expect((await importJson(a.auth, 'leads', { firstName: 'not an array' })).status).toBe(400);
    });

    it('when upsertBy=email names existing leads, then they are updated instead of duplicated', async () => {
      const source = tag();
      const existing = await create(a.auth, 'leads', { firstName: 'Old', lastName: 'Name', email: `up.${source}@example.com`, source, score: 5 });
      const csv = `email,firstName,lastName,score,source\nUP.${source}@example.com,New,,50,${source}\nfresh.${source}@example.com,Fresh,Lead,1,${source}\n`;

      const res = await importCsv(a.auth, 'leads', csv, { upsertBy: 'email' });
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ created: 1, updated: 1, failed: 0 });
      const leads = await list(a.auth, 'leads', { source });
      expect(leads).toHaveLength(2);
      // The empty lastName cell keeps the stored value.
      expect((await read(a.auth, 'leads', existing.id)).body.data).toMatchObject({ firstName: 'New', lastName: 'Name', score: 50 });
    });

    it('when two rows share an upsert key, then the later one is reported', async () => {
      const source = tag();
      const res = await importJson(a.auth, 'leads', [{ email: `twice.${source}@example.com` }, { email: `TWICE.${source}@example.com` }], {
        upsertBy: 'email',
        mode: 'valid-only',
      });
      expect(res.body.data).toMatchObject({ created: 1, failed: 1, errors: [{ row: 2, field: 'email', message: 'repeats the email of row 1' }] });
    });

    it('when upsertBy names a field that is no upsert key, then the answer is a 400', async () => {
      expect((await importJson(a.auth, 'leads', [{ firstName: 'A' }], { upsertBy: 'firstName' })).status).toBe(400);
      expect((await importJson(a.auth, 'deals', [{ name: 'A' }], { upsertBy: 'name' })).status).toBe(400);
    });

    it('when rows name records of another tenant, then those rows are refused', async () => {
      const foreignAccount = await create(b.auth, 'accounts', { name: `Foreign ${tag()}` });
      const res = await importJson(a.auth, 'contacts', [{ firstName: 'Spy', accountId: foreignAccount.id }, { firstName: 'Spy', ownerId: b.userId }]);

      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([
        { row: 1, field: 'accountId', message: 'does not name an existing account' },
        { row: 2, field: 'ownerId', message: 'does not name an existing user' },
      ]);
      expect(await list(b.auth, 'contacts', { accountId: foreignAccount.id })).toEqual([]);
    });

    it('when a sales user imports records for someone outside their team, then those rows are refused', async () => {
      const res = await importJson(salesA.auth, 'leads', [{ firstName: 'Mine' }, { firstName: 'Theirs', ownerId: a.userId }], { mode: 'valid-only' });
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ created: 1, failed: 1, errors: [{ row: 2, field: 'ownerId' }] });
    });

    it('when tickets are imported, then each gets its own number after the ones already given', async () => {
      const before = await create(a.auth, 'tickets', { subject: 'Before the import' });
      const res = await importCsv(a.auth, 'tickets', 'subject,priority,status\nFirst,high,open\nSecond,low,resolved\n');
      expect(res.status).toBe(201);
      const after = await create(a.auth, 'tickets', { subject: 'After the import' });

      const numberOf = (ticket: Record<string, unknown>) => Number(String(ticket.number).slice(4));
      const imported = (await list(a.auth, 'tickets', { sort: 'number' })).filter((ticket) => ['First', 'Second'].includes(ticket.subject as string));
      expect(imported.map(numberOf)).toEqual([numberOf(before) + 1, numberOf(before) + 2]);
      expect(numberOf(after)).toBe(numberOf(before) + 3);
      expect(imported[1]).toMatchObject({ status: 'resolved', resolvedAt: expect.any(String) });
    });

    it('when deals and tasks are imported, then their defaults and related-record checks apply as on create', async () => {
      const lead = await create(a.auth, 'leads', { firstName: 'Related' });
      const deals = await importJson(a.auth, 'deals', [{ name: `Deal ${tag()}`, stage: 'proposal', amount: 1000 }]);
      expect(deals.status).toBe(201);
      const deal = (await list(a.auth, 'deals', { stage: 'proposal' })).find((row) => row.amount === 1000 && row.probability === 50);
      expect(deal).toBeDefined();

      const tasks = await importJson(
        a.auth,
        'tasks',
        [
          { title: 'Call back', relatedType: 'lead', relatedId: lead.id, status: 'done' },
          { title: 'Half a link', relatedType: 'lead' },
          { title: 'Dangling', relatedType: 'deal', relatedId: randomUUID() },
        ],
        { mode: 'valid-only' },
      );
      expect(tasks.body.data).toMatchObject({
        created: 1,
        failed: 2,
        errors: [
          { row: 2, field: 'relatedId', message: 'is required with the other' },
          { row: 3, field: 'relatedId', message: 'does not name an existing deal' },
        ],
      });
      const [task] = await list(a.auth, 'tasks', { relatedId: lead.id });
      expect(task).toMatchObject({ title: 'Call back', completedAt: expect.any(String) });
    });

    it('when an import spans several chunks, then rows far apart are checked against each other and all-or-nothing leaves nothing behind', async () => {
      const source = tag();
      const header = 'firstName,email,source';
      const line = (index: number) => `Row ${index},row${index}.${source}@example.com,${source}`;
      const lines = Array.from({ length: 5000 }, (_, index) => line(index + 1));
      lines[4499] = `Bad,not-an-email,${source}`;
      lines[4599] = `Again,ROW3.${source}@example.com,${source}`;
      const csv = [header, ...lines].join('\n');

      const refused = await importCsv(a.auth, 'leads', csv, { upsertBy: 'email' });
      expect(refused.status).toBe(400);
      expect(refused.body.error.details).toEqual([
        { row: 4500, field: 'email', message: expect.stringContaining('valid email') },
        { row: 4600, field: 'email', message: 'repeats the email of row 3' },
      ]);
      expect(records((await exportCsv(a.auth, 'leads', { source })).text)).toEqual([]);

      const imported = await importCsv(a.auth, 'leads', csv, { upsertBy: 'email', mode: 'valid-only' });
      expect(imported.status).toBe(201);
      expect(imported.body.data).toMatchObject({ created: 4998, updated: 0, failed: 2 });
      const exported = records((await exportCsv(a.auth, 'leads', { source, sort: 'createdAt' })).text);
      expect(exported).toHaveLength(4998);
      expect(new Set(exported.map((row) => row.email)).size).toBe(4998);
      const undone = await api().post(`/api/v1/imports/${imported.body.data.importId}/undo`).set(a.auth);
      // The status and any error travel with the figures, so a failure says what the server answered.
      expect({ status: undone.status, error: undone.body.error, data: undone.body.data }).toMatchObject({ status: 200, data: { deleted: 4998, restored: 0 } });
    }, 120_000);

    it('when the body holds more than 100,000 rows, then it is refused as too large', async () => {
      const csv = `firstName\n${'x\n'.repeat(100_001)}`;
      const res = await importCsv(a.auth, 'leads', csv);
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
      const json = await importJson(a.auth, 'leads', Array.from({ length: 100_001 }, () => ({})));
      expect(json.status).toBe(413);
    });

    it('when the caller lacks the plan feature, the permission or a token, then the import is refused', async () => {
      const free = await registerTenant(t.app, { plan: 'free' });
      const gated = await importCsv(free.auth, 'leads', 'firstName\nAda\n');
      expect(gated.status).toBe(402);
      expect(gated.body.error.code).toBe('PLAN_FEATURE_UNAVAILABLE');
      expect((await importCsv(readOnlyA.auth, 'leads', 'firstName\nAda\n')).status).toBe(403);
      expect((await api().post('/api/v1/leads/import/bulk').set('Content-Type', 'text/csv').send('firstName\nAda\n')).status).toBe(401);
    });
  });

  describe('audit', () => {
    const entries = async (query: Record<string, string>) => {
      const res = await api().get('/api/v1/audit-logs').query(query).set(a.auth);
      expect(res.status).toBe(200);
      return res.body.data as Array<{ action: string; changes: Record<string, { after: unknown }> }>;
    };

    it('when an import, an export and an undo run, then each leaves one entry with its counts, not one per row', async () => {
      const source = tag();
      const imported = await importJson(a.auth, 'leads', [{ firstName: 'One', source }, { firstName: 'Two', source }]);
      await exportCsv(a.auth, 'leads', { source });
      await api().post(`/api/v1/imports/${imported.body.data.importId}/undo`).set(a.auth);

      const importId = imported.body.data.importId as string;
      const [entry, ...others] = await entries({ resourceId: importId });
      expect(others.map((other) => other.action)).toEqual(['lead.import']);
      expect(entry).toMatchObject({ action: 'lead.import_undo', changes: { deleted: { after: 2 }, restored: { after: 0 } } });
      expect(others[0]).toMatchObject({ changes: { created: { after: 2 }, updated: { after: 0 }, failed: { after: 0 }, mode: { after: 'all-or-nothing' } } });
      const [exported] = await entries({ action: 'lead.export' });
      expect(exported).toMatchObject({ changes: { rows: { after: 2 }, filters: { after: { source } } } });
    });
  });

  describe('POST /imports/:importId/undo', () => {
    it('when an import is undone, then the rows it created are gone and the rows it updated are back as they were', async () => {
      const source = tag();
      const kept = await create(a.auth, 'leads', {
        firstName: 'Kept',
        lastName: 'Before',
        email: `undo.${source}@example.com`,
        source,
        score: 7,
        attributes: { plan: 'basic' },
      });
      const original = (await read(a.auth, 'leads', kept.id)).body.data;
      const imported = await importJson(
        a.auth,
        'leads',
        [
          { email: `undo.${source}@example.com`, firstName: 'Changed', lastName: null, score: 99, attributes: { plan: 'premium' } },
          { email: `new.${source}@example.com`, firstName: 'Created', source },
        ],
        { upsertBy: 'email' },
      );
      expect(imported.body.data).toMatchObject({ created: 1, updated: 1 });
      const createdId = (await list(a.auth, 'leads', { email: `new.${source}@example.com` }))[0]!.id as string;

      const undo = await api().post(`/api/v1/imports/${imported.body.data.importId}/undo`).set(a.auth);
      expect(undo.status).toBe(200);
      expect(undo.body.data).toEqual({ importId: imported.body.data.importId, status: 'undone', deleted: 1, restored: 1 });
      expect((await read(a.auth, 'leads', createdId)).status).toBe(404);
      const restored = (await read(a.auth, 'leads', kept.id)).body.data;
      const { updatedAt: _at, updatedBy: _by, ...fields } = original;
      expect(restored).toMatchObject(fields);
      expect(await list(a.auth, 'leads', { source })).toHaveLength(1);

      const again = await api().post(`/api/v1/imports/${imported.body.data.importId}/undo`).set(a.auth);
      expect(again.status).toBe(409);
    });

    it('when another tenant or an unknown id is named, then the answer is a 404', async () => {
      const imported = await importJson(a.auth, 'accounts', [{ name: `Undo me ${tag()}` }]);
      expect((await api().post(`/api/v1/imports/${imported.body.data.importId}/undo`).set(b.auth)).status).toBe(404);
      expect((await api().post(`/api/v1/imports/${randomUUID()}/undo`).set(a.auth)).status).toBe(404);
      expect((await api().post('/api/v1/imports/not-a-uuid/undo').set(a.auth)).status).toBe(400);
    });

    it("when the caller cannot write the import's resource, then the answer is a 403", async () => {
      const imported = await importJson(a.auth, 'tickets', [{ subject: `Undo ${tag()}` }]);
      expect((await api().post(`/api/v1/imports/${imported.body.data.importId}/undo`).set(salesA.auth)).status).toBe(403);
    });
  });

  describe('GET /:resource/export/csv', () => {
    it('when leads are exported, then the CSV quotes commas, quotes and newlines and defuses formulas', async () => {
      const source = tag();
      const tricky = 'Line one, with a comma\nand "quotes" on line two';
      await create(a.auth, 'leads', { firstName: '=HYPERLINK("http://evil.example")', lastName: 'Plain', notes: tricky, source, attributes: { tier: 'a,b' } });
      await create(a.auth, 'leads', { firstName: '@SUM(1)', lastName: '-2+3', phone: '+1 555 0100', source });

      const res = await exportCsv(a.auth, 'leads', { source, sort: 'name' });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      const today = new Date().toISOString().slice(0, 10).replaceAll('-', '');
      expect(res.headers['content-disposition']).toBe(`attachment; filename="leads-${today}.csv"`);

      const rows = records(res.text);
      expect(Object.keys(rows[0]!).slice(0, 3)).toEqual(['id', 'firstName', 'lastName']);
      expect(rows).toEqual([
        expect.objectContaining({ firstName: "'@SUM(1)", lastName: "'-2+3", phone: "'+1 555 0100" }),
        expect.objectContaining({ firstName: `'=HYPERLINK("http://evil.example")`, lastName: 'Plain', notes: tricky }),
      ]);
      expect(JSON.parse(rows[1]!.attributes!)).toEqual({ tier: 'a,b' });
      expect(rows[0]).not.toHaveProperty('tenantId');
      expect(rows[0]).not.toHaveProperty('search');
      expect(rows[0]!.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    });

    it('when filters and q are given, then only the rows the list would show are exported, in its order', async () => {
      const source = tag();
      for (const [firstName, status] of [
        ['Zed', 'qualified'],
        ['Amy', 'qualified'],
        ['Bob', 'lost'],
      ]) {
        await create(a.auth, 'leads', { firstName, lastName: source, status, source });
      }
      const filtered = records((await exportCsv(a.auth, 'leads', { source, status: 'qualified', sort: '-createdAt' })).text);
      expect(filtered.map((row) => row.firstName)).toEqual(['Amy', 'Zed']);
      const searched = records((await exportCsv(a.auth, 'leads', { q: `${source} bob` })).text);
      expect(searched.map((row) => row.firstName)).toEqual(['Bob']);
      const none = await exportCsv(a.auth, 'leads', { source: tag() });
      expect(records(none.text)).toEqual([]);
      expect(none.text.split('\r\n')[0]).toMatch(/^id,firstName,/);
    });

    it('when more rows than one page match, then each comes out once, in the order asked', async () => {
      const source = tag();
      const rows = Array.from({ length: 2500 }, (_, index) => ({ firstName: `Row ${index}`, lastName: String(index).padStart(4, '0'), source }));
      expect((await importJson(a.auth, 'leads', rows)).status).toBe(201);

      const exported = records((await exportCsv(a.auth, 'leads', { source, sort: 'name' })).text);
      expect(exported.map((row) => row.lastName)).toEqual(rows.map((row) => row.lastName));
    });

    it('when tickets are exported, then numbers appear as the API shows them', async () => {
      const ticket = await create(a.auth, 'tickets', { subject: `Export ${tag()}` });
      const rows = records((await exportCsv(a.auth, 'tickets')).text);
      expect(rows.find((row) => row.id === ticket.id)).toMatchObject({ number: ticket.number, subject: ticket.subject });
    });

    it('when another tenant exports, then none of these rows are in it', async () => {
      const source = tag();
      await create(a.auth, 'leads', { firstName: 'Private', source });
      expect(records((await exportCsv(b.auth, 'leads', { source })).text)).toEqual([]);
      expect(records((await exportCsv(b.auth, 'leads')).text).map((row) => row.source)).not.toContain(source);
    });

    it('when the query pages or is unknown, or the caller lacks the export permission, then the export is refused', async () => {
      expect((await exportCsv(a.auth, 'leads', { limit: 10 })).status).toBe(400);
      expect((await exportCsv(a.auth, 'leads', { cursor: 'x' })).status).toBe(400);
      expect((await exportCsv(a.auth, 'leads', { colour: 'red' })).status).toBe(400);
      expect((await exportCsv(salesA.auth, 'leads')).status).toBe(403);
      expect((await api().get('/api/v1/leads/export/csv')).status).toBe(401);
    });
  });
});
