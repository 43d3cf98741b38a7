import { randomUUID } from 'node:crypto';
import net, { AddressInfo } from 'node:net';
import { Knex } from 'knex';
import request from 'supertest';
import { outboundCallsOf } from '../src/infra/outbound/outbound-call';
import { withTenant } from '../src/infra/tenant-scope';
import { ensureSuperAdmin } from '../src/modules/admin/platform-admins.service';
import { EMAIL_TEMPLATES } from '../src/modules/notifications/email-templates';
import { notificationSendJob } from '../src/modules/notifications/notification-send.job';
import { encryptCredential, rowContext } from '../src/modules/credentials/credential-crypto';
import { bearer, registerTenant, Registered } from './support/api-fixtures';
import { FakeSmtp } from './support/fake-smtp';
import { TestJobRunner } from './support/jobs';
import { mailsOf, runJobsUntil, sendPendingMails } from './support/mail-log';
import { buildTestApp, ownerKnex, testConfig, TestApp } from './support/test-app';

const ADMIN_PASSWORD = 'Platform-Admin-Passw0rd!';

describe('e-mail notifications', () => {
  let t: TestApp;
  let jobs: TestJobRunner;
  let owner: Knex;
  const adminEmail = `root-${randomUUID().slice(0, 8)}@example.com`;
  const api = () => request(t.app);

  beforeAll(async () => {
    t = buildTestApp({ env: { SUPER_ADMIN_EMAIL: adminEmail, SUPER_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    jobs = new TestJobRunner(t);
    owner = ownerKnex();
    await ensureSuperAdmin(t.deps.platformKnex, t.deps.config, t.deps.logger);
  });
  afterAll(async () => {
    await owner.destroy();
    await jobs.close();
    await t.close();
  });

  it('when an organization registers, then its first user gets a welcome e-mail, sent through the job engine', async () => {
    const tenant = await registerTenant(t.app);
    expect((await mailsOf(owner, tenant.tenantId, 'welcome'))[0]).toMatchObject({ recipient: tenant.email, status: 'pending', attempts: 0 });
    await sendPendingMails(jobs, tenant.tenantId);
    const [mail] = await mailsOf(owner, tenant.tenantId, 'welcome');
    expect(mail).toMatchObject({ status: 'sent', attempts: 1 });
    expect(mail!.message.subject).toMatch(/^Welcome to Company /);
    expect(mail!.message.text).toContain('Hello Olive,');
  });

  it('when a member is invited without a password, then the invitation e-mail carries the code that accepts it', async () => {
    const tenant = await registerTenant(t.app);
    const email = `invitee-${randomUUID().slice(0, 8)}@example.com`;
    const invited = await api().post('/api/v1/users').set(tenant.auth).send({ email, firstName: 'Ivy', lastName: 'Invitee', role: 'sales_user' });
    expect(invited.status).toBe(201);
    await sendPendingMails(jobs, tenant.tenantId);
    const [mail] = await mailsOf(owner, tenant.tenantId, 'invite');
    expect(mail).toMatchObject({ recipient: email, status: 'sent' });
    expect(mail!.message.text).toContain(invited.body.data.inviteToken);
  });

  it('when a ticket is opened for a contact with an e-mail address, then the contact gets a confirmation; without one, nothing', async () => {
    const tenant = await registerTenant(t.app);
    const contact = await api().post('/api/v1/contacts').set(tenant.auth).send({ firstName: 'Cy', lastName: 'Customer', email: 'cy@example.com' });
    const silent = await api().post('/api/v1/contacts').set(tenant.auth).send({ lastName: 'NoMail' });
    const ticket = await api().post('/api/v1/tickets').set(tenant.auth).send({ subject: 'Cannot export', contactId: contact.body.data.id });
    await api().post('/api/v1/tickets').set(tenant.auth).send({ subject: 'Quiet one', contactId: silent.body.data.id });
    expect(ticket.status).toBe(201);
    await sendPendingMails(jobs, tenant.tenantId);
    const mails = await mailsOf(owner, tenant.tenantId, 'ticket_confirmation');
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ recipient: 'cy@example.com', status: 'sent' });
    expect(mails[0]!.message.text).toContain(ticket.body.data.id);
  });

  it('when a platform admin suspends a tenant, then its admins are e-mailed', async () => {
    const tenant = await registerTenant(t.app);
    const signIn = await api().post('/api/v1/admin/auth/login').send({ email: adminEmail, password: ADMIN_PASSWORD });
    const suspended = await api()
      .patch(`/api/v1/admin/tenants/${tenant.tenantId}`)
      .set(bearer(signIn.body.data.tokens.accessToken))
      .send({ status: 'suspended', reason: 'Unpaid invoices' });
    expect(suspended.status).toBe(200);
    await runJobsUntil(jobs, tenant.tenantId, async () => (await mailsOf(owner, tenant.tenantId, 'tenant_suspended')).some((mail) => mail.status === 'sent'));
    const [mail] = await mailsOf(owner, tenant.tenantId, 'tenant_suspended');
    expect(mail).toMatchObject({ recipient: tenant.email, status: 'sent' });
    expect(mail!.message.text).toContain('Reason: Unpaid invoices');
  });

  it('when billing reports a failed payment or an ending trial, then the admins get those e-mails', async () => {
    const tenant = await registerTenant(t.app);
    for (const payload of [{ notice: 'payment_failed', reason: 'card declined' }, { notice: 'trial_expiring', endsAt: '2026-12-01T00:00:00.000Z' }]) {
      await withTenant(t.deps.knex, tenant.tenantId, async () => {
        const { enqueueJob } = await import('../src/jobs/enqueue');
        await enqueueJob('notifications.organization', payload);
      });
    }
    await runJobsUntil(jobs, tenant.tenantId, async () => {
      const mails = await mailsOf(owner, tenant.tenantId);
      return ['payment_failed', 'trial_expiring'].every((template) => mails.some((mail) => mail.template === template && mail.status === 'sent'));
    });
    expect((await mailsOf(owner, tenant.tenantId, 'payment_failed'))[0]!.message.text).toContain('card declined');
    expect((await mailsOf(owner, tenant.tenantId, 'trial_expiring'))[0]!.message.text).toContain('2026-12-01');
  });

  describe('over SMTP', () => {
    let smtp: FakeSmtp;
    let tenant: Registered;
    beforeAll(async () => {
      smtp = await new FakeSmtp().start();
      tenant = await registerTenant(t.app);
    });
    afterAll(() => smtp.stop());

    /** A pending notification with no job, sent by calling the job with SMTP deps. */
    async function queued(to: string): Promise<string> {
      const id = randomUUID();
      const message = EMAIL_TEMPLATES.ticket_confirmation({ subject: 'Hello <b>there</b>', reference: 'R-1' });
      const sealed = encryptCredential(t.deps.config.credentialKeys, JSON.stringify(message), rowContext('notifications', tenant.tenantId, id));
      await owner('notifications').insert({ tenant_id: tenant.tenantId, id, template: 'ticket_confirmation', recipient: to, message_encrypted: sealed });
      return id;
    }
    const run = (id: string, smtpUrl: string, attempt = 1) =>
      notificationSendJob.run({ tenantId: tenant.tenantId, notificationId: id }, { ...jobs.deps, config: testConfig({ SMTP_URL: smtpUrl }) }, { id: 'test', attempt, maxAttempts: 6, logger: t.deps.logger });
    const row = (id: string) => owner('notifications').where({ id }).first('status', 'attempts', 'last_error', 'message_encrypted', 'sent_at');

    it('when the server accepts, then the message is sent, escaped in HTML, and its stored copy is wiped', async () => {
      const id = await queued('someone@example.com');
      await run(id, `smtp://127.0.0.1:${smtp.port}`);
      expect(await row(id)).toMatchObject({ status: 'sent', attempts: 1, message_encrypted: null, last_error: null });
      const sent = smtp.messages.find((m) => m.to.includes('someone@example.com'))!;
      expect(sent.data.replace(/=\n/g, '')).toContain('Hello &lt;b&gt;there&lt;/b&gt;');
      expect(sent.data).toContain('Content-Type: text/html');
    });

    it('when the server refuses the recipient, then the notification is bounced, not retried', async () => {
      const id = await queued('bounce-me@example.com');
      await expect(run(id, `smtp://127.0.0.1:${smtp.port}`)).resolves.toBeUndefined();
      expect(await row(id)).toMatchObject({ status: 'bounced', attempts: 1, last_error: expect.stringContaining('550') });
    });

    it('when the server is unreachable, then the job fails to be retried, and after the last attempt the notification is failed', async () => {
      const id = await queued('later@example.com');
      await expect(run(id, 'smtp://127.0.0.1:1', 1)).rejects.toThrow();
      expect(await row(id)).toMatchObject({ status: 'pending', attempts: 1, last_error: expect.stringMatching(/ECONNREFUSED|connect/i) });
      await expect(run(id, 'smtp://127.0.0.1:1', 6)).rejects.toThrow();
      expect(await row(id)).toMatchObject({ status: 'failed', attempts: 2 });
      // A finished notification is never sent again by a stray job.
      await run(id, `smtp://127.0.0.1:${smtp.port}`);
      expect(smtp.messages.some((m) => m.to.includes('later@example.com'))).toBe(false);
    });

    it('when the mail server keeps answering 421, then its circuit breaker opens and later sends fail at once without connecting, the mails kept pending', async () => {
      let connections = 0;
      const unavailable = net.createServer((socket) => {
        connections += 1;
        socket.end('421 service not available, closing channel\r\n');
      });
      await new Promise<void>((resolve) => unavailable.listen(0, '127.0.0.1', resolve));
      const url = `smtp://127.0.0.1:${(unavailable.address() as AddressInfo).port}`;
      // One configuration for every run, as a worker has: the breaker belongs to it.
      const config = testConfig({ SMTP_URL: url, OUTBOUND_BREAKER_VOLUME: '2', OUTBOUND_BREAKER_RESET_MS: '600000' });
      const send = (id: string) =>
        notificationSendJob.run({ tenantId: tenant.tenantId, notificationId: id }, { ...jobs.deps, config }, { id: 'test', attempt: 1, maxAttempts: 6, logger: t.deps.logger });
      try {
        for (const to of ['first@example.com', 'second@example.com']) await expect(send(await queued(to))).rejects.toThrow(/421/);
        expect(connections).toBe(2);
        const third = await queued('third@example.com');
        await expect(send(third)).rejects.toThrow(/circuit open/);
        expect(connections).toBe(2);
        expect(await row(third)).toMatchObject({ status: 'pending', last_error: expect.stringContaining('circuit open') });
        expect(outboundCallsOf(config).snapshot()).toEqual([expect.objectContaining({ state: 'open', calls: expect.objectContaining({ failure: 2, rejected: 1 }) })]);
        expect(JSON.stringify(outboundCallsOf(config).snapshot())).not.toContain('smtp://');
      } finally {
        await new Promise((resolve) => unavailable.close(resolve));
      }
    });
  });

  it('escapes values in every HTML template', () => {
    const html = EMAIL_TEMPLATES.tenant_suspended({ organization: '<script>x</script>', reason: '"quoted" & more' }).html;
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
    expect(html).toContain('&quot;quoted&quot; &amp; more');
  });
});
