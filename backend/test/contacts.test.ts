import { randomUUID } from 'node:crypto';
import { countRows, createCrmTenant, crmWorld, CrmTenant, errorFields, insertRows, storedRow, walkList } from './support/crm-fixtures';
import { describeRecordRoutes } from './support/crm-record-routes';

describe('contacts', () => {
  const world = crmWorld();
  const api = () => world.api();
  let serial = 0;

  describeRecordRoutes(world, {
    resource: 'contacts',
    singular: 'contact',
    ownerField: 'ownerId',
    body: () => {
      serial += 1;
      return {
        firstName: 'Carla',
        lastName: `Contact${serial}`,
        email: `carla.${serial}.${randomUUID().slice(0, 6)}@example.com`,
        phone: '+49 30 1234567',
        title: 'Head of Procurement',
        address: { line1: 'Unter den Linden 1', city: 'Berlin', postalCode: '10117', country: 'DE' },
      };
    },
    patch: { title: 'VP Procurement', phone: '+49 30 7654321', address: { city: 'Hamburg', country: 'DE' } },
    text: { field: 'title', max: 200 },
    invalid: [
      ['a bad email', { email: 'carla@' }, ['email']],
      ['a lastName over 100 characters', { lastName: 'y'.repeat(101) }, ['lastName']],
      ['a three-letter country', { address: { country: 'DEU' } }, ['address.country']],
      ['an unknown address field', { address: { planet: 'Mars' } }, ['address.planet']],
      ['markup in the address', { address: { city: '<svg onload=alert(1)>' } }, ['address.city']],
      ['an address that is a string', { address: 'Berlin' }, ['address']],
      ['an accountId that is no UUID', { accountId: 'acme' }, ['accountId']],
    ],
    row: (i) => ({
      firstName: i % 9 === 0 ? null : `Given${i % 4}`,
      lastName: i % 13 === 0 ? null : `Family${String(i % 19).padStart(2, '0')}`,
      email: `row${i}.${randomUUID().slice(0, 6)}@example.com`,
      title: `Title ${i}`,
    }),
    sort: { key: 'name', orderBy: (d) => `coalesce(last_name, '') ${d}, coalesce(first_name, '') ${d}, id ${d}` },
    searchColumn: 'title',
    relatable: true,
  });

  describe('contact accounts', () => {
    const newAccount = async (tenant: CrmTenant = world.a) =>
      (await api().post('/api/v1/accounts').set(tenant.users.admin.auth).send({ name: 'Employer' })).body.data.id as string;

    it('when a contact names an account of the tenant, then it is linked and the accountId filter finds it', async () => {
      const accountId = await newAccount();
      const res = await api().post('/api/v1/contacts').set(world.a.users.admin.auth).send({ lastName: 'Linked', accountId });
      expect(res.status).toBe(201);
      expect(res.body.data.accountId).toBe(accountId);
      expect((await walkList(world, world.a.users.admin.auth, 'contacts', { accountId })).ids).toEqual([res.body.data.id]);
    });

    it("when a contact names tenant B's account, an unknown one or a deleted one, then 400 and nothing is stored", async () => {
      const deleted = await newAccount();
      await api().delete(`/api/v1/accounts/${deleted}`).set(world.a.users.admin.auth);
      for (const accountId of [await newAccount(world.b), randomUUID(), deleted]) {
        const before = await countRows(world.owner, world.a.tenantId, 'contacts');
        const res = await api().post('/api/v1/contacts').set(world.a.users.admin.auth).send({ lastName: 'Orphan', accountId });
        expect({ accountId, status: res.status, fields: errorFields(res) }).toEqual({ accountId, status: 400, fields: ['accountId'] });
        expect(await countRows(world.owner, world.a.tenantId, 'contacts')).toBe(before);
      }
    });

    it("when a patch moves a contact to tenant B's account, then 400 and the contact keeps its account", async () => {
      const accountId = await newAccount();
      const contact = (await api().post('/api/v1/contacts').set(world.a.users.admin.auth).send({ lastName: 'Stays', accountId })).body.data;
      const res = await api().patch(`/api/v1/contacts/${contact.id}`).set(world.a.users.admin.auth).send({ accountId: await newAccount(world.b) });
      expect(res.status).toBe(400);
      expect(errorFields(res)).toEqual(['accountId']);
      expect((await storedRow(world.owner, world.a.tenantId, 'contacts', contact.id))?.accountId).toBe(accountId);
      const cleared = await api().patch(`/api/v1/contacts/${contact.id}`).set(world.a.users.admin.auth).send({ accountId: null });
      expect(cleared.body.data.accountId).toBeNull();
    });

    it("when the tenant admin erases a contact's account, then the contact stays and loses the link", async () => {
      const accountId = await newAccount();
      const contact = (await api().post('/api/v1/contacts').set(world.a.users.admin.auth).send({ lastName: 'Survivor', accountId })).body.data;
      expect((await api().delete(`/api/v1/accounts/${accountId}?hard=true`).set(world.a.users.admin.auth)).status).toBe(204);
      const read = await api().get(`/api/v1/contacts/${contact.id}`).set(world.a.users.admin.auth);
      expect(read.status).toBe(200);
      expect(read.body.data.accountId).toBeNull();
    });
  });

  describe('contact filters', () => {
    let tenant: CrmTenant;
    let ids: string[];
    beforeAll(async () => {
      tenant = await createCrmTenant(world.t, ['admin', 'sales']);
      ids = await insertRows(
        world.owner,
        tenant.tenantId,
        'contacts',
        Array.from({ length: 30 }, (_, i) => ({
          lastName: `Filtered${i}`,
          email: `contact${i}@example.com`,
          ownerId: i % 3 === 0 ? tenant.users.sales.id : tenant.users.admin.id,
        })),
      );
    });

    it('when filtered by owner or email, then exactly the matching contacts come back', async () => {
      const { auth } = tenant.users.admin;
      const bySales = await walkList(world, auth, 'contacts', { ownerId: tenant.users.sales.id });
      expect(new Set(bySales.ids)).toEqual(new Set(ids.filter((_, i) => i % 3 === 0)));
      expect((await walkList(world, auth, 'contacts', { email: 'contact7@example.com' })).ids).toEqual([ids[7]]);
      expect((await walkList(world, auth, 'contacts', { q: 'filtered12' })).ids).toEqual([ids[12]]);
    });

    it('when a filter value is malformed, then 400 names it', async () => {
      for (const [query, field] of [
        [{ accountId: 'acme' }, 'query.accountId'],
        [{ email: 'x' }, 'query.email'],
        [{ status: 'active' }, 'query.status'],
      ] as const) {
        const res = await api().get('/api/v1/contacts').query(query).set(tenant.users.admin.auth);
        expect({ query, status: res.status, fields: errorFields(res) }).toEqual({ query, status: 400, fields: [field] });
      }
    });
  });

  it('when a country is given in lower case, then it is stored upper case', async () => {
    const res = await api().post('/api/v1/contacts').set(world.a.users.admin.auth).send({ lastName: 'Lower', address: { country: 'fr' } });
    expect(res.status).toBe(201);
    expect(res.body.data.address).toEqual({ country: 'FR' });
  });
});
