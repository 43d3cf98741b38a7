/**
 * What docs/ tells integrators holds: every error code is in the generated catalogue, the Python
 * verification snippet (run by python3) accepts real deliveries and refuses forgeries, and a signing
 * secret rotated with an overlap signs with both secrets until the overlap ends.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Knex } from 'knex';
import request from 'supertest';
import { errorCatalogueMarkdown } from '../src/lib/error-catalogue';
import { ERROR_STATUS } from '../src/lib/errors';
import { PROJECT_ROOT } from '../src/lib/project-root';
import { registerTenant, Registered } from './support/api-fixtures';
import { TestJobRunner } from './support/jobs';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';
import { WebhookReceiver } from './support/webhook-receiver';

const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');

interface Check {
  body: string;
  header: string;
  secret: string;
  tolerance?: number;
}

/** Runs docs/API.md's Python snippet once over every check with python3; answers one boolean per check. */
function pythonVerifies(checks: Check[]): boolean[] {
  const snippet = /<!-- webhook-verify-python -->\n```python\n([\s\S]*?)```/.exec(read('docs/API.md'))?.[1];
  if (!snippet) throw new Error('docs/API.md lost its Python verification snippet');
  const harness = `${snippet}
import json, sys
checks = json.load(sys.stdin)
print(json.dumps([verify_webhook(c['body'].encode(), c['header'], c['secret'], c.get('tolerance', 300)) for c in checks]))
`;
  return JSON.parse(execFileSync('python3', ['-c', harness], { input: JSON.stringify(checks), encoding: 'utf8' })) as boolean[];
}

describe('integrator handbook', () => {
  it('when an integrator reads docs/ERRORS.md, then it is generated from the code and documents every error code', () => {
    const catalogue = read('docs/ERRORS.md');
    expect(catalogue).toBe(errorCatalogueMarkdown());
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      expect(catalogue).toMatch(new RegExp(`^\\| \`${code}\` \\| ${status} \\| [^|]+ \\| (no|yes, after Retry-After|yes, with backoff|after fixing the cause) \\| [^|]+`, 'm'));
    }
  });

  describe('webhook signing secrets', () => {
    let t: TestApp;
    let jobs: TestJobRunner;
    let owner: Knex;
    let receiver: WebhookReceiver;
    let tenant: Registered;
    let subscription: { id: string; secret: string };
    const api = () => request(t.app);

    beforeAll(async () => {
      t = buildTestApp();
      jobs = new TestJobRunner(t);
      owner = ownerKnex();
      receiver = await new WebhookReceiver().start();
      tenant = await registerTenant(t.app);
      const created = await api().post('/api/v1/webhooks').set(tenant.auth).send({ url: receiver.url('/rotating'), events: ['lead.created'] });
      subscription = created.body.data;
    });
    afterAll(async () => {
      await receiver.stop();
      await owner.destroy();
      await jobs.close();
      await t.close();
    });

    /** Creates a lead, delivers its event, and answers what the receiver got. */
    async function deliverOne(lastName: string) {
      await api().post('/api/v1/leads').set(tenant.auth).send({ lastName }).expect(201);
      await jobs.runUntilIdle(tenant.tenantId);
      const received = receiver.at('/rotating').find((each) => each.body.includes(lastName));
      if (!received) throw new Error(`no delivery for ${lastName}`);
      return { body: received.body, header: String(received.headers['webhook-signature']) };
    }

    it('when a delivery arrives, then the documented Python snippet verifies it, and refuses a tampered body, a wrong secret and an old timestamp', async () => {
      const { body, header } = await deliverOne('Lovelace');
      expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      const checks = [
        { body, header, secret: subscription.secret },
        { body: body.replace('Lovelace', 'Mallory'), header, secret: subscription.secret },
        { body, header, secret: 'whsec_wrong' },
        { body, header, secret: subscription.secret, tolerance: -1 },
        { body, header: 'v1=abc', secret: subscription.secret },
      ];
      expect(pythonVerifies(checks)).toEqual([true, false, false, false, false]);
    });

    it('when the secret is rotated with an overlap, then deliveries verify with the old and the new secret until it ends, then with the new one only', async () => {
      const rotated = await api().post(`/api/v1/webhooks/${subscription.id}/rotate-secret`).set(tenant.auth).send({ overlapSeconds: 3600 });
      expect(rotated.status).toBe(200);
      expect(rotated.headers['cache-control']).toBe('no-store');
      const fresh = rotated.body.data.secret as string;
      expect(fresh).toMatch(/^whsec_/);
      expect(fresh).not.toBe(subscription.secret);
      expect(Date.parse(rotated.body.data.previousSecretExpiresAt) - Date.now()).toBeGreaterThan(3500_000);
      const shown = await api().get(`/api/v1/webhooks/${subscription.id}`).set(tenant.auth);
      expect(shown.body.data).not.toHaveProperty('secret');
      expect(shown.body.data.previousSecretExpiresAt).toBe(rotated.body.data.previousSecretExpiresAt);

      const during = await deliverOne('Hopper');
      expect(during.header).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
      expect(pythonVerifies([
        { ...during, secret: fresh },
        { ...during, secret: subscription.secret },
      ])).toEqual([true, true]);

      // The overlap ends (as if an hour had passed): the old secret signs no more.
      await owner('webhook_subscriptions').where({ id: subscription.id }).update({ previous_secret_expires_at: owner.raw("now() - interval '1 second'") });
      const after = await deliverOne('Turing');
      expect(after.header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(pythonVerifies([{ ...after, secret: fresh }, { ...after, secret: subscription.secret }])).toEqual([true, false]);
      expect((await api().get(`/api/v1/webhooks/${subscription.id}`).set(tenant.auth)).body.data.previousSecretExpiresAt).toBeNull();

      const audit = await api().get('/api/v1/audit-logs').query({ action: 'webhook.rotate_secret' }).set(tenant.auth);
      expect(audit.body.data).toHaveLength(1);
      expect(JSON.stringify(audit.body.data)).not.toContain(fresh);
      subscription.secret = fresh;
    });

    it('when a rotation ends the overlap at once, then only the newest secret signs', async () => {
      const rotated = await api().post(`/api/v1/webhooks/${subscription.id}/rotate-secret`).set(tenant.auth).send({ overlapSeconds: 0 });
      expect(rotated.status).toBe(200);
      expect(rotated.body.data.previousSecretExpiresAt).toBeNull();
      const delivered = await deliverOne('Hamilton');
      expect(pythonVerifies([{ ...delivered, secret: rotated.body.data.secret }, { ...delivered, secret: subscription.secret }])).toEqual([true, false]);
    });

    it('when the rotation is malformed, unauthorised or names another tenant\'s webhook, then it answers the contract\'s error and the secret is unchanged', async () => {
      const before = await owner('webhook_subscriptions').where({ id: subscription.id }).first('secret_encrypted');
      const rotate = (id: string) => api().post(`/api/v1/webhooks/${id}/rotate-secret`);
      expect((await rotate(subscription.id).set(tenant.auth).send({ overlapSeconds: 8 * 24 * 3600 })).body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: [{ field: 'overlapSeconds' }] });
      expect((await rotate(subscription.id).set(tenant.auth).send({ overlapSeconds: 'soon' })).status).toBe(400);
      expect((await rotate(subscription.id).set(tenant.auth).send({ secret: 'mine' })).status).toBe(400);
      expect((await rotate(subscription.id).send({})).body.error.code).toBe('UNAUTHORIZED');
      const other = await registerTenant(t.app);
      expect((await rotate(subscription.id).set(other.auth).send({})).body.error.code).toBe('NOT_FOUND');
      expect((await owner('webhook_subscriptions').where({ id: subscription.id }).first('secret_encrypted')).secret_encrypted).toBe(before.secret_encrypted);
    });
  });
});
