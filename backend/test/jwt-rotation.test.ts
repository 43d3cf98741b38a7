import jwt from 'jsonwebtoken';
import request from 'supertest';
import { loadConfig } from '../src/config/load-config';
import { login, registerTenant } from './support/api-fixtures';
import { buildTestApp, TestApp, testConfig } from './support/test-app';

const OLD_KEY = 'old-signing-key-0123456789abcdef-0123456789';
const NEW_KEY = 'new-signing-key-fedcba9876543210-9876543210';

/** JWT_SECRET rotation: tokens name their key (`kid`), and a second key keeps old tokens valid. */
describe('signing keys', () => {
  let before: TestApp;
  let rotated: TestApp;
  beforeAll(() => {
    before = buildTestApp({ env: { JWT_SECRET: OLD_KEY } });
    rotated = buildTestApp({ env: { JWT_SECRET: `${NEW_KEY}, ${OLD_KEY}` } });
  });
  afterAll(async () => {
    await before.close();
    await rotated.close();
  });

  it('when the key is rotated (new key first, old one kept), then tokens signed before still work and new ones carry the new kid', async () => {
    const account = await registerTenant(before.app);
    const oldKid = jwt.decode(account.accessToken, { complete: true })?.header.kid;
    expect(oldKid).toMatch(/^[0-9a-f]{16}$/);
    expect((await request(rotated.app).get('/api/v1/auth/me').set(account.auth)).status).toBe(200);

    const signedIn = await login(rotated.app, { email: account.email, password: account.password });
    const fresh = signedIn.body.data.tokens.accessToken as string;
    const newKid = jwt.decode(fresh, { complete: true })?.header.kid;
    expect(newKid).toMatch(/^[0-9a-f]{16}$/);
    expect(newKid).not.toBe(oldKid);
    expect((await request(rotated.app).get('/api/v1/auth/me').set({ Authorization: `Bearer ${fresh}` })).status).toBe(200);
    // The old deployment does not know the new key: its tokens are refused there, as any unknown key's.
    expect((await request(before.app).get('/api/v1/auth/me').set({ Authorization: `Bearer ${fresh}` })).status).toBe(401);
  });

  it('when a token names a kid no configured key has, then 401 even if its signature would match', async () => {
    const account = await registerTenant(rotated.app);
    const claims = jwt.decode(account.accessToken) as jwt.JwtPayload;
    const forged = jwt.sign(claims, NEW_KEY, { algorithm: 'HS256', keyid: 'ffffffffffffffff' });
    expect((await request(rotated.app).get('/api/v1/auth/me').set({ Authorization: `Bearer ${forged}` })).status).toBe(401);
  });

  it('when JWT_SECRET holds a key shorter than 32 characters, then the config is refused', () => {
    expect(() => testConfig({ JWT_SECRET: `${NEW_KEY},short` })).toThrow(/at least 32 characters/);
    expect(testConfig({ JWT_SECRET: `${NEW_KEY},${OLD_KEY}` }).jwt.secret).toContain(',');
  });

  it('when operator addresses are on reserved or internal domains (.test, .internal, .local), then the config accepts them', () => {
    for (const email of ['root@platform.test', 'ops@crm.internal', 'admin@box.local']) {
      expect(loadConfig({ NODE_ENV: 'test', SUPER_ADMIN_EMAIL: email, SUPER_ADMIN_PASSWORD: 'A-l0ng-enough-password' }).auth.superAdmin?.email).toBe(email);
    }
    expect(() => loadConfig({ NODE_ENV: 'test', SUPER_ADMIN_EMAIL: 'not-an-address', SUPER_ADMIN_PASSWORD: 'A-l0ng-enough-password' })).toThrow();
  });
});
