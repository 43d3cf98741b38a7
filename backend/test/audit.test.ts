import { randomUUID } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import { Knex } from 'knex';
import request from 'supertest';
import { withTenant } from '../src/infra/tenant-scope';
import { AuditActor, AuditEvent } from '../src/modules/audit/audit-context';
import { destroySubjectKey } from '../src/modules/audit/audit-crypto';
import { sealTenantAudit } from '../src/modules/audit/audit-sealer';
import { diffChanges, writeAuditNow } from '../src/modules/audit/audit-store';
import { bearer, login, Registered, registerTenant } from './support/api-fixtures';
import { whileSealingStalls } from './support/audit-sealing';
import { buildTestApp, createTenantFixture, ownerKnex, runtimeKnex, TestApp } from './support/test-app';

interface Entry {
  id: string;
  seq: number | null;
  occurredAt: string;
  actor: { type: string; id: string | null; impersonatorId: string | null };
  action: string;
  resourceType: string | null;
  resourceId: string | null;
  changes: Record<string, { before: unknown; after: unknown }> | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  result: string;
  errorCode: string | null;
  hash: string | null;
}

describe('audit log', () => {
  let t: TestApp;
  let runtime: Knex;
  let owner: Knex;
  beforeAll(() => {
    t = buildTestApp();
    runtime = runtimeKnex(12);
    owner = ownerKnex();
  });
  afterAll(async () => {
    await t.close();
    await runtime.destroy();
    await owner.destroy();
  });

  const actorOf = (userId: string, overrides: Partial<AuditActor> = {}): AuditActor => ({
    actorType: 'user',
    actorId: userId,
    ip: '203.0.113.7',
    userAgent: 'audit-test/1.0',
    requestId: 'req-audit-test',
    ...overrides,
  });

  /** Appends through the real path: the audit store's writer, in the tenant transaction (as the audit subscriber does); not sealed yet. */
  const append = (tenantId: string, actor: AuditActor, events: AuditEvent[]) => withTenant(runtime, tenantId, () => writeAuditNow(actor, events));

  /** Appends, then runs the sealer for the tenant, as its job would a second later. */
  const audit = async (tenantId: string, actor: AuditActor, events: AuditEvent[]) => {
    await append(tenantId, actor, events);
    await sealTenantAudit(owner, tenantId);
  };

  /** What verify answers for a fully sealed trail of n entries. */
  const allSealed = (sealed: number) => ({ valid: true, sealed, pending: 0, oldestPendingAt: null });

  const inTenant = <T>(tenantId: string, fn: () => Promise<T>) => withTenant(runtime, tenantId, fn);

  /** The owner is subject to row-level security too (unless it is a superuser), so it names the tenant. */
  const asOwner = <T>(tenantId: string, fn: (trx: Knex.Transaction) => Promise<T>) =>
    owner.transaction(async (trx) => {
      await trx.raw("select set_config('app.tenant_id', ?, true)", [tenantId]);
      return fn(trx);
    });

  const get = (admin: Registered | { auth: Record<string, string> }, path: string, query: Record<string, unknown> = {}) =>
    request(t.app).get(`/api/v1${path}`).query(query).set(admin.auth);

  /** Sign-up audits itself; these tests count from an empty trail, so that trail is pruned first. */
  const register = async () => {
    const admin = await registerTenant(t.app, { plan: 'pro' });
    await asOwner(admin.tenantId, async (trx) => {
      await trx.raw("select set_config('app.audit_prune', 'on', true)");
      await trx('audit_logs').where({ tenant_id: admin.tenantId }).delete();
      await trx('audit_chain_heads').where({ tenant_id: admin.tenantId }).delete();
    });
    return admin;
  };

  const event = (overrides: Partial<AuditEvent> = {}): AuditEvent => ({
    action: 'deal.update',
    resourceType: 'deal',
    resourceId: randomUUID(),
    before: { stage: 'qualified' },
    after: { stage: 'won' },
    ...overrides,
  });

  const storedSeqs = (tenantId: string) =>
    asOwner(tenantId, async (trx) =>
      (await trx('audit_logs').where({ tenant_id: tenantId }).orderBy('seq').select<{ seq: string }[]>('seq')).map((row) => Number(row.seq)),
    );

  describe('GET /audit-logs', () => {
    it('when entries are written, then they are listed newest first with actor, request and a hash', async () => {
      const admin = await register();
      const resourceId = randomUUID();
      await audit(admin.tenantId, actorOf(admin.userId), [
        event({ action: 'deal.create', resourceId, before: null, after: { stage: 'qualified', amount: 1200 } }),
        event({ action: 'deal.update', resourceId, result: 'failure', errorCode: 'CONFLICT' }),
      ]);

      const res = await get(admin, '/audit-logs', { resourceId });
      expect(res.status).toBe(200);
      expect(res.body.pagination).toEqual({ limit: 50, nextCursor: null, hasMore: false });
      const [update, create] = res.body.data as Entry[];
      expect(update).toEqual({
        id: expect.any(String),
        seq: create!.seq! + 1,
        occurredAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
        actor: { type: 'user', id: admin.userId, impersonatorId: null },
        action: 'deal.update',
        resourceType: 'deal',
        resourceId,
        changes: { stage: { before: 'qualified', after: 'won' } },
        ip: '203.0.113.7',
        userAgent: 'audit-test/1.0',
        requestId: 'req-audit-test',
        result: 'failure',
        errorCode: 'CONFLICT',
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect(create).toMatchObject({ action: 'deal.create', changes: { stage: { before: null, after: 'qualified' }, amount: { before: null, after: 1200 } } });
    });

    it('when more entries match than one page holds, then the cursor walks them all once, newest first', async () => {
      const admin = await register();
      await audit(admin.tenantId, actorOf(admin.userId), Array.from({ length: 25 }, () => event({ action: 'task.touch', resourceType: 'task' })));
      await audit(admin.tenantId, actorOf(admin.userId), [event({ action: 'other.action' })]);

      const seen: Entry[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const res = await get(admin, '/audit-logs', { action: 'task.touch', limit: 10, ...(cursor ? { cursor } : {}) });
        expect(res.status).toBe(200);
        seen.push(...(res.body.data as Entry[]));
        cursor = res.body.pagination.nextCursor ?? undefined;
        expect(res.body.pagination.hasMore).toBe(cursor !== undefined);
        pages += 1;
      } while (cursor);

      expect(pages).toBe(3);
      expect(seen).toHaveLength(25);
      expect(new Set(seen.map((entry) => entry.id)).size).toBe(25);
      expect(seen.every((entry) => entry.action === 'task.touch')).toBe(true);
      const seqs = seen.map((entry) => entry.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => b! - a!));
    });

    it('when filtered by action, resource, user or time, then only matching entries come back', async () => {
      const admin = await register();
      const contactId = randomUUID();
      const otherActor = randomUUID();
      await audit(admin.tenantId, actorOf(admin.userId), [
        event({ action: 'contact.update', resourceType: 'contact', resourceId: contactId, before: { status: 'a' }, after: { status: 'b' } }),
        event({ action: 'deal.update' }),
      ]);
      await audit(admin.tenantId, actorOf(otherActor, { actorType: 'api_key' }), [event({ action: 'deal.delete' })]);

      const actions = async (query: Record<string, unknown>) => {
        const res = await get(admin, '/audit-logs', query);
        expect(res.status).toBe(200);
        return (res.body.data as Entry[]).map((entry) => entry.action).sort();
      };
      expect(await actions({ action: 'deal.update' })).toEqual(['deal.update']);
      expect(await actions({ resourceType: 'contact' })).toEqual(['contact.update']);
      expect(await actions({ resourceId: contactId })).toEqual(['contact.update']);
      expect(await actions({ userId: otherActor })).toEqual(['deal.delete']);
      expect(await actions({ userId: admin.userId, resourceType: 'deal' })).toEqual(['deal.update']);
      const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
      const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
      expect(await actions({ from: hourAgo, to: inAnHour, resourceType: 'deal' })).toEqual(['deal.delete', 'deal.update']);
      expect(await actions({ from: inAnHour })).toEqual([]);
      expect(await actions({ to: hourAgo })).toEqual([]);
    });

    it('when the filters are bad, then 400 names each field', async () => {
      const admin = await register();
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ from: 'yesterday' }, 'from'],
        [{ to: '2026-13-45T00:00:00Z' }, 'to'],
        [{ from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'to'],
        [{ limit: 0 }, 'limit'],
        [{ limit: 501 }, 'limit'],
        [{ cursor: 'not-a-cursor' }, 'cursor'],
        [{ resourceId: 'not-a-uuid' }, 'resourceId'],
        [{ userId: '42' }, 'userId'],
        [{ sort: 'seq' }, 'sort'],
      ];
      for (const [query, field] of cases) {
        const res = await get(admin, '/audit-logs', query);
        expect({ query, status: res.status, code: res.body.error?.code }).toEqual({ query, status: 400, code: 'VALIDATION_ERROR' });
        expect(res.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field: `query.${field}` })]));
      }
    });

    it('when there is no token, then 401; when the caller lacks audit:read, then 403', async () => {
      expect((await request(t.app).get('/api/v1/audit-logs')).status).toBe(401);
      expect((await request(t.app).get('/api/v1/audit-logs/verify')).status).toBe(401);

      const fixture = await createTenantFixture(runtime, ['sales_user']);
      const sales = fixture.users.sales_user!;
      const signedIn = await login(t.app, { email: sales.email, password: sales.password });
      expect(signedIn.status).toBe(200);
      const auth = bearer(signedIn.body.data.tokens.accessToken as string);
      for (const path of ['/audit-logs', '/audit-logs/export', '/audit-logs/stats', '/audit-logs/verify']) {
        const res = await get({ auth }, path);
        expect({ path, status: res.status, code: res.body.error?.code }).toEqual({ path, status: 403, code: 'FORBIDDEN' });
      }
    });

    it("when another tenant reads, then it never sees this tenant's entries, even by naming the resource", async () => {
      const tenantA = await register();
      const tenantB = await register();
      const resourceId = randomUUID();
      await audit(tenantA.tenantId, actorOf(tenantA.userId), [event({ resourceId }), event({ resourceId })]);
      await audit(tenantB.tenantId, actorOf(tenantB.userId), [event()]);

      const listB = await get(tenantB, '/audit-logs');
      expect(listB.status).toBe(200);
      expect((listB.body.data as Entry[]).every((entry) => entry.resourceId !== resourceId)).toBe(true);
      expect((await get(tenantB, '/audit-logs', { resourceId })).body.data).toEqual([]);
      expect((await get(tenantB, '/audit-logs', { userId: tenantA.userId })).body.data).toEqual([]);
      const exported = await get(tenantB, '/audit-logs/export', { format: 'json' });
      expect(exported.text).not.toContain(resourceId);
      expect((await get(tenantB, '/audit-logs/stats')).body.data.byActor).not.toContainEqual(expect.objectContaining({ id: tenantA.userId }));
      expect((await get(tenantA, '/audit-logs', { resourceId })).body.data).toHaveLength(2);
    });
  });

  describe('personal data', () => {
    it('when an entry is about a person, then it is encrypted at rest, decrypted for readers and [erased] once the key is destroyed', async () => {
      const admin = await register();
      const contactId = randomUUID();
      const ticketId = randomUUID();
      const email = `jane.${randomUUID().slice(0, 8)}@example.com`;
      await audit(admin.tenantId, actorOf(admin.userId), [
        event({
          action: 'contact.create',
          resourceType: 'contact',
          resourceId: contactId,
          before: null,
          after: { firstName: 'Jane', lastName: 'Doe', email, phone: '+1 555 0100', status: 'active' },
          subject: email,
        }),
        event({
          action: 'ticket.update',
          resourceType: 'ticket',
          resourceId: ticketId,
          before: { subject: 'Printer on fire', priority: 'low' },
          after: { subject: 'Printer still on fire', priority: 'high' },
        }),
      ]);

      const stored = await asOwner(admin.tenantId, (trx) =>
        trx('audit_logs').where({ tenant_id: admin.tenantId }).orderBy('seq').select<{ changes: Record<string, { after: unknown }>; subject_key_ids: string[] }[]>('changes', 'subject_key_ids'),
      );
      const storedText = JSON.stringify(stored);
      // Ciphertext is base64url, which holds a bare short name such as Doe by chance (it did, once in a run of
      // ten suites): a name is looked for as a whole JSON value, the rest have characters base64url never has.
      for (const plaintext of [email, '"Jane"', '"Doe"', '+1 555 0100', 'Printer on fire', 'Printer still on fire']) {
        expect(storedText).not.toContain(plaintext);
      }
      expect(stored[0]!.changes.email!.after).toMatch(/^enc:v1:[0-9a-f-]{36}:[\w-]+:[\w-]+:[\w-]+$/);
      expect(stored[0]!.changes.status!.after).toBe('active');
      expect(stored[1]!.changes.priority!.after).toBe('high');
      expect(stored[0]!.subject_key_ids).toHaveLength(1);
      expect(stored[1]!.subject_key_ids).toHaveLength(1);
      expect(stored[1]!.subject_key_ids[0]).not.toBe(stored[0]!.subject_key_ids[0]);
      const keys = await asOwner(admin.tenantId, (trx) => trx('data_subject_keys').where({ tenant_id: admin.tenantId }).select('subject_hash'));
      expect(JSON.stringify(keys)).not.toContain(email);

      const contact = async () => (await get(admin, '/audit-logs', { resourceId: contactId })).body.data[0] as Entry;
      const ticket = async () => (await get(admin, '/audit-logs', { resourceId: ticketId })).body.data[0] as Entry;
      expect((await contact()).changes).toEqual({
        firstName: { before: null, after: 'Jane' },
        lastName: { before: null, after: 'Doe' },
        email: { before: null, after: email },
        phone: { before: null, after: '+1 555 0100' },
        status: { before: null, after: 'active' },
      });
      expect((await ticket()).changes).toEqual({
        subject: { before: 'Printer on fire', after: 'Printer still on fire' },
        priority: { before: 'low', after: 'high' },
      });

      // Erasure names the person however their email was typed.
      await inTenant(admin.tenantId, () => destroySubjectKey(` ${email.toUpperCase()} `));
      expect((await contact()).changes).toEqual({
        firstName: { before: null, after: '[erased]' },
        lastName: { before: null, after: '[erased]' },
        email: { before: null, after: '[erased]' },
        phone: { before: null, after: '[erased]' },
        status: { before: null, after: 'active' },
      });
      expect((await ticket()).changes).toMatchObject({ subject: { after: 'Printer still on fire' } });
      const exported = await get(admin, '/audit-logs/export', { format: 'csv', resourceId: contactId });
      expect(exported.text).not.toContain(email);
      expect(exported.text).toContain('[erased]');

      // What is audited about an erased person later is not readable either, and nothing was edited.
      await audit(admin.tenantId, actorOf(admin.userId), [
        event({ action: 'contact.update', resourceType: 'contact', resourceId: contactId, before: { email }, after: { email: 'anon@invalid' }, subject: email }),
      ]);
      const later = (await get(admin, '/audit-logs', { action: 'contact.update', resourceId: contactId })).body.data[0] as Entry;
      expect(later.changes).toEqual({ email: { before: '[erased]', after: '[erased]' } });
      expect((await get(admin, '/audit-logs/verify')).body.data).toEqual(allSealed(3));
    });

    it('when a record is erased without an email, then its record-scoped key is destroyed', async () => {
      const admin = await register();
      const leadId = randomUUID();
      await audit(admin.tenantId, actorOf(admin.userId), [
        event({ action: 'lead.update', resourceType: 'lead', resourceId: leadId, before: { name: 'Old Name' }, after: { name: 'New Name' } }),
        event({ action: 'account.update', resourceType: 'account', before: { name: 'Acme' }, after: { name: 'Acme Ltd' } }),
      ]);
      await inTenant(admin.tenantId, () => destroySubjectKey(`lead:${leadId}`));
      const entries = (await get(admin, '/audit-logs')).body.data as Entry[];
      expect(entries.find((entry) => entry.action === 'lead.update')!.changes).toEqual({ name: { before: '[erased]', after: '[erased]' } });
      // An account's name is not about a person: stored as it is.
      expect(entries.find((entry) => entry.action === 'account.update')!.changes).toEqual({ name: { before: 'Acme', after: 'Acme Ltd' } });
    });

    it("when a person's key is known, then writing about them again reads no key; when it was destroyed elsewhere, then the next entry is stored [erased]", async () => {
      const admin = await register();
      const contactId = randomUUID();
      const email = `cached.${randomUUID().slice(0, 8)}@example.com`;
      const contactEvent = (after: Record<string, unknown>) =>
        event({ action: 'contact.update', resourceType: 'contact', resourceId: contactId, before: { phone: null }, after, subject: email });
      await audit(admin.tenantId, actorOf(admin.userId), [contactEvent({ phone: '+1 555 0101' })]);

      const statements: string[] = [];
      const listen = (query: { sql: string }) => statements.push(query.sql);
      runtime.on('query', listen);
      try {
        await audit(admin.tenantId, actorOf(admin.userId), [contactEvent({ phone: '+1 555 0102' })]);
      } finally {
        runtime.off('query', listen);
      }
      // Only the insert itself names the keys (to check they still exist).
      expect(statements.filter((sql) => sql.includes('data_subject_keys'))).toEqual([expect.stringMatching(/^insert into audit_logs/)]);

      // Another instance erases the person: this process's cache never heard of it.
      await asOwner(admin.tenantId, (trx) => trx('data_subject_keys').where({ tenant_id: admin.tenantId }).update({ key_material: null, destroyed_at: trx.fn.now() }));
      await audit(admin.tenantId, actorOf(admin.userId), [contactEvent({ phone: '+1 555 0103' })]);
      const stored = await asOwner(admin.tenantId, (trx) =>
        trx('audit_logs').where({ tenant_id: admin.tenantId, resource_id: contactId }).orderBy('append_id').pluck<Array<{ phone: { after: string } }>>('changes'),
      );
      expect(stored.map((changes) => changes.phone.after)).toEqual([expect.stringMatching(/^enc:v1:/), expect.stringMatching(/^enc:v1:/), '[erased]']);
      const listed = (await get(admin, '/audit-logs', { resourceId: contactId })).body.data as Entry[];
      expect(listed.map((entry) => entry.changes!.phone!.after)).toEqual(['[erased]', '[erased]', '[erased]']);
      expect((await get(admin, '/audit-logs/verify')).body.data).toEqual(allSealed(3));
    });

    it('when the transaction that created a key rolls back, then the next entry about that person is encrypted under a key that exists', async () => {
      const admin = await register();
      const email = `rolled.${randomUUID().slice(0, 8)}@example.com`;
      const contactId = randomUUID();
      const about = (phone: string) =>
        event({ action: 'contact.update', resourceType: 'contact', resourceId: contactId, before: { phone: null }, after: { phone }, subject: email });
      await expect(
        withTenant(runtime, admin.tenantId, () =>
          writeAuditNow(actorOf(admin.userId), [about('+1 555 0199')]).then(() => {
            throw new Error('the work failed after the entry was written');
          }),
        ),
      ).rejects.toThrow('the work failed');
      await audit(admin.tenantId, actorOf(admin.userId), [about('+1 555 0200')]);
      const listed = (await get(admin, '/audit-logs', { resourceId: contactId })).body.data as Entry[];
      expect(listed.map((entry) => entry.changes)).toEqual([{ phone: { before: null, after: '+1 555 0200' } }]);
    });

    it('when changes carry secrets, then they are never stored, at any depth', async () => {
      const admin = await register();
      const resourceId = randomUUID();
      await audit(admin.tenantId, actorOf(admin.userId), [
        event({
          action: 'user.update',
          resourceType: 'user',
          resourceId,
          before: { passwordHash: '$2a$10$old', roleId: 'r1', settings: { theme: 'dark' } },
          after: { passwordHash: '$2a$10$new', tokenHash: 'abc', inviteTokenHash: 'def', keyHash: 'ghi', clientSecret: 's', roleId: 'r2', settings: { theme: 'light', apiToken: 'tok' } },
        }),
      ]);
      const stored = await asOwner(admin.tenantId, (trx) => trx('audit_logs').where({ tenant_id: admin.tenantId, resource_id: resourceId }).first('changes'));
      expect(stored.changes).toEqual({ roleId: { before: 'r1', after: 'r2' }, settings: { before: { theme: 'dark' }, after: { theme: 'light' } } });
      expect(diffChanges({ a: 1, password: 'x', same: [1, { b: 2 }] }, { a: 2, password: 'y', same: [1, { b: 2 }] })).toEqual({ a: { before: 1, after: 2 } });
    });
  });

  describe('append-only and tamper-evident', () => {
    it('when the runtime role tries to update or delete entries, then the database refuses', async () => {
      const admin = await register();
      await audit(admin.tenantId, actorOf(admin.userId), [event()]);
      await expect(
        withTenant(runtime, admin.tenantId, (trx) => trx('auditLogs').where({ tenantId: admin.tenantId }).update({ action: 'x' })),
      ).rejects.toMatchObject({ code: '42501' });
      await expect(withTenant(runtime, admin.tenantId, (trx) => trx('auditLogs').where({ tenantId: admin.tenantId }).delete())).rejects.toMatchObject({
        code: '42501',
      });
      // Even the owner goes through the triggers.
      await expect(asOwner(admin.tenantId, (trx) => trx('audit_logs').where({ tenant_id: admin.tenantId }).update({ action: 'x' }))).rejects.toThrow(/append-only/);
      await expect(asOwner(admin.tenantId, (trx) => trx('audit_logs').where({ tenant_id: admin.tenantId }).delete())).rejects.toThrow(/append-only/);
      expect((await get(admin, '/audit-logs/verify')).body.data).toEqual(allSealed(1));
    });

    it('when the owner edits a row behind the triggers, then verify names that entry', async () => {
      const admin = await register();
      await audit(admin.tenantId, actorOf(admin.userId), Array.from({ length: 5 }, () => event()));
      expect((await get(admin, '/audit-logs/verify')).body.data).toEqual(allSealed(5));

      const tampered = await asOwner(admin.tenantId, async (trx) => {
        await trx.raw('ALTER TABLE audit_logs DISABLE TRIGGER USER');
        const [row] = await trx('audit_logs').where({ tenant_id: admin.tenantId, seq: 3 }).update({ action: 'deal.view' }).returning('id');
        await trx.raw('ALTER TABLE audit_logs ENABLE TRIGGER USER');
        return row as { id: string };
      });

      const res = await get(admin, '/audit-logs/verify');
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ valid: false, firstBrokenSeq: 3, firstBrokenId: tampered.id, reason: 'hash_mismatch', sealed: 5, pending: 0, oldestPendingAt: null });
    });

    it('when the newest entries are removed behind the triggers, then verify says entries are missing', async () => {
      const admin = await register();
      await audit(admin.tenantId, actorOf(admin.userId), Array.from({ length: 3 }, () => event()));
      await asOwner(admin.tenantId, async (trx) => {
        await trx.raw('ALTER TABLE audit_logs DISABLE TRIGGER USER');
        await trx('audit_logs').where({ tenant_id: admin.tenantId, seq: 3 }).delete();
        await trx.raw('ALTER TABLE audit_logs ENABLE TRIGGER USER');
      });
      expect((await get(admin, '/audit-logs/verify')).body.data).toEqual({
        valid: false,
        firstBrokenSeq: 3,
        firstBrokenId: null,
        reason: 'missing_entries',
        sealed: 2,
        pending: 0,
        oldestPendingAt: null,
      });
    });

    it('when ten writers flush at once in one tenant, then seqs are gapless, each writer keeps its order, and the chain verifies', async () => {
      const admin = await register();
      await Promise.all(
        Array.from({ length: 10 }, (_, writer) =>
          append(admin.tenantId, actorOf(admin.userId), [event({ action: `writer.${writer}`, after: { step: 1 } }), event({ action: `writer.${writer}`, after: { step: 2 } })]),
        ),
      );
      await sealTenantAudit(owner, admin.tenantId);
      expect(await storedSeqs(admin.tenantId)).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
      const entries = (await get(admin, '/audit-logs')).body.data as Entry[];
      for (let writer = 0; writer < 10; writer += 1) {
        const [second, first] = entries.filter((entry) => entry.action === `writer.${writer}`);
        expect([first!.changes!.step!.after, second!.changes!.step!.after]).toEqual([1, 2]);
        expect(first!.seq!).toBeLessThan(second!.seq!);
      }
      expect((await get(admin, '/audit-logs/verify')).body.data).toEqual(allSealed(20));
    });

    it('when a flow writes at once (writeAuditNow) or has nothing queued, then the same chain continues', async () => {
      const admin = await register();
      expect((await get(admin, '/audit-logs/verify')).body.data).toEqual(allSealed(0));
      await inTenant(admin.tenantId, () => writeAuditNow(actorOf(admin.userId), [event({ action: 'auth.login', resourceType: 'user', resourceId: admin.userId, before: null, after: null })]));
      await audit(admin.tenantId, actorOf(admin.userId), []);
      await audit(admin.tenantId, actorOf(admin.userId), [event()]);
      expect(await storedSeqs(admin.tenantId)).toEqual([1, 2]);
      const signIn = ((await get(admin, '/audit-logs', { action: 'auth.login' })).body.data as Entry[])[0]!;
      expect(signIn).toMatchObject({ seq: 1, changes: null, resourceId: admin.userId });
      expect((await get(admin, '/audit-logs/verify')).body.data).toEqual(allSealed(2));
    });

    it('when the sealer stalls on a tenant, then its writers still commit at once and verify counts their entries as pending', async () => {
      const admin = await register();
      await audit(admin.tenantId, actorOf(admin.userId), [event({ action: 'before.stall' })]);
      const appendedAt = Date.now();
      await whileSealingStalls(owner, admin.tenantId, async () => {
        // A writer that needed the chain head would wait here until the test timed out.
        await Promise.all(Array.from({ length: 10 }, (_, writer) => append(admin.tenantId, actorOf(admin.userId), [event({ action: `stalled.${writer}` })])));
        const listed = (await get(admin, '/audit-logs')).body.data as Entry[];
        expect(listed).toHaveLength(11);
        expect(listed.slice(0, 10).every((entry) => entry.seq === null && entry.hash === null && entry.action.startsWith('stalled.'))).toBe(true);
        expect(listed[10]).toMatchObject({ action: 'before.stall', seq: 1, hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
        const verify = (await get(admin, '/audit-logs/verify')).body.data;
        expect(verify).toEqual({ valid: true, sealed: 1, pending: 10, oldestPendingAt: expect.any(String) });
        expect(Math.abs(Date.parse(verify.oldestPendingAt) - appendedAt)).toBeLessThan(60_000);
        // Pending entries are read like sealed ones: filters, paging and export see them.
        expect((await get(admin, '/audit-logs', { action: 'stalled.3' })).body.data).toHaveLength(1);
        const page = await get(admin, '/audit-logs', { limit: 6 });
        const rest = await get(admin, '/audit-logs', { limit: 6, cursor: page.body.pagination.nextCursor });
        expect([...page.body.data, ...rest.body.data].map((entry: Entry) => entry.id)).toEqual(listed.map((entry) => entry.id));
        expect(JSON.parse((await get(admin, '/audit-logs/export', { format: 'json' })).text)).toHaveLength(11);
      });
      expect(await sealTenantAudit(owner, admin.tenantId)).toBe(10);
      expect(await storedSeqs(admin.tenantId)).toEqual(Array.from({ length: 11 }, (_, index) => index + 1));
      expect((await get(admin, '/audit-logs/verify')).body.data).toEqual(allSealed(11));
    });

    it('when an earlier append commits after a later one was sealed, then it is sealed next and the chain verifies', async () => {
      const admin = await register();
      let appended!: () => void;
      let commitLate!: () => void;
      const firstAppended = new Promise<void>((resolve) => (appended = resolve));
      const late = withTenant(runtime, admin.tenantId, () =>
        writeAuditNow(actorOf(admin.userId), [event({ action: 'appended.first' })]).then(async () => {
          appended();
          await new Promise<void>((resolve) => (commitLate = resolve));
        }),
      );
      await firstAppended;
      await append(admin.tenantId, actorOf(admin.userId), [event({ action: 'appended.second' })]);
      expect(await sealTenantAudit(owner, admin.tenantId)).toBe(1);
      commitLate();
      await late;
      expect(await sealTenantAudit(owner, admin.tenantId)).toBe(1);
      const listed = (await get(admin, '/audit-logs')).body.data as Entry[];
      // Listed in append order, sealed in the order the sealer found them committed.
      expect(listed.map((entry) => [entry.action, entry.seq])).toEqual([
        ['appended.second', 1],
        ['appended.first', 2],
      ]);
      expect((await get(admin, '/audit-logs/verify')).body.data).toEqual(allSealed(2));
    });

    it('when anyone but the sealer writes seq or hash, or the sealer touches anything else, then the database refuses', async () => {
      const admin = await register();
      await append(admin.tenantId, actorOf(admin.userId), [event(), event()]);
      const [pendingId, otherId] = await asOwner(admin.tenantId, (trx) => trx('audit_logs').where({ tenant_id: admin.tenantId }).orderBy('append_id').pluck('id'));
      const seal = (id: string, values: Record<string, unknown>) =>
        asOwner(admin.tenantId, (trx) => trx('audit_logs').where({ tenant_id: admin.tenantId, id }).update(values));
      // The runtime role may not seal at all, nor move a chain head.
      await expect(withTenant(runtime, admin.tenantId, (trx) => trx('auditChainHeads').insert({ tenantId: admin.tenantId }))).rejects.toMatchObject({ code: '42501' });
      await expect(withTenant(runtime, admin.tenantId, (trx) => trx('auditLogs').where({ id: pendingId }).update({ seq: 1, hash: 'h' }))).rejects.toMatchObject({ code: '42501' });
      // Entries are born unsealed, whoever inserts them: the runtime role may not even name the seal columns.
      await expect(
        withTenant(runtime, admin.tenantId, (trx) => trx('auditLogs').insert({ tenantId: admin.tenantId, actorType: 'user', action: 'forged', seq: 99, hash: 'h' })),
      ).rejects.toMatchObject({ code: '42501' });
      await expect(
        asOwner(admin.tenantId, (trx) => trx('audit_logs').insert({ tenant_id: admin.tenantId, actor_type: 'user', action: 'forged', seq: 99, hash: 'h' })),
      ).rejects.toThrow(/appended unsealed/);
      // Sealing may not change what the entry says, nor leave it half sealed.
      await expect(seal(pendingId!, { seq: 1, hash: 'h', action: 'rewritten' })).rejects.toThrow(/append-only/);
      await expect(seal(pendingId!, { seq: 1 })).rejects.toThrow(/append-only/);
      await expect(seal(pendingId!, { prev_hash: 'p' })).rejects.toThrow(/append-only/);
      // Once sealed, never again.
      await seal(pendingId!, { seq: 1, hash: 'h' });
      await expect(seal(pendingId!, { seq: 2, hash: 'other' })).rejects.toThrow(/append-only/);
      await expect(seal(pendingId!, { hash: 'other' })).rejects.toThrow(/append-only/);
      // A seal the chain head never vouched for is not in the chain: verify counts both entries as pending.
      expect(otherId).toBeDefined();
      expect((await get(admin, '/audit-logs/verify')).body.data).toEqual({ valid: true, sealed: 0, pending: 2, oldestPendingAt: expect.any(String) });
      // The forged seal stays out of the worker's database, which later files share: a real sealer there would
      // meet seq 1 taken and log the failure on every sweep, as it should for a forgery.
      await asOwner(admin.tenantId, async (trx) => {
        await trx.raw("select set_config('app.audit_prune', 'on', true)");
        await trx('audit_logs').where({ tenant_id: admin.tenantId }).delete();
      });
    });

    it('when client addresses come in other spellings (IPv6, mapped IPv4, none), then entries keep verifying', async () => {
      const admin = await register();
      for (const ip of ['2001:DB8:0:0::1', '::ffff:127.0.0.1', '', 'not-an-ip', null]) {
        // snake_case keys in changes too: the sealer and verify read them back the same way.
        await audit(admin.tenantId, actorOf(admin.userId, { ip }), [event({ action: `ip.${String(ip)}`, after: { custom_field: { inner_key: ip } } })]);
      }
      const ips = ((await get(admin, '/audit-logs')).body.data as Entry[]).map((entry) => entry.ip);
      expect(ips).toEqual([null, null, null, '::ffff:127.0.0.1', '2001:db8::1']);
      expect((await get(admin, '/audit-logs/verify')).body.data).toEqual(allSealed(5));
    });
  });

  describe('GET /audit-logs/export', () => {
    const tricky = () => [
      event({ action: '=HYPERLINK("http://evil.example")', resourceType: 'doc', before: { stage: 'a' }, after: { stage: 'he said "hi", then\nleft' } }),
      event({ action: '+SUM(A1)', resourceType: 'doc' }),
      event({ action: 'doc.update', resourceType: 'doc', before: { note: 'x' }, after: { note: '-1' } }),
      event({ action: 'elsewhere', resourceType: 'other' }),
    ];

    it('when exported as CSV, then the filtered entries come oldest first, quoted, with formulas defused', async () => {
      const admin = await register();
      await audit(admin.tenantId, actorOf(admin.userId, { userAgent: '@attacker' }), tricky());
      const res = await get(admin, '/audit-logs/export', { format: 'csv', resourceType: 'doc' });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      expect(res.headers['content-disposition']).toMatch(/^attachment; filename="?audit-logs-\d{4}-\d{2}-\d{2}\.csv"?$/);
      const rows = parseCsv(res.text, { columns: true }) as Array<Record<string, string>>;
      expect(rows.map((row) => row.action)).toEqual(["'=HYPERLINK(\"http://evil.example\")", "'+SUM(A1)", 'doc.update']);
      expect(rows.map((row) => Number(row.seq))).toEqual([1, 2, 3]);
      expect(rows[0]!.userAgent).toBe("'@attacker");
      expect(JSON.parse(rows[0]!.changes!)).toEqual({ stage: { before: 'a', after: 'he said "hi", then\nleft' } });
      expect(Object.keys(rows[0]!)).toEqual([
        'id',
        'seq',
        'occurredAt',
        'actorType',
        'actorId',
        'impersonatorId',
        'action',
        'resourceType',
        'resourceId',
        'changes',
        'ip',
        'userAgent',
        'requestId',
        'result',
        'errorCode',
        'hash',
      ]);
      expect(rows[0]).toMatchObject({ actorType: 'user', actorId: admin.userId, impersonatorId: '', ip: '203.0.113.7', result: 'success' });
    });

    it('when exported as JSON, then it is one array of the filtered entries, as the list shows them', async () => {
      const admin = await register();
      await audit(admin.tenantId, actorOf(admin.userId), tricky());
      const res = await get(admin, '/audit-logs/export', { format: 'json', resourceType: 'doc' });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const exported = JSON.parse(res.text) as Entry[];
      const listed = (await get(admin, '/audit-logs', { resourceType: 'doc' })).body.data as Entry[];
      expect(exported).toEqual([...listed].reverse());
      expect(exported[0]!.action).toBe('=HYPERLINK("http://evil.example")');

      const none = await get(admin, '/audit-logs/export', { format: 'json', resourceType: 'nothing' });
      expect(JSON.parse(none.text)).toEqual([]);
    });

    it('when the format is unknown, then 400; when the plan lacks audit export, then 402', async () => {
      const admin = await register();
      const res = await get(admin, '/audit-logs/export', { format: 'xml' });
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([expect.objectContaining({ field: 'query.format' })]);

      const free = await registerTenant(t.app, { plan: 'free' });
      const gated = await get(free, '/audit-logs/export', { format: 'csv' });
      expect(gated.status).toBe(402);
      expect(gated.body.error.code).toBe('PLAN_FEATURE_UNAVAILABLE');
    });
  });

  describe('GET /audit-logs/stats', () => {
    it('when asked, then it counts by action, by actor and by day over the last 30 days or the given range', async () => {
      const admin = await register();
      const apiKeyId = randomUUID();
      await audit(admin.tenantId, actorOf(admin.userId), [event({ action: 'deal.update' }), event({ action: 'deal.update' }), event({ action: 'deal.delete' })]);
      await audit(admin.tenantId, actorOf(apiKeyId, { actorType: 'api_key' }), [event({ action: 'deal.update' })]);

      const res = await get(admin, '/audit-logs/stats');
      expect(res.status).toBe(200);
      const stats = res.body.data;
      expect(Date.parse(stats.to) - Date.parse(stats.from)).toBe(30 * 86_400_000);
      expect(stats.total).toBe(4);
      expect(stats.byAction).toEqual([
        { action: 'deal.update', count: 3 },
        { action: 'deal.delete', count: 1 },
      ]);
      expect(stats.byActor).toEqual([
        { type: 'user', id: admin.userId, count: 3 },
        { type: 'api_key', id: apiKeyId, count: 1 },
      ]);
      const days = ((await get(admin, '/audit-logs')).body.data as Entry[]).map((entry) => entry.occurredAt.slice(0, 10));
      expect(stats.byDay).toEqual([...new Set(days)].sort().map((day) => ({ day, count: days.filter((other) => other === day).length })));

      const past = await get(admin, '/audit-logs/stats', { from: '2020-01-01T00:00:00Z', to: '2020-02-01T00:00:00Z' });
      expect(past.body.data).toMatchObject({ total: 0, byAction: [], byActor: [], byDay: [] });
      expect((await get(admin, '/audit-logs/stats', { from: 'soon' })).status).toBe(400);
      expect((await get(admin, '/audit-logs/stats', { action: 'deal.update' })).status).toBe(400);
    });
  });
});

describe('audit trail of real requests', () => {
  let t: TestApp;
  let account: Registered;
  beforeAll(async () => {
    t = buildTestApp();
    account = await registerTenant(t.app);
  });
  afterAll(() => t.close());

  const entries = async (query: string) => (await request(t.app).get(`/api/v1/audit-logs?${query}`).set(account.auth)).body.data;

  it('when a record is created, updated and deleted over HTTP, then each write is in the trail with actor, diff and request id', async () => {
    const created = await request(t.app).post('/api/v1/leads').set(account.auth).set('X-Request-Id', 'trail-create').send({ lastName: 'Trail', email: 'trail@example.com' });
    const id = created.body.data.id;
    await request(t.app).patch(`/api/v1/leads/${id}`).set(account.auth).send({ score: 7 });
    await request(t.app).delete(`/api/v1/leads/${id}`).set(account.auth);
    const trail = await entries(`resourceId=${id}`);
    expect(trail.map((entry: { action: string }) => entry.action)).toEqual(['lead.delete', 'lead.update', 'lead.create']);
    expect(trail[2]).toMatchObject({ actor: { type: 'user', id: account.userId }, requestId: 'trail-create', result: 'success' });
    expect(trail[1].changes).toEqual({ score: { before: null, after: 7 } });
    expect(trail[2].changes.email).toEqual({ before: null, after: 'trail@example.com' });
    const verify = await request(t.app).get('/api/v1/audit-logs/verify').set(account.auth);
    expect(verify.body.data.valid).toBe(true);
  });

  it('when a write is refused, then the failure is audited with its error code and nothing else is', async () => {
    const res = await request(t.app).post('/api/v1/leads').set(account.auth).send({ lastName: 'X', ownerId: randomUUID() });
    expect(res.status).toBe(400);
    const [failure] = await entries('action=request.failed');
    expect(failure).toMatchObject({ result: 'failure', errorCode: 'VALIDATION_ERROR', resourceType: 'lead' });
  });

  it('when someone signs in, fails to, and signs out, then each is in the trail', async () => {
    await login(t.app, { email: account.email, password: 'Wrong-Passw0rd' });
    const session = (await login(t.app, { email: account.email, password: account.password })).body.data.tokens;
    await request(t.app).post('/api/v1/auth/logout').set(bearer(session.accessToken));
    const actions = (await entries('limit=20')).map((entry: { action: string }) => entry.action);
    expect(actions).toEqual(expect.arrayContaining(['auth.login_failed', 'auth.login', 'auth.logout', 'tenant.register']));
  });
});
