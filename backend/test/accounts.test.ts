import { createCrmTenant, crmWorld, CrmTenant, errorFields, insertRows, walkList } from './support/crm-fixtures';
import { describeRecordRoutes } from './support/crm-record-routes';

const STATUSES = ['active', 'inactive', 'prospect'] as const;

describe('accounts', () => {
  const world = crmWorld();
  const api = () => world.api();
  let serial = 0;

  describeRecordRoutes(world, {
    resource: 'accounts',
    singular: 'account',
    ownerField: 'ownerId',
    body: () => {
      serial += 1;
      return {
        name: `Acme ${serial}`,
        domain: `acme-${serial}.example.com`,
        industry: 'Manufacturing',
        size: '51-200',
        phone: '+1 555 0100',
        website: 'https://acme.example.com/about',
        address: { line1: '1 Road Runner Way', city: 'Phoenix', region: 'AZ', country: 'US' },
        status: 'active',
      };
    },
    patch: { status: 'inactive', industry: 'Aerospace', website: null },
    text: { field: 'industry', max: 100 },
    invalid: [
      ['no name', { name: '' }, ['name']],
      ['a name over 200 characters', { name: 'n'.repeat(201) }, ['name']],
      ['an unknown status', { status: 'dormant' }, ['status']],
      ['a domain with spaces', { domain: 'not a domain' }, ['domain']],
      ['a javascript: website', { website: 'javascript:alert(1)' }, ['website']],
      ['a website without a scheme', { website: 'acme.example.com' }, ['website']],
    ],
    row: (i) => ({ name: `Account ${String(i % 23).padStart(2, '0')}`, industry: i % 2 ? 'Retail' : 'Banking', status: STATUSES[i % 3] }),
    sort: { key: 'name', orderBy: (d) => `name ${d}, id ${d}` },
    searchColumn: 'name',
    relatable: true,
  });

  describe('account filters and search', () => {
    let tenant: CrmTenant;
    let ids: string[];
    beforeAll(async () => {
      tenant = await createCrmTenant(world.t, ['admin']);
      ids = await insertRows(
        world.owner,
        tenant.tenantId,
        'accounts',
        Array.from({ length: 30 }, (_, i) => ({
          name: i === 4 ? 'Wayne Enterprises' : `Filtered ${i}`,
          domain: `filtered${i}.example.com`,
          industry: i % 2 ? 'Retail' : 'Banking',
          status: STATUSES[i % 3],
        })),
      );
    });
    const list = (query: Record<string, string | number>) => walkList(world, tenant.users.admin.auth, 'accounts', { limit: 500, ...query });
    const expected = (predicate: (i: number) => boolean) => new Set(ids.filter((_, i) => predicate(i)));

    it('when filtered by status, industry or domain, then exactly the matching accounts come back', async () => {
      expect(new Set((await list({ status: 'prospect' })).ids)).toEqual(expected((i) => i % 3 === 2));
      expect(new Set((await list({ industry: 'Retail' })).ids)).toEqual(expected((i) => i % 2 === 1));
      expect(new Set((await list({ industry: 'Retail', status: 'active' })).ids)).toEqual(expected((i) => i % 2 === 1 && i % 3 === 0));
      expect((await list({ domain: 'filtered9.example.com' })).ids).toEqual([ids[9]]);
    });

    it('when q names one word of an account name, then that account is found whatever the case', async () => {
      expect((await list({ q: 'ENTERPRISES' })).ids).toEqual([ids[4]]);
      expect((await list({ q: 'wayne enterprises' })).ids).toEqual([ids[4]]);
      expect((await list({ q: 'wayne -enterprises' })).ids).toEqual([]);
    });

    it('when a filter value is malformed, then 400 names it', async () => {
      for (const [query, field] of [
        [{ status: 'dormant' }, 'query.status'],
        [{ ownerId: 'someone' }, 'query.ownerId'],
        [{ q: '' }, 'query.q'],
      ] as const) {
        const res = await api().get('/api/v1/accounts').query(query).set(tenant.users.admin.auth);
        expect({ query, status: res.status, fields: errorFields(res) }).toEqual({ query, status: 400, fields: [field] });
      }
    });
  });

  it('when a domain is given in capitals, then it is stored lower case; when the status is left out, then it is prospect', async () => {
    const res = await api().post('/api/v1/accounts').set(world.a.users.admin.auth).send({ name: 'Stark Industries', domain: 'Stark-Industries.EXAMPLE.com' });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ domain: 'stark-industries.example.com', status: 'prospect', ownerId: world.a.users.admin.id });
  });
});
