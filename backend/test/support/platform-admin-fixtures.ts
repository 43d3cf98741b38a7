import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import request from 'supertest';
import { StaffRole } from '../../src/modules/admin/staff-roles';
import { hashPassword } from '../../src/modules/auth/passwords';
import { TestApp } from './test-app';

export const PLATFORM_PASSWORD = 'Platform-Passw0rd-1';

export interface StaffMember {
  id: string;
  email: string;
  token: string;
  /** The `crm_admin_refresh=...` pair of the sign-in's Set-Cookie, ready for a Cookie header. */
  refreshCookie: string;
}

export interface PlatformAdminsFixture {
  superAdmin: StaffMember;
  support: StaffMember;
}

/** The refresh cookie pair an answer set, if any. */
export function refreshCookieOf(res: request.Response): string | undefined {
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  return cookies.find((cookie) => cookie.startsWith('crm_admin_refresh='))?.split(';')[0];
}

/** A staff member of `role`, made in the database, signed in through the API. */
export async function staffMember(t: TestApp, owner: Knex, role: StaffRole): Promise<StaffMember> {
  const passwordHash = await hashPassword(PLATFORM_PASSWORD, 4);
  const email = `${role.replace('_', '-')}-${randomUUID().slice(0, 8)}@example.com`;
  const [row] = await owner('platform_admins').insert({ email, password_hash: passwordHash, role }).returning('id');
  const res = await request(t.app).post('/api/v1/admin/auth/login').send({ email, password: PLATFORM_PASSWORD });
  if (res.status !== 200) throw new Error(`admin login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: (row as { id: string }).id, email, token: res.body.data.tokens.accessToken as string, refreshCookie: refreshCookieOf(res)! };
}

/** One super admin and one support admin, made in the database, signed in through the API. */
export async function platformAdmins(t: TestApp, owner: Knex): Promise<PlatformAdminsFixture> {
  return { superAdmin: await staffMember(t, owner, 'super_admin'), support: await staffMember(t, owner, 'support') };
}
