import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { Secret, TOTP } from 'otpauth';
import request from 'supertest';
import { addMember, addRole, bearer, PASSWORD, registerTenant, Registered } from './support/api-fixtures';
import { eventually } from './support/eventually';
import { FakeSmtp } from './support/fake-smtp';
import { TestJobRunner } from './support/jobs';
import { WebhookReceiver } from './support/webhook-receiver';
import { mailsOf } from './support/mail-log';
import { platformAdmins, PlatformAdminsFixture, staffMember, StaffMember } from './support/platform-admin-fixtures';
import { securityStaffAlertJob } from '../src/modules/security/security-staff-alert.job';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

const codeAt = (secret: string, steps = 0): string =>
  new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate({ timestamp: Date.now() + steps * 30_000 });

describe('security events: detectors, alerts and their routes', () => {
  let t: TestApp;
  let owner: Knex;
  let a: Registered;
  let b: Registered;
  let staff: PlatformAdminsFixture;
  let marketing: StaffMember;

  beforeAll(async () => {
    // Low thresholds, so that two exports make a mass export, three sign-in failures or three 404s a pattern; the client
    // IP from X-Forwarded-For, so that sign-ins can come from several networks.
    t = buildTestApp({
      env: {
        SECURITY_EXPORTS_PER_HOUR: '2',
        SECURITY_SIGNIN_ACCOUNTS_PER_IP: '3',
        SECURITY_SIGNIN_IPS_PER_ACCOUNT: '3',
        SECURITY_SIGNIN_DELAY_MS: '1500',
        SECURITY_WALK_REFUSALS: '3',
        SECURITY_KEY_THROTTLE_SECONDS: '120',
        TRUST_PROXY: 'true',
      },
    });
    owner = ownerKnex();
    [a, b] = await Promise.all([registerTenant(t.app), registerTenant(t.app)]);
    staff = await platformAdmins(t, owner);
    marketing = await staffMember(t, owner, 'marketing');
  });
  afterAll(async () => {
    await t.close();
    await owner.destroy();
  });

  const events = (auth: Record<string, string>, query: Record<string, string> = {}) =>
    request(t.app).get('/api/v1/security/events').query(query).set(auth);
  const alertsTo = async (tenantId: string, email: string) =>
    (await mailsOf(owner, tenantId, 'security_alert')).filter((mail) => mail.recipient === email);

  describe('detectors', () => {
    it('when a custom role gains a *:manage permission, then a high event is listed and the admins get one mail per role per window', async () => {
      const roleId = await addRole(t.app, a, ['leads:read', 'users:manage']);
      const first = await events(a.auth, { type: 'privilege.role_escalated' });
      expect(first.status).toBe(200);
      const [raised] = first.body.data.filter((event: { details: { roleId: string } }) => event.details.roleId === roleId);
      expect(raised).toMatchObject({ severity: 'high', alerted: true, userId: null, details: { gained: ['users:manage'], actor: { type: 'user', id: a.userId } } });
      expect((await alertsTo(a.tenantId, a.email)).map((mail) => mail.message.subject)).toEqual([expect.stringContaining('privilege.role_escalated')]);

      // The same role gaining more within the window: listed again, not mailed again.
      const updated = await request(t.app).patch(`/api/v1/roles/${roleId}`).set(a.auth).send({ permissions: ['leads:read', 'users:manage', 'roles:manage'] });
      expect(updated.status).toBe(200);
      const again = (await events(a.auth, { type: 'privilege.role_escalated' })).body.data.filter((event: { details: { roleId: string } }) => event.details.roleId === roleId);
      expect(again.map((event: { alerted: boolean; details: { gained: string[] } }) => [event.alerted, event.details.gained])).toEqual([
        [false, ['roles:manage']],
        [true, ['users:manage']],
      ]);
      expect(await alertsTo(a.tenantId, a.email)).toHaveLength(1);

      // Gaining only record permissions is no escalation.
      await request(t.app).patch(`/api/v1/roles/${roleId}`).set(a.auth).send({ permissions: ['leads:read', 'leads:write', 'users:manage', 'roles:manage'] }).expect(200);
      expect((await events(a.auth, { type: 'privilege.role_escalated' })).body.data.filter((event: { details: { roleId: string } }) => event.details.roleId === roleId)).toHaveLength(2);
    });

    it('when a user is added as, or moved to, tenant admin, then privilege.admin_granted is raised about that user', async () => {
      const added = await addMember(t.app, a, 'tenant_admin');
      const moved = await addMember(t.app, a, 'manager');
      expect((await events(a.auth, { type: 'privilege.admin_granted', userId: moved.id })).body.data).toEqual([]);
      await request(t.app).patch(`/api/v1/users/${moved.id}`).set(a.auth).send({ role: 'tenant_admin' }).expect(200);
      const res = await events(a.auth, { type: 'privilege.admin_granted' });
      expect(res.body.data.map((event: { userId: string }) => event.userId)).toEqual(expect.arrayContaining([added.id, moved.id]));
      expect(res.body.data.every((event: { severity: string }) => event.severity === 'high')).toBe(true);
    });

    it('when an API key gets a role with *:manage permissions, then a medium event is listed and nobody is mailed about it', async () => {
      const mailsBefore = (await mailsOf(owner, b.tenantId, 'security_alert')).length;
      const key = await request(t.app).post('/api/v1/api-keys').set(b.auth).send({ name: 'Everything', role: 'tenant_admin' });
      expect(key.status).toBe(201);
      const narrow = await request(t.app).post('/api/v1/api-keys').set(b.auth).send({ name: 'Leads', role: 'tenant_admin', permissions: ['leads:read'] });
      expect(narrow.status).toBe(201);
      const res = await events(b.auth, { type: 'privilege.wide_api_key' });
      expect(res.body.data).toHaveLength(1);
      expect(res.body.data[0]).toMatchObject({ severity: 'medium', alerted: false, details: { apiKeyId: key.body.data.id, permissions: expect.arrayContaining(['users:manage', 'api_keys:manage']) } });
      expect(await mailsOf(owner, b.tenantId, 'security_alert')).toHaveLength(mailsBefore);
    });

    it('when a user turns MFA off, then mfa.disabled is raised about them and the admins are mailed', async () => {
      const member = await addMember(t.app, b, 'sales_user');
      const { secret } = (await request(t.app).post('/api/v1/auth/mfa/setup').set(member.auth)).body.data;
      await request(t.app).post('/api/v1/auth/mfa/enable').set(member.auth).send({ code: codeAt(secret) }).expect(200);
      expect((await events(b.auth, { type: 'mfa.disabled' })).body.data).toEqual([]);
      await request(t.app).post('/api/v1/auth/mfa/disable').set(member.auth).send({ code: codeAt(secret, 1) }).expect(204);
      const res = await events(b.auth, { type: 'mfa.disabled' });
      expect(res.body.data).toEqual([expect.objectContaining({ userId: member.id, severity: 'high', alerted: true })]);
      expect(await alertsTo(b.tenantId, b.email)).toEqual(
        expect.arrayContaining([expect.objectContaining({ message: expect.objectContaining({ subject: expect.stringContaining('mfa.disabled') }) })]),
      );
    });

    it('when a tenant exports SECURITY_EXPORTS_PER_HOUR times within an hour, then export.mass is raised once the last export has been sent', async () => {
      const exportLeads = () => request(t.app).get('/api/v1/leads/export/csv').set(b.auth).expect(200);
      await exportLeads();
      // The export's events commit after its last byte: wait for its audit entry, which the detector counts.
      await eventually(async () => (await owner('audit_logs').where({ tenant_id: b.tenantId, action: 'lead.export' }).select('id')).length === 1, 15_000, 'the first export audited');
      expect((await events(b.auth, { type: 'export.mass' })).body.data).toEqual([]);
      await exportLeads();
      await eventually(async () => (await events(b.auth, { type: 'export.mass' })).body.data.length > 0, 15_000, 'export.mass raised');
      expect((await events(b.auth, { type: 'export.mass' })).body.data).toEqual([
        expect.objectContaining({ severity: 'high', alerted: true, details: expect.objectContaining({ exportsInHour: 2, resources: ['lead'] }) }),
      ]);
    });

    it('when a spent refresh token is presented again, then session.refresh_reuse (critical) is raised about its user and the admins are mailed', async () => {
      const member = await addMember(t.app, a, 'sales_user');
      const refresh = (refreshToken: string) => request(t.app).post('/api/v1/auth/refresh').send({ refreshToken });
      const renewed = await refresh(member.refreshToken);
      expect(renewed.status).toBe(200);
      expect((await refresh(member.refreshToken)).status).toBe(401);
      const res = await events(a.auth, { type: 'session.refresh_reuse' });
      expect(res.body.data).toEqual([expect.objectContaining({ severity: 'critical', userId: member.id, alerted: true, details: expect.objectContaining({ response: 'session_revoked' }) })]);
      expect((await alertsTo(a.tenantId, a.email)).some((mail) => mail.message.subject.includes('session.refresh_reuse'))).toBe(true);

      // The automatic response: the whole family is gone, the successor pair included, and that is an event too.
      expect((await refresh(renewed.body.data.tokens.refreshToken)).status).toBe(401);
      expect((await request(t.app).get('/api/v1/auth/me').set(bearer(renewed.body.data.tokens.accessToken))).status).toBe(401);
      const response = await events(a.auth, { type: 'response.refresh_family_revoked', userId: member.id });
      expect(response.body.data).toEqual([expect.objectContaining({ severity: 'medium', alerted: false, details: expect.objectContaining({ revokedAt: expect.any(String) }) })]);
    });

    it('when an API key is answered 404 SECURITY_WALK_REFUSALS times within the window, then access.id_walk is raised and the key gets 429 with Retry-After, itself an event', async () => {
      const { body } = await request(t.app).post('/api/v1/api-keys').set(b.auth).send({ name: 'Walker', role: 'read_only' }).expect(201);
      const key = bearer(body.data.key);
      expect((await request(t.app).get('/api/v1/leads').set(key)).status).toBe(200);
      for (let i = 0; i < 2; i += 1) expect((await request(t.app).get(`/api/v1/leads/${randomUUID()}`).set(key)).status).toBe(404);
      expect((await events(b.auth, { type: 'access.id_walk' })).body.data).toEqual([]);
      expect((await request(t.app).get(`/api/v1/contacts/${randomUUID()}`).set(key)).status).toBe(404);

      const walk = await events(b.auth, { type: 'access.id_walk' });
      expect(walk.body.data).toEqual([
        expect.objectContaining({ severity: 'high', alerted: true, userId: null, details: expect.objectContaining({ caller: { kind: 'api_key', id: body.data.id }, refusals: 3 }) }),
      ]);
      const throttled = await events(b.auth, { type: 'response.api_key_throttled' });
      expect(throttled.body.data).toEqual([expect.objectContaining({ severity: 'medium', details: { apiKeyId: body.data.id, forSeconds: 120, actor: expect.any(Object) } })]);
      const refused = await request(t.app).get('/api/v1/leads').set(key);
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('RATE_LIMITED');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(100);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(120);
      // The tenant's other callers are untouched.
      expect((await request(t.app).get('/api/v1/leads').set(b.auth)).status).toBe(200);
    });

    it('when a user is answered 404 and 403 SECURITY_WALK_REFUSALS times, then access.id_walk is raised about them, and a user is not throttled', async () => {
      const walker = await addMember(t.app, b, 'support_user');
      expect((await request(t.app).get(`/api/v1/tickets/${randomUUID()}`).set(walker.auth)).status).toBe(404);
      expect((await request(t.app).get(`/api/v1/leads/${randomUUID()}`).set(walker.auth)).status).toBe(403);
      expect((await request(t.app).get(`/api/v1/tickets/${randomUUID()}`).set(walker.auth)).status).toBe(404);
      const res = await events(b.auth, { type: 'access.id_walk', userId: walker.id });
      expect(res.body.data).toEqual([expect.objectContaining({ severity: 'high', details: expect.objectContaining({ caller: { kind: 'user', id: walker.id } }) })]);
      expect((await request(t.app).get('/api/v1/tickets').set(walker.auth)).status).toBe(200);
    });

    it('when staff impersonate a user and sign the support session out, then impersonation.started and impersonation.ended name the staff member', async () => {
      const started = await request(t.app)
        .post(`/api/v1/admin/tenants/${b.tenantId}/impersonate`)
        .set(bearer(staff.superAdmin.token))
        .send({ reason: 'Ticket 99: cannot see a deal' });
      expect(started.status).toBe(201);
      const { sessionId, tokens } = started.body.data;
      const start = await events(b.auth, { type: 'impersonation.started' });
      expect(start.body.data).toEqual([
        expect.objectContaining({ severity: 'medium', userId: b.userId, details: expect.objectContaining({ impersonatorId: staff.superAdmin.id, sessionId, reason: 'Ticket 99: cannot see a deal' }) }),
      ]);
      expect((await events(b.auth, { type: 'impersonation.ended' })).body.data).toEqual([]);
      expect((await request(t.app).post('/api/v1/auth/logout').set(bearer(tokens.accessToken))).status).toBe(204);
      const end = await events(b.auth, { type: 'impersonation.ended' });
      expect(end.body.data).toEqual([expect.objectContaining({ severity: 'low', userId: b.userId, details: expect.objectContaining({ impersonatorId: staff.superAdmin.id, sessionId }) })]);
    });

    describe('sign-ins', () => {
      let c: Registered;
      let members: Array<{ id: string; email: string }>;
      beforeAll(async () => {
        c = await registerTenant(t.app);
        members = [];
        for (let i = 0; i < 3; i += 1) members.push(await addMember(t.app, c, 'sales_user'));
      });
      const signIn = (email: string, password: string, ip: string) => request(t.app).post('/api/v1/auth/login').set('X-Forwarded-For', ip).send({ email, password });

      it('when one IP fails to sign in to SECURITY_SIGNIN_ACCOUNTS_PER_IP accounts, then signin.failures_one_ip is raised once and mailed', async () => {
        for (const member of members.slice(0, 2)) expect((await signIn(member.email, 'Wrong-Passw0rd', '198.51.100.7')).status).toBe(401);
        expect((await events(c.auth, { type: 'signin.failures_one_ip' })).body.data).toEqual([]);
        expect((await signIn(members[2]!.email, 'Wrong-Passw0rd', '198.51.100.7')).status).toBe(401);
        expect((await signIn(members[2]!.email, 'Wrong-Passw0rd', '198.51.100.7')).status).toBe(401);
        const res = await events(c.auth, { type: 'signin.failures_one_ip' });
        expect(res.body.data).toEqual([expect.objectContaining({ severity: 'high', alerted: true, details: expect.objectContaining({ ip: '198.51.100.7', accounts: 3 }) })]);
        expect((await alertsTo(c.tenantId, c.email)).map((mail) => mail.message.subject)).toEqual([expect.stringContaining('signin.failures_one_ip')]);

        // The automatic response: every sign-in from that IP now waits SECURITY_SIGNIN_DELAY_MS, right password or not.
        const delayed = await events(c.auth, { type: 'response.signin_delayed' });
        expect(delayed.body.data).toEqual([expect.objectContaining({ severity: 'medium', details: expect.objectContaining({ ip: '198.51.100.7', delayMs: 1500, forSeconds: 900 }) })]);
        const startedAt = Date.now();
        expect((await signIn(members[2]!.email, PASSWORD, '198.51.100.7')).status).toBe(200);
        expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1500);
      });

      it('when one account fails to sign in from SECURITY_SIGNIN_IPS_PER_ACCOUNT addresses, then signin.failures_one_account is raised about it', async () => {
        const target = members[0]!;
        for (const ip of ['192.0.2.1', '192.0.2.2']) expect((await signIn(target.email, 'Wrong-Passw0rd', ip)).status).toBe(401);
        const res = await events(c.auth, { type: 'signin.failures_one_account' });
        expect(res.body.data).toEqual([expect.objectContaining({ severity: 'high', userId: target.id, details: expect.objectContaining({ ips: 3 }) })]);
      });

      it('when a user signs in from a network not seen for them, then signin.new_network is mailed to that user, not to the admins; the same network again raises nothing', async () => {
        const user = members[1]!;
        const adminMails = (await alertsTo(c.tenantId, c.email)).length;
        expect((await signIn(user.email, PASSWORD, '203.0.113.5')).status).toBe(200);
        expect((await signIn(user.email, PASSWORD, '203.0.113.77')).status).toBe(200);
        const res = await events(c.auth, { type: 'signin.new_network', userId: user.id });
        expect(res.body.data).toEqual([expect.objectContaining({ severity: 'medium', userId: user.id, alerted: true, details: expect.objectContaining({ ip: '203.0.113.5' }) })]);
        expect((await alertsTo(c.tenantId, user.email)).map((mail) => mail.message.subject)).toEqual([expect.stringContaining('signin.new_network')]);
        expect(await alertsTo(c.tenantId, c.email)).toHaveLength(adminMails);
      });
    });

    it('when events are raised, then /metrics counts them by type and severity', async () => {
      const metrics = await request(t.app).get('/metrics');
      expect(metrics.text).toMatch(/security_events_total\{type="privilege\.role_escalated",severity="high"\} [1-9]/);
      expect(metrics.text).toMatch(/security_events_total\{type="privilege\.wide_api_key",severity="medium"\} [1-9]/);
    });
  });

  describe('GET /security/events', () => {
    it('when paged, then the newest come first and the cursor leads to the rest without repeats', async () => {
      const all = (await events(a.auth, { limit: '100' })).body.data.map((event: { id: string }) => event.id);
      expect(all.length).toBeGreaterThanOrEqual(3);
      const first = await events(a.auth, { limit: '2' });
      expect(first.body.pagination).toMatchObject({ limit: 2, hasMore: true, nextCursor: expect.any(String) });
      const second = await events(a.auth, { limit: '100', cursor: first.body.pagination.nextCursor });
      expect([...first.body.data, ...second.body.data].map((event: { id: string }) => event.id)).toEqual(all);
    });

    it('when the caller is not a tenant admin, or not signed in, then 403 and 401', async () => {
      const sales = await addMember(t.app, a, 'sales_user');
      expect((await events(sales.auth)).body.error.code).toBe('FORBIDDEN');
      expect((await request(t.app).get('/api/v1/security/events')).status).toBe(401);
    });

    it('when the filters are malformed, then 400 names them', async () => {
      const res = await events(a.auth, { severity: 'apocalyptic', cursor: 'not-a-cursor', tenantId: b.tenantId });
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((detail: { field: string }) => detail.field).sort()).toEqual(['query.cursor', 'query.severity', 'query.tenantId']);
    });

    it("when a tenant lists its events, then none of another tenant's appear", async () => {
      const ofB = (await events(b.auth, { limit: '500' })).body.data;
      const ofA = new Set((await events(a.auth, { limit: '500' })).body.data.map((event: { id: string }) => event.id));
      expect(ofB.length).toBeGreaterThan(0);
      expect(ofB.some((event: { id: string }) => ofA.has(event.id))).toBe(false);
      expect((await events(b.auth, { userId: a.userId })).body.data).toEqual([]);
    });
  });

  describe('staff alerts', () => {
    let smtp: FakeSmtp;
    let slack: WebhookReceiver;
    let jobs: TestJobRunner;
    beforeAll(async () => {
      [smtp, slack] = await Promise.all([new FakeSmtp().start(), new WebhookReceiver().start()]);
      jobs = new TestJobRunner(t);
    });
    afterAll(async () => {
      await Promise.all([smtp.stop(), slack.stop(), jobs.close()]);
    });

    /** The staff-alert job as a worker runs it, sending through the local SMTP double. */
    const runStaffAlert = (tenantId: string, securityEventId: string) =>
      securityStaffAlertJob.run(
        { tenantId, securityEventId },
        { ...jobs.deps, config: { ...t.deps.config, email: { ...t.deps.config.email, transport: 'smtp', smtpUrl: `smtp://127.0.0.1:${smtp.port}` } } },
        { id: 'test', attempt: 1, maxAttempts: 5, logger: t.deps.logger },
      );

    it('when a critical event is raised and a webhook is set in /admin/config, then staff who read audit logs are mailed and Slack is told, once per pattern per window', async () => {
      const config = await request(t.app).put('/api/v1/admin/config').set(bearer(staff.superAdmin.token)).send({ securityAlertWebhookUrl: slack.url('/slack') });
      expect(config.status).toBe(200);
      expect(config.body.data.settings.securityAlertWebhookUrl).toEqual({ value: slack.url('/slack'), source: 'override', environmentValue: '' });

      const member = await addMember(t.app, a, 'sales_user');
      const refresh = (refreshToken: string) => request(t.app).post('/api/v1/auth/refresh').send({ refreshToken });
      await refresh(member.refreshToken).expect(200);
      await refresh(member.refreshToken).expect(401);
      const [event] = (await events(a.auth, { type: 'session.refresh_reuse', userId: member.id })).body.data;
      // Only the critical event queues a staff alert; its response (medium) does not.
      const queued = (await jobs.queuedJobs({ task: 'security.staff_alert', tenantId: a.tenantId })).length;
      expect(queued).toBeGreaterThanOrEqual(1);

      await runStaffAlert(a.tenantId, event.id);
      const recipients = smtp.messages.flatMap((message) => message.to);
      expect(recipients).toEqual(expect.arrayContaining([staff.superAdmin.email, staff.support.email]));
      expect(recipients).not.toContain(marketing.email);
      expect(smtp.messages[0]!.data).toContain('session.refresh_reuse');
      expect(slack.at('/slack')).toHaveLength(1);
      expect(JSON.parse(slack.at('/slack')[0]!.body)).toEqual({ text: expect.stringContaining('*session.refresh_reuse*') });

      const [claim] = await owner('security_staff_alerts').where({ scope: t.deps.config.redisKeyPrefix, dedup_key: `session.refresh_reuse:${event.details.sessionId}` });
      expect(claim).toMatchObject({ source_tenant_id: a.tenantId, security_event_id: event.id, staff_mailed: recipients.length, webhook_status: '200' });

      // The same pattern again within the window: nothing more goes out.
      const mailed = smtp.messages.length;
      await runStaffAlert(a.tenantId, event.id);
      expect(smtp.messages).toHaveLength(mailed);
      expect(slack.at('/slack')).toHaveLength(1);

      await request(t.app).put('/api/v1/admin/config').set(bearer(staff.superAdmin.token)).send({ securityAlertWebhookUrl: null }).expect(200);
    });

    it('when the webhook setting is not a URL, or staff without config:manage set it, then 400 and 403', async () => {
      const bad = await request(t.app).put('/api/v1/admin/config').set(bearer(staff.superAdmin.token)).send({ securityAlertWebhookUrl: 'javascript:alert(1)' });
      expect(bad.status).toBe(400);
      expect(bad.body.error.details.map((detail: { field: string }) => detail.field)).toEqual(['securityAlertWebhookUrl']);
      expect((await request(t.app).put('/api/v1/admin/config').set(bearer(staff.support.token)).send({ securityAlertWebhookUrl: slack.url('/x') })).status).toBe(403);
    });
  });

  describe('GET /admin/security/events', () => {
    it('when staff who read audit logs list them, then every tenant shows, with its id, filterable by tenant and severity', async () => {
      const all = await request(t.app).get('/api/v1/admin/security/events').query({ limit: '500' }).set(bearer(staff.support.token));
      expect(all.status).toBe(200);
      const tenants = new Set(all.body.data.map((event: { tenantId: string }) => event.tenantId));
      expect(tenants.has(a.tenantId) && tenants.has(b.tenantId)).toBe(true);
      const onlyB = await request(t.app).get('/api/v1/admin/security/events').query({ tenantId: b.tenantId, severity: 'medium' }).set(bearer(staff.support.token));
      expect(new Set(onlyB.body.data.map((event: { type: string }) => event.type))).toEqual(
        new Set(['privilege.wide_api_key', 'response.api_key_throttled', 'impersonation.started']),
      );
      expect(onlyB.body.data.every((event: { tenantId: string; severity: string }) => event.tenantId === b.tenantId && event.severity === 'medium')).toBe(true);
    });

    it('when staff without audit:read, a tenant user or nobody ask, then 403, 403 and 401', async () => {
      expect((await request(t.app).get('/api/v1/admin/security/events').set(bearer(marketing.token))).status).toBe(403);
      expect((await request(t.app).get('/api/v1/admin/security/events').set(a.auth)).status).toBe(403);
      expect((await request(t.app).get('/api/v1/admin/security/events')).status).toBe(401);
    });
  });

  // Last, with an app of its own: building an app points the sign-in detectors at its configuration.
  describe('a mass export by rows', () => {
    it('when one export reaches SECURITY_EXPORT_ROWS rows, then export.mass is raised for that single export', async () => {
      const rowsApp = buildTestApp({ env: { SECURITY_EXPORT_ROWS: '2' } });
      try {
        const tenant = await registerTenant(rowsApp.app);
        for (const lastName of ['One', 'Two']) await request(rowsApp.app).post('/api/v1/leads').set(tenant.auth).send({ lastName }).expect(201);
        await request(rowsApp.app).get('/api/v1/leads/export/csv').set(tenant.auth).expect(200);
        const massExports = async () => (await request(rowsApp.app).get('/api/v1/security/events').query({ type: 'export.mass' }).set(tenant.auth)).body.data;
        await eventually(async () => (await massExports()).length > 0, 15_000, 'export.mass raised');
        expect(await massExports()).toEqual([expect.objectContaining({ severity: 'high', details: expect.objectContaining({ rows: 2, exportsInHour: 1 }) })]);
      } finally {
        await rowsApp.close();
      }
    });
  });
});
