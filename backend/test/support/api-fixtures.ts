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
