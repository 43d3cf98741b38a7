import { AddressInfo } from 'node:net';
import { Server } from 'node:http';
import { createCrmClient } from '@crm/client';
import { buildTestApp, createTenantFixture, TenantFixture, TestApp } from './support/test-app';

describe('the generated client (@crm/client)', () => {
  let testApp: TestApp;
  let server: Server;
  let baseUrl: string;
  let tenant: TenantFixture;

  beforeAll(async () => {
    testApp = buildTestApp();
    tenant = await createTenantFixture(testApp.deps.knex);
    server = await new Promise<Server>((resolve) => {
      const listening = testApp.app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await testApp.close();
  });

  it('when a user signs in and creates and lists leads through it, then the typed answers are the server’s', async () => {
    const admin = tenant.users.tenant_admin!;
    const signIn = await createCrmClient({ baseUrl }).POST('/api/v1/auth/login', {
      body: { email: admin.email, password: admin.password },
    });
    expect(signIn.response.status).toBe(200);
    // Typed from the document: a wrong field name here would not compile. Without MFA, sign-in answers tokens.
    const answer = signIn.data!.data;
    if (!('tokens' in answer)) throw new Error('expected tokens: this user has no MFA');
    const { accessToken } = answer.tokens;

    const crm = createCrmClient({ baseUrl, accessToken });
    const created = await crm.POST('/api/v1/leads', {
      params: { header: { 'Idempotency-Key': `client-${tenant.subdomain}` } },
      body: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', company: 'Analytical Engines' },
    });
    expect(created.response.status).toBe(201);
    expect(created.data!.data).toMatchObject({ firstName: 'Ada', status: 'new' });

    const page = await crm.GET('/api/v1/leads', { params: { query: { limit: 1, sort: '-createdAt' } } });
    expect(page.data!.data.map((lead) => lead.id)).toEqual([created.data!.data.id]);
    expect(page.data!.pagination).toEqual({ limit: 1, nextCursor: null, hasMore: false });
  });

  it('when the server refuses a call, then the error envelope is the typed error', async () => {
    const crm = createCrmClient({ baseUrl, accessToken: 'not-a-token' });
    const answer = await crm.GET('/api/v1/leads');
    expect(answer.response.status).toBe(401);
    expect(answer.data).toBeUndefined();
    expect(answer.error!.error.code).toBe('UNAUTHORIZED');
  });

  it('when a call does not match the document, then it does not compile', () => {
    const crm = createCrmClient({ baseUrl, apiKey: 'crm_live_x' });
    // Only the compiler's check matters, so the call is never sent.
    const neverSent = (): void => {
      // @ts-expect-error a lead's status is one of its enum's values
      void crm.POST('/api/v1/leads', { body: { firstName: 'Ada', status: 'won' } });
    };
    expect(typeof neverSent).toBe('function');
  });
});
