import { randomUUID } from 'node:crypto';
import { createCrmTenant, CrmTenant, crmWorld, errorFields, inTenant } from './support/crm-fixtures';

describe('custom fields', () => {
  const world = crmWorld();
  const api = () => world.api();
  const admin = () => world.a.users.admin.auth;
  const field = async (tenant: CrmTenant, body: Record<string, unknown>) => {
    const res = await api().post('/api/v1/custom-fields').set(tenant.users.admin.auth).send({ resource: 'leads', label: 'A field', ...body });
    expect(res.status).toBe(201);
    return res.body.data as { id: string; key: string };
  };
  const key = (prefix: string) => `${prefix}_${randomUUID().slice(0, 6)}`;

  describe('definitions', () => {
    it('when an admin adds a field, then it is listed with its type, options and flags', async () => {
      const res = await api()
        .post('/api/v1/custom-fields')
        .set(admin())
        .send({ resource: 'deals', key: 'tier', label: 'Tier', type: 'select', options: ['gold', 'silver'], required: false, searchable: true });
      expect(res.status).toBe(201);
      expect(res.body.data).toMatchObject({ resource: 'deals', key: 'tier', label: 'Tier', type: 'select', options: ['gold', 'silver'], required: false, unique: false, searchable: true });
      const list = await api().get('/api/v1/custom-fields?resource=deals').set(world.a.users.readOnly.auth);
      expect(list.status).toBe(200);
      expect(list.body.data.map((f: { key: string }) => f.key)).toContain('tier');
    });

    it('when the body is malformed, then 400 names each bad field', async () => {
      const bad = await api().post('/api/v1/custom-fields').set(admin()).send({ resource: 'planets', key: 'Bad Key', label: '', type: 'colour' });
      expect(bad.status).toBe(400);
      expect(errorFields(bad)).toEqual(['key', 'label', 'resource', 'type']);
      const noOptions = await api().post('/api/v1/custom-fields').set(admin()).send({ resource: 'leads', key: key('s'), label: 'S', type: 'select' });
      expect(errorFields(noOptions)).toEqual(['options']);
      const uniqueChoice = await api().post('/api/v1/custom-fields').set(admin()).send({ resource: 'leads', key: key('m'), label: 'M', type: 'multiselect', options: ['a'], unique: true });
      expect(errorFields(uniqueChoice)).toEqual(['unique']);
    });

    it('when a key is taken on the resource, then 409 names the key', async () => {
      const taken = await field(world.a, { key: key('dup'), type: 'text' });
      const again = await api().post('/api/v1/custom-fields').set(admin()).send({ resource: 'leads', key: taken.key, label: 'Again', type: 'number' });
      expect(again.status).toBe(409);
      expect(errorFields(again)).toEqual(['key']);
    });

    it('when a caller without custom_fields:manage or without a token writes, then 403 and 401', async () => {
      const body = { resource: 'leads', key: key('x'), label: 'X', type: 'text' };
      for (const persona of ['manager', 'sales', 'readOnly'] as const) {
        expect((await api().post('/api/v1/custom-fields').set(world.a.users[persona].auth).send(body)).status).toBe(403);
      }
      expect((await api().post('/api/v1/custom-fields').send(body)).status).toBe(401);
      expect((await api().get('/api/v1/custom-fields')).status).toBe(401);
    });

    it('when another tenant names a field, then it is a 404 and its records cannot use the key', async () => {
      const own = await field(world.a, { key: key('secret'), type: 'text' });
      const b = world.b.users.admin.auth;
      expect((await api().patch(`/api/v1/custom-fields/${own.id}`).set(b).send({ label: 'Mine' })).status).toBe(404);
      expect((await api().delete(`/api/v1/custom-fields/${own.id}`).set(b)).status).toBe(404);
      expect((await api().get('/api/v1/custom-fields').set(b)).body.data.map((f: { id: string }) => f.id)).not.toContain(own.id);
      const lead = await api().post('/api/v1/leads').set(b).send({ lastName: 'B', customFields: { [own.key]: 'x' } });
      expect(lead.status).toBe(400);
      expect(errorFields(lead)).toEqual([`customFields.${own.key}`]);
    });
  });

  describe('values on records', () => {
    const TYPES: Array<[string, Record<string, unknown>, unknown, unknown, unknown]> = [
      ['text', {}, '  Hello ', 'Hello', 'x'.repeat(1001)],
      ['number', {}, 12.5, 12.5, 'twelve'],
      ['currency', {}, 99.99, 99.99, 'lots'],
      ['date', {}, '2027-02-28', '2027-02-28', '2027-02-30'],
      ['datetime', {}, '2027-02-28T10:00:00+02:00', '2027-02-28T08:00:00.000Z', 'tomorrow'],
      ['boolean', {}, true, true, 'maybe'],
      ['select', { options: ['a', 'b'] }, 'b', 'b', 'c'],
      ['multiselect', { options: ['a', 'b', 'c'] }, ['a', 'c'], ['a', 'c'], ['a', 'a']],
      ['email', {}, 'Ada@Example.COM', 'ada@example.com', 'not-an-email'],
      ['url', {}, 'https://example.com/x', 'https://example.com/x', 'javascript:alert(1)'],
      ['phone', {}, '+44 20 7946 0000', '+44 20 7946 0000', 'call me'],
    ];

    it.each(TYPES)('when a %s value is sent, then a valid one is stored as converted and a wrong one is a 400 naming the field', async (type, extra, good, stored, bad) => {
      const made = await field(world.a, { key: key(type), type, ...extra });
      const created = await api().post('/api/v1/leads').set(admin()).send({ lastName: 'Typed', customFields: { [made.key]: good } });
      expect(created.status).toBe(201);
      expect(created.body.data.customFields).toEqual({ [made.key]: stored });
      const read = await api().get(`/api/v1/leads/${created.body.data.id}`).set(admin());
      expect(read.body.data.customFields).toEqual({ [made.key]: stored });
      const wrong = await api().post('/api/v1/leads').set(admin()).send({ lastName: 'Typed', customFields: { [made.key]: bad } });
      expect(wrong.status).toBe(400);
      expect(errorFields(wrong)).toEqual([`customFields.${made.key}`]);
      const patched = await api().patch(`/api/v1/leads/${created.body.data.id}`).set(admin()).send({ customFields: { [made.key]: bad } });
      expect(patched.status).toBe(400);
      expect((await api().get(`/api/v1/leads/${created.body.data.id}`).set(admin())).body.data.customFields).toEqual({ [made.key]: stored });
    });

    it('when an unknown key is sent, then 400 names it and nothing is stored', async () => {
      const res = await api().post('/api/v1/leads').set(admin()).send({ lastName: 'Unknown', customFields: { no_such_field: 1 } });
      expect(res.status).toBe(400);
      expect(errorFields(res)).toEqual(['customFields.no_such_field']);
    });

    it('when a PATCH sends some keys, then only those change and a null removes one', async () => {
      const a1 = await field(world.a, { key: key('pa'), type: 'number' });
      const a2 = await field(world.a, { key: key('pb'), type: 'text' });
      const lead = await api().post('/api/v1/leads').set(admin()).send({ lastName: 'Merge', customFields: { [a1.key]: 1, [a2.key]: 'keep' } });
      const patched = await api().patch(`/api/v1/leads/${lead.body.data.id}`).set(admin()).send({ customFields: { [a1.key]: null } });
      expect(patched.status).toBe(200);
      expect(patched.body.data.customFields).toEqual({ [a2.key]: 'keep' });
    });
  });

  describe('required and unique, in the database', () => {
    let tenant: CrmTenant;
    beforeAll(async () => {
      tenant = await createCrmTenant(world.t, ['admin', 'manager']);
    });

    it('when a required field is missing on create or removed on update, then 400 names it', async () => {
      const made = await field(tenant, { resource: 'accounts', key: 'region', type: 'text', required: true });
      const missing = await api().post('/api/v1/accounts').set(tenant.users.admin.auth).send({ name: 'No region' });
      expect(missing.status).toBe(400);
      expect(errorFields(missing)).toEqual(['customFields.region']);
      const given = await api().post('/api/v1/accounts').set(tenant.users.admin.auth).send({ name: 'Region', customFields: { region: 'EMEA' } });
      expect(given.status).toBe(201);
      const cleared = await api().patch(`/api/v1/accounts/${given.body.data.id}`).set(tenant.users.admin.auth).send({ customFields: { region: null } });
      expect(cleared.status).toBe(400);
      expect(errorFields(cleared)).toEqual(['customFields.region']);
      // A direct insert (an import, a script) is refused by the same trigger.
      await expect(inTenant(world.owner, tenant.tenantId, (trx) => trx('accounts').insert({ tenant_id: tenant.tenantId, name: 'Raw' }))).rejects.toThrow(/region is required/);
      expect((await api().delete(`/api/v1/custom-fields/${made.id}`).set(tenant.users.admin.auth)).status).toBe(204);
    });

    it('when ten writers race for one unique value, then exactly one wins and the others get 409 naming the field', async () => {
      await field(tenant, { resource: 'contacts', key: 'badge', type: 'text', unique: true });
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) => api().post('/api/v1/contacts').set(tenant.users.admin.auth).send({ lastName: `Racer ${i}`, customFields: { badge: 'B-7' } })),
      );
      expect(answers.filter((res) => res.status === 201)).toHaveLength(1);
      const lost = answers.filter((res) => res.status !== 201);
      expect(lost.map((res) => res.status)).toEqual(Array(9).fill(409));
      expect(errorFields(lost[0]!)).toEqual(['customFields.badge']);
      // Case does not make a value new; deleting the holder frees it.
      expect((await api().post('/api/v1/contacts').set(tenant.users.admin.auth).send({ lastName: 'Upper', customFields: { badge: 'b-7' } })).status).toBe(409);
      const winner = answers.find((res) => res.status === 201)!.body.data.id as string;
      expect((await api().delete(`/api/v1/contacts/${winner}`).set(tenant.users.admin.auth)).status).toBe(204);
      expect((await api().post('/api/v1/contacts').set(tenant.users.admin.auth).send({ lastName: 'Next', customFields: { badge: 'B-7' } })).status).toBe(201);
    });
  });

  describe('lists: filter, sort, search', () => {
    let tenant: CrmTenant;
    const ids: Record<string, string> = {};
    beforeAll(async () => {
      tenant = await createCrmTenant(world.t, ['admin', 'readOnly']);
      await field(tenant, { key: 'budget', type: 'currency' });
      await field(tenant, { key: 'tier', type: 'select', options: ['gold', 'silver', 'bronze'] });
      await field(tenant, { key: 'vip', type: 'boolean' });
      await field(tenant, { key: 'renewal', type: 'date' });
      await field(tenant, { key: 'tags', type: 'multiselect', options: ['red', 'blue'] });
      await field(tenant, { key: 'motto', type: 'text', searchable: true });
      const rows: Array<[string, Record<string, unknown>]> = [
        ['Low', { budget: 100, tier: 'bronze', vip: false, renewal: '2027-01-10', tags: ['red'] }],
        ['Mid', { budget: 5000, tier: 'silver', vip: true, renewal: '2027-03-01', tags: ['red', 'blue'] }],
        ['High', { budget: 90000.5, tier: 'gold', vip: true, renewal: '2027-06-30', motto: 'zanzibar sunrise' }],
        ['None', {}],
      ];
      for (const [name, customFields] of rows) {
        const res = await api().post('/api/v1/leads').set(tenant.users.admin.auth).send({ lastName: name, customFields });
        expect(res.status).toBe(201);
        ids[name] = res.body.data.id;
      }
    });
    const names = async (query: string) => {
      const res = await api().get(`/api/v1/leads?${query}`).set(tenant.users.readOnly.auth);
      expect(res.status).toBe(200);
      return res.body.data.map((lead: { lastName: string }) => lead.lastName);
    };

    it('when filtered by range, equality and membership, then only the matching records come back', async () => {
      expect((await names('customFields.budget[gte]=1000')).sort()).toEqual(['High', 'Mid']);
      expect(await names('customFields.budget[gte]=1000&customFields.budget[lte]=10000')).toEqual(['Mid']);
      expect((await names('customFields.tier[in]=gold,bronze')).sort()).toEqual(['High', 'Low']);
      expect((await names('customFields.vip=true')).sort()).toEqual(['High', 'Mid']);
      expect(await names('customFields.renewal[lte]=2027-02-01')).toEqual(['Low']);
      expect((await names('customFields.tags=red')).sort()).toEqual(['Low', 'Mid']);
    });

    it('when sorted by a custom field, then records follow its values (none first ascending) across pages', async () => {
      expect(await names('sort=customFields.budget')).toEqual(['None', 'Low', 'Mid', 'High']);
      expect(await names('sort=-customFields.budget')).toEqual(['High', 'Mid', 'Low', 'None']);
      const first = await api().get('/api/v1/leads?sort=-customFields.tier&limit=2').set(tenant.users.readOnly.auth);
      const second = await api().get(`/api/v1/leads?sort=-customFields.tier&limit=2&cursor=${first.body.pagination.nextCursor}`).set(tenant.users.readOnly.auth);
      expect([...first.body.data, ...second.body.data].map((lead: { lastName: string }) => lead.lastName)).toEqual(['Mid', 'High', 'Low', 'None']);
      const wrongSort = await api().get(`/api/v1/leads?sort=customFields.budget&cursor=${first.body.pagination.nextCursor}`).set(tenant.users.readOnly.auth);
      expect(wrongSort.status).toBe(400);
    });

    it('when q names a word of a searchable field, then the record is found', async () => {
      expect(await names('q=zanzibar')).toEqual(['High']);
    });

    it('when a filter or sort names no field, a range on text, or a value of the wrong type, then 400 names the parameter', async () => {
      const cases: Array<[string, string]> = [
        ['customFields.nope=1', 'query.customFields.nope'],
        ['customFields.tier[gte]=gold', 'query.customFields.tier[gte]'],
        ['customFields.budget[gte]=lots', 'query.customFields.budget[gte]'],
        ['sort=customFields.tags', 'query.sort'],
        ['customFields.budget[near]=1', 'query.customFields.budget[near]'],
      ];
      for (const [query, named] of cases) {
        const res = await api().get(`/api/v1/leads?${query}`).set(tenant.users.readOnly.auth);
        expect(res.status).toBe(400);
        expect(errorFields(res)).toEqual([named]);
      }
    });

    it('when another tenant filters by this tenant\'s field, then it is an unknown field there', async () => {
      const res = await api().get('/api/v1/leads?customFields.budget[gte]=0').set(world.b.users.admin.auth);
      expect(res.status).toBe(400);
    });

    it('when the filter plan is read, then it uses the typed values index', async () => {
      const plan = await inTenant(world.owner, tenant.tenantId, async (trx) => {
        await trx.raw('SET LOCAL enable_seqscan = off');
        const { rows } = await trx.raw(
          `explain select l.id from leads l where l.tenant_id = ? and exists (select 1 from custom_field_values v
             where v.tenant_id = l.tenant_id and v.record_id = l.id and v.field_id = (select id from custom_fields where key = 'budget' and tenant_id = ?) and v.value_number >= 1000::float8)`,
          [tenant.tenantId, tenant.tenantId],
        );
        return rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n');
      });
      expect(plan).toMatch(/custom_field_values_number_idx/);
    });
  });

  describe('events, audit, export and import', () => {
    let tenant: CrmTenant;
    beforeAll(async () => {
      tenant = await createCrmTenant(world.t, ['admin']);
      await field(tenant, { key: 'budget', type: 'number' });
    });

    it('when a record changes its custom values, then the audit diff and the webhook payload carry them', async () => {
      const hook = await api().post('/api/v1/webhooks').set(tenant.users.admin.auth).send({ url: 'http://127.0.0.1:9/cf', events: ['lead.*'] });
      expect(hook.status).toBe(201);
      const lead = await api().post('/api/v1/leads').set(tenant.users.admin.auth).send({ lastName: 'Audited', customFields: { budget: 10 } });
      await api().patch(`/api/v1/leads/${lead.body.data.id}`).set(tenant.users.admin.auth).send({ customFields: { budget: 20 } });
      const audit = await api().get(`/api/v1/audit-logs?resourceType=lead&resourceId=${lead.body.data.id}`).set(tenant.users.admin.auth);
      const update = audit.body.data.find((entry: { action: string }) => entry.action === 'lead.update');
      expect(update.changes.customFields).toEqual({ before: { budget: 10 }, after: { budget: 20 } });
      const events = await inTenant(world.owner, tenant.tenantId, (trx) => trx('webhook_events').where({ tenant_id: tenant.tenantId, resource_id: lead.body.data.id }).orderBy('created_at'));
      expect(events.map((event: { data: { object: { customFields: unknown } } }) => event.data.object.customFields)).toEqual([{ budget: 10 }, { budget: 20 }]);
      expect(events[1].data.previousAttributes).toEqual({ customFields: { budget: 10 } });
    });

    it('when leads are exported and imported back, then each custom field travels as a column of its own', async () => {
      await field(tenant, { key: 'colours', type: 'multiselect', options: ['red', 'blue', 'green'] });
      const res = await api().post('/api/v1/leads').set(tenant.users.admin.auth).send({ lastName: 'Exported', customFields: { budget: 777, colours: ['red', 'blue'] } });
      const csv = await api().get('/api/v1/leads/export/csv?customFields.budget=777').set(tenant.users.admin.auth);
      expect(csv.status).toBe(200);
      const [header, row] = csv.text.trim().split('\r\n');
      const columns = header!.split(',');
      expect(columns).toEqual(expect.arrayContaining(['customFields.budget', 'customFields.colours']));
      expect(columns).not.toContain('customFields');
      const cells = row!.match(/("[^"]*"|[^,]*)(,|$)/g)!.map((cell) => cell.replace(/,$/, '').replace(/^"|"$/g, ''));
      expect(cells[columns.indexOf('id')]).toBe(res.body.data.id);
      expect(cells[columns.indexOf('customFields.budget')]).toBe('777');
      expect(cells[columns.indexOf('customFields.colours')]).toBe('red,blue');
      const imported = await api()
        .post('/api/v1/leads/import/bulk')
        .set(tenant.users.admin.auth)
        .set('Content-Type', 'text/csv')
        .send('lastName,customFields.budget,customFields.colours\r\nImported,888,"green,red"\r\n');
      expect(imported.status).toBeLessThan(300);
      const found = await api().get('/api/v1/leads?customFields.budget=888').set(tenant.users.admin.auth);
      expect(found.body.data.map((lead: { lastName: string; customFields: unknown }) => [lead.lastName, lead.customFields])).toEqual([['Imported', { budget: 888, colours: ['green', 'red'] }]]);
      const bad = await api().post('/api/v1/leads/import/bulk').set(tenant.users.admin.auth).send([{ lastName: 'Bad', customFields: { budget: 'lots' } }]);
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toContain('customFields.budget');
    });

    it('when a field is deleted, then every value goes and the audit says how many records held one', async () => {
      const made = await field(tenant, { key: 'doomed', type: 'text' });
      const lead = await api().post('/api/v1/leads').set(tenant.users.admin.auth).send({ lastName: 'Holder', customFields: { doomed: 'x', budget: 1 } });
      expect((await api().delete(`/api/v1/custom-fields/${made.id}`).set(tenant.users.admin.auth)).status).toBe(204);
      expect((await api().get(`/api/v1/leads/${lead.body.data.id}`).set(tenant.users.admin.auth)).body.data.customFields).toEqual({ budget: 1 });
      const audit = await api().get(`/api/v1/audit-logs?resourceType=custom_field&resourceId=${made.id}`).set(tenant.users.admin.auth);
      const entry = audit.body.data.find((e: { action: string }) => e.action === 'custom_field.delete');
      expect(entry.changes.recordsChanged).toEqual({ before: null, after: 1 });
      const values = await inTenant(world.owner, tenant.tenantId, (trx) => trx('custom_field_values').where({ tenant_id: tenant.tenantId, field_id: made.id }));
      expect(values).toEqual([]);
    });
  });

  describe("the organization's OpenAPI document", () => {
    it('when asked with a tenant token, then the record bodies type its custom fields; without one, the document is generic', async () => {
      const tenant = await createCrmTenant(world.t, ['admin', 'readOnly']);
      await field(tenant, { resource: 'deals', key: 'tier', type: 'select', options: ['gold', 'silver'], required: true });
      await field(tenant, { resource: 'deals', key: 'budget', type: 'currency' });
      const own = await api().get('/api/v1/openapi.json').set(tenant.users.readOnly.auth);
      expect(own.status).toBe(200);
      const create = own.body.paths['/api/v1/deals'].post.requestBody.content['application/json'].schema;
      expect(create.properties.customFields).toMatchObject({ additionalProperties: false, required: ['tier'], properties: { tier: { type: 'string', enum: ['gold', 'silver'] }, budget: { type: 'number' } } });
      expect(create.required).toContain('customFields');
      const update = own.body.paths['/api/v1/deals/{id}'].patch.requestBody.content['application/json'].schema;
      expect(update.properties.customFields.properties.tier).toMatchObject({ nullable: true });
      const generic = await api().get('/api/v1/openapi.json');
      expect(JSON.stringify(generic.body.paths['/api/v1/deals'].post.requestBody.content['application/json'].schema.properties.customFields)).not.toContain('tier');
      const other = await api().get('/api/v1/openapi.json').set(world.b.users.admin.auth);
      expect(JSON.stringify(other.body)).not.toContain('"tier"');
      expect((await api().get('/api/v1/openapi.json').set('Authorization', 'Bearer not-a-token')).status).toBe(401);
    });
  });

  describe('plan limits', () => {
    it('when a free organization adds its sixth field, then 402 PLAN_FEATURE_UNAVAILABLE and nothing is added', async () => {
      const free = await createCrmTenant(world.t, ['admin'], 'free');
      for (let i = 0; i < 5; i += 1) await field(free, { key: `f${i}`, type: 'text' });
      const sixth = await api().post('/api/v1/custom-fields').set(free.users.admin.auth).send({ resource: 'deals', key: 'f5', label: 'F5', type: 'text' });
      expect(sixth.status).toBe(402);
      expect(sixth.body.error.code).toBe('PLAN_FEATURE_UNAVAILABLE');
      expect((await api().get('/api/v1/custom-fields').set(free.users.admin.auth)).body.data).toHaveLength(5);
    });
  });
});
