import jwt from 'jsonwebtoken';
import request from 'supertest';
import { principalCacheOf } from '../../src/modules/auth/principal-revocation';
import { bearer } from './api-fixtures';
import { eventually } from './eventually';
import { TestApp } from './test-app';

/** Until an app's memory of callers is vouched for by its change bus (a few hundred ms after it starts). */
export async function trusted(t: TestApp): Promise<void> {
  await eventually(() => principalCacheOf(t.deps.knex)?.trusted === true, 15_000, 'the change bus vouching for this instance');
}

/** Asks `t` as `token` until it holds that caller in memory, so that what follows tests a revocation, not a cold read. */
export async function heldBy(t: TestApp, token: string): Promise<void> {
  const claims = jwt.decode(token) as { tenantId: string; sub: string; sid: string; jti: string; exp: number };
  const credential = { kind: 'user', tenantId: claims.tenantId, userId: claims.sub, sessionId: claims.sid, jti: claims.jti, exp: claims.exp } as const;
  for (let attempt = 0; attempt < 20; attempt++) {
    const status = (await request(t.app).get('/api/v1/auth/me').set(bearer(token))).status;
    if (status !== 200) throw new Error(`the caller is refused (${status}) before the test revokes anything`);
    if (principalCacheOf(t.deps.knex)?.principal(credential)) return;
  }
  throw new Error('the instance never kept the caller in memory');
}
