import { randomBytes } from 'node:crypto';
import { Knex } from 'knex';
import request from 'supertest';
import { CredentialKey, decryptCredential, encryptCredential } from '../src/modules/credentials/credential-crypto';
import { rotateCredentials } from '../src/modules/credentials/credential-rotation';
import { attemptDelivery } from '../src/modules/webhooks/webhook-delivery';
import { registerTenant } from './support/api-fixtures';
import { TestJobRunner } from './support/jobs';
import { buildTestApp, ownerKnex, platformRoleKnex, runtimeKnex, testConfig, TestApp } from './support/test-app';
import { WebhookReceiver } from './support/webhook-receiver';

describe('credentials encrypted at rest', () => {
  const k1: CredentialKey = { id: 'k1', key: randomBytes(32) };
  const k2: CredentialKey = { id: 'k2', key: randomBytes(32) };

  describe('the envelope', () => {
    it('round-trips under its key and names the key id', () => {
      const envelope = encryptCredential([k1], 'hunter2-secret', 'ctx');
      expect(envelope).toMatch(/^cred1\.k1\./);
      expect(envelope).not.toContain('hunter2');
      expect(decryptCredential([k2, k1], envelope, 'ctx')).toBe('hunter2-secret');
    });

    it('refuses another row’s context, a tampered ciphertext and an unknown key id', () => {
      const envelope = encryptCredential([k1], 'hunter2-secret', 'ctx');
      expect(() => decryptCredential([k1], envelope, 'other-row')).toThrow();
      const parts = envelope.split('.');
      parts[3] = Buffer.from('tampered!').toString('base64url');
      expect(() => decryptCredential([k1], parts.join('.'), 'ctx')).toThrow();
      expect(() => decryptCredential([k2], envelope, 'ctx')).toThrow(/"k1" is not configured/);
    });

    it('uses a fresh nonce each time', () => {
      expect(encryptCredential([k1], 'same', 'ctx')).not.toBe(encryptCredential([k1], 'same', 'ctx'));
    });
  });

  it('gives the platform role no read on encrypted columns', async () => {
    const platform = platformRoleKnex();
    try {
      for (const [table, column] of [
        ['webhook_subscriptions', 'secret_encrypted'],
        ['webhook_subscriptions', 'previous_secret_encrypted'],
        ['integrations', 'secrets_encrypted'],
        ['notifications', 'message_encrypted'],
        ['password_reset_tokens', 'token_hash'],
      ]) {
        await expect(platform.raw(`select ${column} from ${table} limit 1`)).rejects.toThrow(/permission denied/);
      }
      await expect(platform.raw('select id, url from webhook_subscriptions limit 1')).resolves.toBeDefined();
    } finally {
      await platform.destroy();
    }
  });

  describe('rotation', () => {
    let t: TestApp;
    let owner: Knex;
    let runtime: Knex;
    let platform: Knex;
    let receiver: WebhookReceiver;
    beforeAll(async () => {
      t = buildTestApp();
      owner = ownerKnex();
      runtime = runtimeKnex();
      platform = platformRoleKnex();
      receiver = await new WebhookReceiver().start();
    });
    afterAll(async () => {
      await receiver.stop();
      await Promise.all([owner.destroy(), runtime.destroy(), platform.destroy()]);
      await t.close();
    });

    it('when a new key is put first and the rotation runs, then every credential of the tenant is re-encrypted under it and still works', async () => {
      const tenant = await registerTenant(t.app);
      const sub = await request(t.app).post('/api/v1/webhooks').set(tenant.auth).send({ url: receiver.url('/rotated'), events: ['lead.created'] });
      await request(t.app)
        .post('/api/v1/integrations')
        .set(tenant.auth)
        .send({ type: 'capricorn_edi', name: 'EDI', config: { baseUrl: receiver.url('/edi'), customerId: 'acme', apiKey: 'edi-password-1234' } });
      const old = t.deps.config.credentialKeys;
      const rotatedKeys = [{ id: 'k9', key: randomBytes(32) }, ...old];

      // The welcome e-mail is sent first, so no job of this tenant runs meanwhile under the old keys alone.
      const jobs = new TestJobRunner(t);
      await jobs.runUntilIdle(tenant.tenantId);
      await jobs.close();

      const result = await rotateCredentials(runtime, platform, rotatedKeys, [tenant.tenantId]);
      // The subscription's secret, the integration's secrets and the welcome e-mail kept by the JSON transport.
      expect(result).toEqual({ tenants: 1, reencrypted: 3 });
      const subscription = await owner('webhook_subscriptions').where({ tenant_id: tenant.tenantId }).first('secret_encrypted');
      const integration = await owner('integrations').where({ tenant_id: tenant.tenantId }).first('secrets_encrypted');
      expect(subscription.secret_encrypted).toMatch(/^cred1\.k9\./);
      expect(integration.secrets_encrypted).toMatch(/^cred1\.k9\./);
      expect(await rotateCredentials(runtime, platform, rotatedKeys, [tenant.tenantId])).toEqual({ tenants: 1, reencrypted: 0 });

      // The rotated secret still signs: a delivery attempted with the new key set reaches the receiver. It
      // is stored without a job, so no runner holding only the old keys can take it first.
      const [event] = await owner('webhook_events').insert({ tenant_id: tenant.tenantId, type: 'lead.created', data: { object: {} } }).returning('id');
      const [{ id }] = await owner('webhook_deliveries')
        .insert({ tenant_id: tenant.tenantId, event_id: event.id, subscription_id: sub.body.data.id, next_attempt_at: owner.fn.now(), retry_until: owner.raw("now() + interval '1 day'") })
        .returning('id');
      const deps = { config: { ...testConfig(), credentialKeys: rotatedKeys }, knex: t.deps.knex, logger: t.deps.logger };
      expect(await attemptDelivery(deps, tenant.tenantId, id)).toMatchObject({ outcome: 'succeeded' });
      const { createHmac } = await import('node:crypto');
      const [received] = receiver.at('/rotated');
      const [, ts, v1] = /^t=(\d+),v1=([0-9a-f]+)$/.exec(String(received!.headers['webhook-signature']))!;
      expect(createHmac('sha256', sub.body.data.secret).update(`${ts}.${received!.body}`).digest('hex')).toBe(v1);

      // Back under the default key, so this file's later jobs can still read this tenant's rows.
      await rotateCredentials(runtime, platform, [...old, rotatedKeys[0]!], [tenant.tenantId]);
      expect((await owner('webhook_subscriptions').where({ tenant_id: tenant.tenantId }).first('secret_encrypted')).secret_encrypted).toMatch(/^cred1\.k0\./);
    });
  });
});
