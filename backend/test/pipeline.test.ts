import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Knex } from 'knex';
import request from 'supertest';
import { addMember, Member, registerTenant, Registered } from './support/api-fixtures';
import { buildTestApp, ownerKnex, TestApp } from './support/test-app';

const ROOT = join(__dirname, '..', '..');

/** `[number, name]` of each stage, as the header of pipeline.ts lists them. */
function stagesInCode(): Array<[string, string]> {
  const source = readFileSync(join(ROOT, 'backend/src/pipeline/pipeline.ts'), 'utf8');
  return [...source.matchAll(/^ \* {1,2}(\d+) (\S+(?: \S+)*?) {2,}/gm)].map((match) => [match[1]!, match[2]!]);
}

/** `[number, name]` of each numbered row of the pipeline table in docs/ARCHITECTURE.md. */
function stagesInDocs(): Array<[string, string]> {
  const doc = readFileSync(join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');
  const table = doc.slice(doc.indexOf('## The pipeline'), doc.indexOf('### Routes are declared once'));
  return [...table.matchAll(/^\| (\d+) \| ([^|]+?) \|/gm)].map((match) => [match[1]!, match[2]!]);
}

describe('the request pipeline', () => {
  let t: TestApp;
  let owner: Knex;
  let admin: Registered;
  let readOnly: Member;
  const api = () => request(t.app);

  beforeAll(async () => {
    t = buildTestApp();
    owner = ownerKnex();
    admin = await registerTenant(t.app);
    readOnly = await addMember(t.app, admin, 'read_only');
  });
  afterAll(async () => {
    await owner.destroy();
    await t.close();
  });

  /** The trail's request.failed entries of one actor, newest first. */
  const failures = async (userId: string) =>
    (await api().get(`/api/v1/audit-logs?action=request.failed&userId=${userId}&limit=100`).set(admin.auth)).body.data as Array<{
      resourceType: string;
      errorCode: string;
      resourceId: string | null;
    }>;

  it('when the stages are listed in the code, then docs/ARCHITECTURE.md shows the same ones in the same order', () => {
    const code = stagesInCode();
    expect(code.map(([number]) => Number(number))).toEqual(Array.from({ length: 17 }, (_, index) => index + 1));
    expect(stagesInDocs()).toEqual(code);
  });

  describe('a caller learns it may not call a route before it learns how its input is shaped', () => {
    it('when a caller without credentials sends forbidden keys, markup or an invalid body, then 401, not 400', async () => {
      for (const body of [{ lastName: 'X', $where: '1' }, { lastName: '<script>x</script>' }, {}, { lastName: 'X', unknown: true }]) {
        const res = await api().post('/api/v1/leads').send(body);
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('UNAUTHORIZED');
      }
      // A query string too: sanitize runs after authentication.
      expect((await api().get('/api/v1/leads?constructor=1')).status).toBe(401);
    });

    it('when the JSON itself is malformed, then 400 INVALID_JSON even without credentials: the body is read (stage 4) before them', async () => {
      const res = await api().post('/api/v1/leads').set('Content-Type', 'application/json').send('{"lastName":');
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_JSON');
    });

    it('when a caller lacks the permission, then 403 whatever its body holds, and nothing is audited as a failed write', async () => {
      for (const body of [{ lastName: 'X', $where: '1' }, {}, { lastName: 'Fine' }]) {
        const res = await api().post('/api/v1/leads').set(readOnly.auth).send(body);
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      }
      expect(await failures(readOnly.id)).toEqual([]);
    });

    it('when the plan lacks the route feature, then 402 before the input is judged', async () => {
      const free = await registerTenant(t.app, { plan: 'free' });
      const res = await api().post('/api/v1/leads/import/bulk?mode=bogus').set(free.auth).send([{ lastName: 'X' }]);
      expect(res.status).toBe(402);
      expect(res.body.error.code).toBe('PLAN_FEATURE_UNAVAILABLE');
    });

    it('when the organization awaits deletion, then a write answers 409 TENANT_PENDING_DELETION before its input is judged', async () => {
      const leaving = await registerTenant(t.app);
      await owner('tenants')
        .where({ id: leaving.tenantId })
        .update({ deletion_requested_at: owner.fn.now(), deletion_scheduled_for: owner.raw("now() + interval '30 days'") });
      const res = await api().post('/api/v1/leads').set(leaving.auth).send({ $where: '1' });
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('TENANT_PENDING_DELETION');
    });

    it('when the caller has spent its plan budget, then 429 before the input is judged', async () => {
      const free = await registerTenant(t.app, { plan: 'free' });
      for (let spent = 0; spent < 100; spent += 1) expect((await api().get('/api/v1/rate-limit').set(free.auth)).status).toBe(200);
      const res = await api().post('/api/v1/leads').set(free.auth).send({ $where: '1' });
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe('RATE_LIMITED');
    }, 120_000);
  });

  describe('failed writes of an admitted caller', () => {
    /** A refused write and an accepted one of the same route family, and the resource type both must carry. */
    const pairs: Array<{ name: string; fail: () => request.Test; succeed: () => request.Test; resourceType: string }> = [
      {
        name: 'POST /leads',
        fail: () => api().post('/api/v1/leads').set(admin.auth).send({ lastName: 'X', email: 'not-an-email' }),
        succeed: () => api().post('/api/v1/leads').set(admin.auth).send({ lastName: 'Audited' }),
        resourceType: 'lead',
      },
      {
        name: 'POST /deals',
        fail: () => api().post('/api/v1/deals').set(admin.auth).send({ name: 'Ghost', accountId: '00000000-0000-4000-8000-000000000000' }),
        succeed: () => api().post('/api/v1/deals').set(admin.auth).send({ name: 'Real deal' }),
        resourceType: 'deal',
      },
      {
        name: 'POST /contacts/import/bulk',
        fail: () => api().post('/api/v1/contacts/import/bulk').set(admin.auth).send([{ lastName: 'X', email: 'not-an-email' }]),
        succeed: () => api().post('/api/v1/contacts/import/bulk').set(admin.auth).send([{ lastName: 'Imported' }]),
        resourceType: 'import',
      },
      {
        name: 'POST /roles',
        fail: () => api().post('/api/v1/roles').set(admin.auth).send({ name: 'Nope', permissions: ['leads:fly'] }),
        succeed: () => api().post('/api/v1/roles').set(admin.auth).send({ name: 'Auditors', permissions: ['leads:read'] }),
        resourceType: 'role',
      },
      {
        name: 'PATCH /organization/settings',
        fail: () => api().patch('/api/v1/organization/settings').set(admin.auth).send({ allowImpersonation: 'sometimes' }),
        succeed: () => api().patch('/api/v1/organization/settings').set(admin.auth).send({ allowImpersonation: false }),
        resourceType: 'organization',
      },
    ];

    it.each(pairs.map((pair) => [pair.name, pair]))(
      'when %s is refused, then request.failed names the resource its successes name',
      async (_name, { fail, succeed, resourceType }) => {
        const refused = await fail();
        expect(refused.status).toBe(400);
        const accepted = await succeed();
        expect(accepted.status).toBeLessThan(300);
        const [failure] = await failures(admin.userId);
        const [success] = (await api().get(`/api/v1/audit-logs?resourceType=${resourceType}&limit=1`).set(admin.auth)).body.data;
        expect(failure).toMatchObject({ resourceType, errorCode: 'VALIDATION_ERROR' });
        expect(success).toMatchObject({ resourceType, result: 'success' });
      },
    );

    it('when the failed write names a record, then the failure names it too', async () => {
      const lead = (await api().post('/api/v1/leads').set(admin.auth).send({ lastName: 'Target' })).body.data;
      expect((await api().patch(`/api/v1/leads/${lead.id}`).set(admin.auth).send({ status: 'imaginary' })).status).toBe(400);
      expect((await failures(admin.userId))[0]).toMatchObject({ resourceType: 'lead', resourceId: lead.id });
    });
  });
});
