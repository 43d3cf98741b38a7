import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import request from 'supertest';
import { hashPassword } from '../../src/modules/auth/passwords';
import { TestApp } from './test-app';

export const PLATFORM_PASSWORD = 'Platform-Passw0rd-1';

export interface PlatformAdminsFixture {
  superAdmin: { id: string; token: string };
  support: { id: string; token: string };
}

/** One super admin and one support admin, made in the database, signed in through the API. */
export async function platformAdmins(t: TestApp, owner: Knex): Promise<PlatformAdminsFixture> {
  const passwordHash = await hashPassword(PLATFORM_PASSWORD, 4);
  const make = async (role: 'super_admin' | 'support') => {
    const email = `${role.replace('_', '-')}-${randomUUID().slice(0, 8)}@example.com`;
    const [row] = await owner('platform_admins').insert({ email, password_hash: passwordHash, role }).returning('id');
    const res = await request(t.app).post('/api/v1/admin/auth/login').send({ email, password: PLATFORM_PASSWORD });
    if (res.status !== 200) throw new Error(`admin login failed: ${res.status} ${JSON.stringify(res.body)}`);
    return { id: (row as { id: string }).id, token: res.body.data.tokens.accessToken as string };
  };
  return { superAdmin: await make('super_admin'), support: await make('support') };
}
