import { randomUUID } from 'node:crypto';
import express from 'express';
import request from 'supertest';

export const PASSWORD = 'Str0ng-Passw0rd';

export interface Registered {
  tenantId: string;
  userId: string;
  email: string;
  password: string;
  subdomain: string;
  accessToken: string;
  refreshToken: string;
  auth: { Authorization: string };
}

/** Signs up a new organization through the API, as a customer would. */
export async function registerTenant(app: express.Express, overrides: Record<string, unknown> = {}): Promise<Registered> {
  const unique = randomUUID().slice(0, 8);
  const body = {
    email: `owner-${unique}@example.com`,
    password: PASSWORD,
    firstName: 'Olive',
    lastName: 'Owner',
    company: `Company ${unique}`,
    // Pro includes API keys and custom roles; tests of plan gates ask for 'free' explicitly.
    plan: 'pro',
    ...overrides,
  };
  const res = await request(app).post('/api/v1/auth/register').send(body);
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  const { user, tenant, tokens } = res.body.data;
  return {
    tenantId: tenant.id,
    userId: user.id,
    email: body.email as string,
    password: body.password as string,
    subdomain: tenant.subdomain,
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    auth: { Authorization: `Bearer ${tokens.accessToken}` },
  };
}

export async function login(app: express.Express, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return request(app).post('/api/v1/auth/login').set(headers).send(body);
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

export interface Member {
  id: string;
  email: string;
  accessToken: string;
  refreshToken: string;
  auth: { Authorization: string };
}

/** Adds a user through POST /users as `admin` (role: a system key or a custom role's id or name), then signs them in. */
export async function addMember(app: express.Express, admin: Registered, role: string, overrides: Record<string, unknown> = {}): Promise<Member> {
  const email = `member-${randomUUID().slice(0, 8)}@example.com`;
  const res = await request(app)
    .post('/api/v1/users')
    .set(admin.auth)
    .send({ email, firstName: 'Mia', lastName: 'Member', role, password: PASSWORD, ...overrides });
  if (res.status !== 201) throw new Error(`add member failed: ${res.status} ${JSON.stringify(res.body)}`);
  const signedIn = await login(app, { email, password: PASSWORD });
  if (signedIn.status !== 200) throw new Error(`member login failed: ${signedIn.status} ${JSON.stringify(signedIn.body)}`);
  const { accessToken, refreshToken } = signedIn.body.data.tokens;
  return { id: res.body.data.id, email, accessToken, refreshToken, auth: bearer(accessToken) };
}

/** Creates a custom role through POST /roles as `admin` and answers its id. */
export async function addRole(app: express.Express, admin: Registered, permissions: string[], name = `Role ${randomUUID().slice(0, 8)}`): Promise<string> {
  const res = await request(app).post('/api/v1/roles').set(admin.auth).send({ name, permissions });
  if (res.status !== 201) throw new Error(`add role failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.id;
}
